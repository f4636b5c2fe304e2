"""``leakbench compare-branches BASE [HEAD]``: is this branch fatter or slower than BASE?

Memory is deterministic under memray, so each side gets the ordinary memory pass and
``leakbench.gate.verdicts.rules`` judges it with the usual budget and floor. Time is judged on
instructions per iteration (the instruction pass under Valgrind, one process per side), which
do not depend on the machine's load either. Each side also gets one native probe process
(``pair-time`` mode) whose wall time is shown and whose CPU share tells computing from
waiting: only scenarios whose time is mostly waiting (sleep, I/O, locks, child processes),
which instructions do not see, and scenarios without instruction counts (no Valgrind) are
timed side by side in interleaved ABBA process pairs (``leakbench.gate.verdicts.abba``) and
judged on a bootstrap interval, as before.

What BASE measured (memory, instructions, its probe) is cached under ``.leakbench/cache/``
(``leakbench.gate.cache``), keyed by BASE's whole tree, the engine, the environment and the
options, so comparing against the same BASE again measures only HEAD (and the ABBA pairs,
which need both sides at once). BASE memory is also reused from a stored results document
of exactly BASE's commit and environment.

Every process (listing a side's scenarios, a memory pass, an instruction pass, a probe, one
half of a pair) is the one measurement child, ``leakbench.gate.measure.child``, started with
that side's code first on the path (``leakbench.gate.git.side_pythonpath``, passed to each
child, never through ``os.environ``: instruction passes start from other threads). The
result is an ordinary :class:`~leakbench.gate.verdicts.records.Comparison`, so the reports
and exit codes are those of ``leakbench compare``: 0 within budget (inconclusive only warns), 1 on a
regression, 2 on bad input or a scenario that failed to run. Progress goes to stderr so that
``--format markdown >> $GITHUB_STEP_SUMMARY`` captures the report only.

This module is the command line only: the options, the two sides from git (a working-tree
HEAD is dirty by ``leakbench bench``'s rule), interrupts and git errors, the report and the
exit code. The passes are in :mod:`leakbench.cli.branch_passes`, their order and the
comparison built from them in :mod:`leakbench.cli.branch_comparison`.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from leakbench.cli.branch_comparison import compare_sides
from leakbench.cli.branch_passes import Options, say
from leakbench.cli.errors import BadInputError, Interrupted, load_budgets
from leakbench.cli.options import (
    config_option,
    format_option,
    render,
    scenario_option,
    verbose_option,
)
from leakbench.cli.params import POSITIVE_SECONDS, SUITES_HELP, suites_name
from leakbench.gate import git
from leakbench.gate.environment import fingerprint
from leakbench.gate.git import GitError, Side
from leakbench.gate.measure.child import DEFAULT_TIMEOUT
from leakbench.gate.measure.spawn import default_cpu
from leakbench.gate.verdicts.abba import (
    DEFAULT_MAX_PAIRS,
    DEFAULT_MAX_TIME,
    DEFAULT_PAIRS,
    STATISTICS,
)
from leakbench.gate.verdicts.bootstrap import SEED

__all__ = ["command", "working_tree_side"]


def working_tree_side(root: Path, suites: str) -> Side:
    """HEAD as the working tree, dirty by ``leakbench bench``'s rule (the fingerprint's):
    tracked files differ from HEAD, or the scenarios package holds files git does not track
    yet (a new scenario module is measured, yet is in no commit)."""
    return Side(
        "working tree", root, git.resolve(root, "HEAD"), fingerprint(root, suites).git_dirty
    )


@click.command(name="compare-branches")
@click.argument("base")
@click.argument("head", required=False)
@format_option
@scenario_option
@click.option(
    "--pairs",
    type=click.IntRange(1),
    default=DEFAULT_PAIRS,
    show_default=True,
    help="ABBA process pairs per waiting-dominated scenario before the first decision.",
)
@click.option(
    "--max-pairs",
    type=click.IntRange(1),
    default=DEFAULT_MAX_PAIRS,
    show_default=True,
    help="Never more pairs than this per scenario.",
)
@click.option(
    "--max-time",
    type=POSITIVE_SECONDS,
    default=DEFAULT_MAX_TIME,
    show_default=True,
    help="Seconds per scenario for adding pairs before calling it inconclusive.",
)
@click.option(
    "--seed",
    type=int,
    default=SEED,
    show_default=True,
    help="Bootstrap seed (fixed: the same ratios always give the same verdict).",
)
@click.option(
    "--iterations",
    type=click.IntRange(1),
    help="Tracked iterations per memory pass (default: each scenario's own).",
)
@click.option(
    "--instructions/--no-instructions",
    default=True,
    help="Judge time on instructions per iteration under Valgrind (default); "
    "--no-instructions times every scenario in ABBA pairs.",
)
@click.option(
    "--instruction-iterations",
    type=click.IntRange(1),
    help="Iterations per instruction pass (default: each scenario's own, else 20).",
)
@click.option(
    "--cache/--no-cache",
    default=True,
    help="Reuse what an earlier run measured of the same BASE (.leakbench/cache/; default).",
)
@click.option("--memory-only", is_flag=True, help="Skip the time passes.")
@click.option("--time-only", is_flag=True, help="Skip the memory passes.")
@click.option("--suites", default=None, callback=suites_name, help=SUITES_HELP)
@config_option
@click.option("--pin/--no-pin", default=True, help="Pin wall-time measurements to one CPU.")
@click.option(
    "--timeout",
    type=POSITIVE_SECONDS,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds before a measurement process is killed.",
)
@click.option(
    "--round-statistic",
    "statistic",
    type=click.Choice(sorted(STATISTICS)),
    default="p10",
    show_default=True,
    help="Per-process statistic of the round times (p10 resists a busy machine).",
)
@verbose_option
def command(
    base: str,
    head: str | None,
    fmt: str,
    scenarios: tuple[str, ...],
    pairs: int,
    max_pairs: int,
    max_time: float,
    seed: int,
    iterations: int | None,
    instructions: bool,
    instruction_iterations: int | None,
    cache: bool,
    memory_only: bool,
    time_only: bool,
    suites: str,
    config: Path | None,
    pin: bool,
    timeout: float,
    statistic: str,
    verbose: bool,
) -> None:
    """Compare HEAD (default: the working tree) with BASE (any git ref), each checked out
    as it is in git; the working tree and index are never touched. Exit 0 within budget,
    1 on a regression, 2 on bad input or a scenario that failed to run."""
    if memory_only and time_only:
        raise BadInputError("--memory-only and --time-only exclude each other")
    budget_config = load_budgets(config)
    git.quiet_git()
    log = git.WorktreeLog()
    try:
        with ExitStack() as stack:
            root = git.repo_root(Path.cwd())
            base_sha = git.resolve(root, base)
            if head is None:
                head_side = working_tree_side(root, suites)
            else:
                sha = git.resolve(root, head)
                head_side = Side(
                    head, stack.enter_context(git.temporary_worktree(root, sha, log)), sha
                )
            base_side = Side(
                base, stack.enter_context(git.temporary_worktree(root, base_sha, log)), base_sha
            )
            opts = Options(
                scenarios,
                suites,
                pairs,
                max_pairs,
                max_time,
                seed,
                iterations,
                memory_only,
                time_only,
                default_cpu() if pin else None,
                timeout,
                statistic,
                instructions=instructions,
                instruction_iterations=instruction_iterations,
                cache=cache,
                cache_root=root,
            )
            comparison, failed = compare_sides(base_side, head_side, budget_config, opts)
    except GitError as exc:
        raise BadInputError(str(exc)) from exc
    except KeyboardInterrupt:
        raise Interrupted(log.summary()) from None
    if log.left:
        say(log.summary())
    render(comparison, fmt, verbose)
    if failed:
        click.echo(f"leakbench: error: failed to run: {'; '.join(failed)}", err=True)
        raise SystemExit(2)
    raise SystemExit(comparison.exit_code)
