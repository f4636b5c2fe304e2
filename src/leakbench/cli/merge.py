"""``leakbench merge A.json B.json ... -o all.json``: one document from several CI machines.

A large suite or scenario set is split over a job matrix (``pytest --leaks --leaks-json
leaks-K.json`` on a share of the tests, ``leakbench bench --shard K/N``); the final job merges
the documents and gates or reports once. Both kinds are merged: the plugin's
``leakbench-tests`` documents (``leakbench.plugin.record.merge_documents``) and bench results
(``leakbench.gate.merge.merge_runs``). Every refusal is one line and exit 2: mixed kinds,
another schema version, results of another environment (commit, Python, lock file), a
scenario or test in two inputs with different numbers, an output file that leakbench did not
write (``leakbench._util.output_guard``, the rule of every writing option). The output is
written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from leakbench._util.atomic import write_json_atomic
from leakbench._util.output_guard import json_document
from leakbench.cli.errors import BadInputError, refuse_foreign
from leakbench.gate import results as results_doc
from leakbench.gate.merge import MergeError, merge_runs
from leakbench.gate.results import ResultsError, load_results, write_results
from leakbench.gate.results_checks import JsonTextError, decode_json
from leakbench.plugin import record
from leakbench.reports.cells import relative

KINDS = {results_doc.SCHEMA: "bench results", record.SCHEMA: "tests (--leaks-json)"}


@click.command(name="merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the merged document (refused if it holds anything else).",
)
def command(inputs: tuple[Path, ...], out: Path) -> None:
    """Merge INPUTS (all bench results, or all `pytest --leaks-json` documents) into OUT."""
    kinds = [_kind(path) for path in inputs]
    first_schema, first_version = kinds[0]
    for path, (schema, version) in zip(inputs, kinds, strict=True):
        if schema != first_schema:
            raise BadInputError(
                f"{path}: a {KINDS[schema]} document, but {inputs[0]} is {KINDS[first_schema]}; "
                "merge documents of one kind"
            )
        if version != first_version:
            raise BadInputError(
                f"{path}: {schema} schema_version {version}, but {inputs[0]} has "
                f"{first_version}; re-run the older job with this leakbench"
            )
    refuse_foreign(out, json_document(first_schema), "--out")
    try:
        if first_schema == results_doc.SCHEMA:
            what = _merge_results(inputs, out)
        else:
            what = _merge_tests(inputs, out)
    except OSError as exc:
        raise BadInputError(
            f"{out}: cannot write ({exc.strerror or exc}); name another file"
        ) from exc
    click.echo(f"merged {len(inputs)} documents into {relative(out)} ({what})")


def _kind(path: Path) -> tuple[str, int]:
    """The ``schema`` and ``schema_version`` of the JSON document at ``path``."""
    try:
        doc: Any = decode_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file; pass documents that jobs wrote") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read ({exc})") from None
    except JsonTextError as exc:
        raise BadInputError(f"{path}: not a JSON document ({exc.problem})") from None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema not in KINDS:
        raise BadInputError(
            f"{path}: not a leakbench document (expected {' or '.join(KINDS)}); pass the "
            "files `leakbench bench --out` or `pytest --leaks-json` wrote"
        )
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadInputError(f"{path}: bad schema_version {version!r}")
    return str(schema), version


def _merge_results(inputs: tuple[Path, ...], out: Path) -> str:
    try:
        loaded = [(path, load_results(path)) for path in inputs]
        merged = merge_runs(loaded)
    except (ResultsError, MergeError) as exc:
        raise BadInputError(str(exc)) from exc
    write_results(merged, out)
    shards = ""
    if merged.selection is not None and merged.selection.shard_count > 1:
        held = ",".join(str(k) for k in merged.selection.shards)
        shards = f", shards {held} of {merged.selection.shard_count}"
        if not merged.selection.complete:
            shards += " (incomplete)"
    return f"{len(merged.scenarios)} scenarios{shards}"


def _merge_tests(inputs: tuple[Path, ...], out: Path) -> str:
    try:
        docs = [(path, record.read_document(path)) for path in inputs]
        merged = record.merge_documents(docs)
    except record.TestsFileError as exc:
        raise BadInputError(str(exc)) from exc
    write_json_atomic(out, merged)
    leaking = sum(1 for rec in merged["tests"].values() if rec.get("leaks"))
    return f"{len(merged['tests'])} tests, {leaking} with leaks"
