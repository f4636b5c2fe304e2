"""``leakbench compare [BASELINE] [RESULTS]``: gate HEAD results against a baseline.

Exit codes are the contract CI relies on: 0 within budget (inconclusive times
only warn), 1 on a regression, 2 on bad input. Every bad input (missing or
corrupt file, newer schema, unknown scenario, baseline of another environment,
bad budget) is one line naming the file and what to do, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from leakbench._util.signals import test_pause
from leakbench.cli.errors import BadInputError, load_base, load_budgets, load_head
from leakbench.cli.options import (
    config_option,
    format_option,
    render,
    scenario_option,
    verbose_option,
)
from leakbench.gate.scenarios import UnknownScenarioError
from leakbench.gate.verdicts import budgets
from leakbench.gate.verdicts.rules import EnvironmentKeyError, compare


@click.command(name="compare")
@click.argument("baseline", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.argument("results", required=False, type=click.Path(dir_okay=False, path_type=Path))
@format_option
@scenario_option
@config_option
@click.option(
    "--allow-other-environment",
    is_flag=True,
    help="Compare with a baseline of another environment key (time is then not comparable).",
)
@click.option(
    "--results",
    "results_option",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The results to judge, against the stored baseline (e.g. a merged bench.json): "
    "the same as RESULTS, without naming the baseline first.",
)
@verbose_option
def command(
    baseline: Path | None,
    results: Path | None,
    results_option: Path | None,
    fmt: str,
    scenarios: tuple[str, ...],
    config: Path | None,
    allow_other_environment: bool,
    verbose: bool,
) -> None:
    """Compare RESULTS (default: the latest run) with BASELINE (default: the stored
    baseline for the results' environment). Exit 0 within budget, 1 on a regression,
    2 on bad input. One positional file is the BASELINE: to judge a results file against the
    stored baseline, pass it as ``--results``."""
    if results_option is not None:
        if results is not None:
            raise BadInputError(
                f"--results {results_option} and RESULTS {results}: give the results once"
            )
        results = results_option
    budget_config = load_budgets(config)
    head, head_path = load_head(results)
    base, base_path = load_base(baseline, head.environment.key)
    test_pause("compare-loaded")
    try:
        comparison = compare(
            base,
            head,
            budget_config,
            base_label=str(base_path),
            head_label=str(head_path),
            scenarios=scenarios,
            allow_other_environment=allow_other_environment,
        )
    except EnvironmentKeyError as exc:
        raise BadInputError(
            f"{base_path}: baseline is for environment {base.environment.key}, but "
            f"{head_path} was measured in {head.environment.key}; pass "
            f"baselines/{head.environment.key}.json, create it with `leakbench baseline save`, "
            "or use --allow-other-environment"
        ) from exc
    except budgets.BudgetError as exc:  # a marker budget stored in the results
        raise BadInputError(f"{head_path}: {exc}; fix the test's leakbench marker") from exc
    except UnknownScenarioError as exc:
        raise BadInputError(
            f"{head_path}: {exc.args[0]}; pick a name from the list or drop --scenario"
        ) from exc
    render(comparison, fmt, verbose)
    raise SystemExit(comparison.exit_code)
