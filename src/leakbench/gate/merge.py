"""Combining results documents: a run into the stored baseline, and shards into one run.

Two jobs, one rule: every scenario keeps its own provenance (``ScenarioResult.provenance``:
when, at which commit, on which machine), so a document built from several runs still says
where each number came from.

- :func:`into_baseline` (``leakbench baseline save``): the scenarios just measured replace
  their old entries, every other scenario of the baseline is kept, and the :class:`Changes`
  say which were added, replaced and kept. A subset or ``--memory-only`` run therefore never
  wipes the rest of a baseline.
- :func:`merge_runs` (``leakbench merge``): the documents of ``bench --shard K/N`` jobs (or any
  runs of one commit in one environment) into one. A scenario in two inputs must be identical;
  inputs of different environments (another commit, Python, lock file or environment key) are
  refused. CPU model and count may differ (CI machines of one pool do): each scenario keeps its
  own, and the merged document's CPU model lists them all, so wall time is only compared
  where it can be.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from leakbench.gate.results import Environment, Provenance, Results, ScenarioResult, Selection

__all__ = ["MERGE_FIELDS", "Changes", "MergeError", "into_baseline", "merge_runs"]

MERGE_FIELDS: tuple[str, ...] = (
    "key",
    "python_version",
    "implementation",
    "platform",
    "machine",
    "memray_mode",
    "lock_hash",
    "git_commit",
)
"""Environment fields every merged input must share: the same code, dependencies and Python."""


class MergeError(ValueError):
    """Documents that cannot be merged; the message is one line naming the files."""


@dataclass(frozen=True)
class Changes:
    """What :func:`into_baseline` did, by scenario name (each sorted)."""

    added: tuple[str, ...]
    replaced: tuple[str, ...]
    kept: tuple[str, ...]
    dropped_passes: tuple[str, ...] = ()
    """``name: pass`` for a replaced scenario whose new run lacks a pass the old one had."""


def _own(results: Results) -> dict[str, ScenarioResult]:
    """``results``' scenarios, each with its provenance written out."""
    return {
        name: replace(s, provenance=results.provenance_of(name))
        for name, s in results.scenarios.items()
    }


def into_baseline(old: Results | None, new: Results) -> tuple[Results, Changes]:
    """``new``'s scenarios merged into the baseline ``old`` (None: there is none yet). The
    document's ``created`` and ``environment`` become ``new``'s; every scenario carries its
    own provenance. Raises :class:`MergeError` when ``new`` has no scenario."""
    if not new.scenarios:
        raise MergeError("holds 0 scenarios")
    fresh = _own(new)
    previous = _own(old) if old is not None else {}
    dropped = [
        f"{name}: {part}"
        for name in sorted(fresh.keys() & previous.keys())
        for part in ("memory", "instructions", "time")
        if getattr(previous[name], part) is not None and getattr(fresh[name], part) is None
    ]
    merged = {**previous, **fresh}
    changes = Changes(
        added=tuple(sorted(fresh.keys() - previous.keys())),
        replaced=tuple(sorted(fresh.keys() & previous.keys())),
        kept=tuple(sorted(previous.keys() - fresh.keys())),
        dropped_passes=tuple(dropped),
    )
    selection = None
    if new.selection is not None:
        known = set(new.selection.available) | set(merged)
        selection = Selection(suites=new.selection.suites, available=sorted(known))
    document = Results(
        created=new.created,
        environment=new.environment,
        scenarios=dict(sorted(merged.items())),
        selection=selection,
    )
    return _implied(document), changes


def merge_runs(inputs: Sequence[tuple[Path, Results]]) -> Results:
    """One document of every scenario of ``inputs`` (``(path, results)``, at least one).

    Raises :class:`MergeError` when the environments differ in a :data:`MERGE_FIELDS` field,
    or a scenario appears twice with different numbers."""
    if not inputs:
        raise MergeError("nothing to merge")
    first_path, first = inputs[0]
    for path, other in inputs[1:]:
        for name in MERGE_FIELDS:
            mine, theirs = getattr(first.environment, name), getattr(other.environment, name)
            if mine != theirs:
                raise MergeError(
                    f"{path}: environment {name} {theirs or '(none)'} is not {first_path}'s "
                    f"{mine or '(none)'}; merge only runs of one commit in one environment"
                )
    scenarios: dict[str, ScenarioResult] = {}
    origin: dict[str, Path] = {}
    for path, results in inputs:
        for name, scenario in _own(results).items():
            if name in scenarios:
                if _numbers(scenarios[name]) != _numbers(scenario):
                    raise MergeError(
                        f"{path}: scenario {name!r} is also in {origin[name]} with other "
                        "numbers; measure each scenario in one shard only (bench --shard K/N)"
                    )
                continue
            scenarios[name], origin[name] = scenario, path
    return _implied(
        Results(
            created=min(r.created for _, r in inputs),
            environment=_merged_environment([r.environment for _, r in inputs]),
            scenarios=dict(sorted(scenarios.items())),
            selection=_merged_selection(inputs),
        )
    )


def _implied(results: Results) -> Results:
    """``results`` with each provenance that equals the document's left out (null): a
    document of one run stays as ``bench`` wrote it."""
    own = Provenance(results.created, results.environment)
    return replace(
        results,
        scenarios={
            name: s if s.provenance != own else replace(s, provenance=None)
            for name, s in results.scenarios.items()
        },
    )


def _numbers(s: ScenarioResult) -> ScenarioResult:
    """A scenario without its provenance: the same numbers from two files are identical."""
    return replace(s, provenance=None)


def _merged_environment(envs: Sequence[Environment]) -> Environment:
    models = sorted({e.cpu_model for e in envs})
    counts = {e.cpu_count for e in envs}
    return replace(
        envs[0],
        cpu_model=" | ".join(models),
        cpu_count=min(counts),
        git_dirty=any(e.git_dirty for e in envs),
    )


def _merged_selection(inputs: Sequence[tuple[Path, Results]]) -> Selection | None:
    """The union of the inputs' selections: one suites package, one shard count N (else the
    merged document has none, and a comparison treats it like an older document)."""
    selections = [r.selection for _, r in inputs]
    if any(s is None for s in selections):
        return None
    chosen = [s for s in selections if s is not None]
    if len({s.suites for s in chosen}) > 1 or len({s.shard_count for s in chosen}) > 1:
        raise MergeError(
            f"{inputs[-1][0]}: measured another --suites package or --shard N than "
            f"{inputs[0][0]}; merge the shards of one `leakbench bench` matrix"
        )
    requested = (
        []
        if any(not s.requested for s in chosen)
        else sorted({n for s in chosen for n in s.requested})
    )
    return Selection(
        suites=chosen[0].suites,
        available=sorted({n for s in chosen for n in s.available}),
        requested=requested,
        shards=sorted({k for s in chosen for k in s.shards}),
        shard_count=chosen[0].shard_count,
    )
