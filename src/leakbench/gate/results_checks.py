"""The rules of a results document's values: numbers finite and in range, names printable.

``leakbench.gate.results`` builds its dataclasses with these checks, so that a stored document
can never hold a value that a later ``compare`` or ``report`` chokes on: ``NaN`` and
``Infinity`` (Python's ``json`` reads them, and ``int(nan)`` then fails deep in a verdict),
an integer too large for a float (``10**400``: ``OverflowError``), a negative byte count
(``-5 B``, ``-100%``), a scenario name with a lone surrogate (``UnicodeEncodeError`` when the
report is written) or a line break (a broken Markdown table), an environment key that is a
path (``..``, ``a/b``: the baseline file's name). Every failure is a
:class:`~leakbench._util.jsonfields.FieldError` naming the dotted path of the value, which the
loader turns into one line naming the file (the CLI: exit 2).

:func:`decode_json` is the JSON text reader of every leakbench document: a document nested
100,000 deep (``RecursionError``) or an integer of more than 4,300 digits (``ValueError``
from Python's digit limit) is one :class:`JsonTextError`, not a traceback.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from leakbench._util.jsonfields import NUMBER, FieldError, get_field, optional
from leakbench.gate.verdicts.budgets import BudgetConfig, BudgetError

__all__ = [
    "MAX_COUNT",
    "OLDER_MEMORY_FIELDS",
    "JsonTextError",
    "check_key",
    "check_name",
    "count",
    "decode_json",
    "environment_fields",
    "finite",
    "finite_list",
    "finite_or_null",
    "instructions_fields",
    "memory_fields",
    "object_at",
    "optional_count",
    "scenario_fields",
    "shown",
    "time_fields",
]

MAX_COUNT = 2**63 - 1
"""The largest count or byte figure a document may hold (what any real run fits in)."""

_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
"""An environment key: one file name (``baselines/<key>.json``), never ``.``/``..``/hidden."""


class JsonTextError(ValueError):
    """The text is not a JSON document leakbench reads; ``problem`` is one line."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def decode_json(text: str) -> Any:
    """``json.loads(text)``, every way it can fail one :class:`JsonTextError`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonTextError(
            f"not valid JSON (line {exc.lineno}: {exc.msg}; truncated or edited?)"
        ) from None
    except RecursionError:
        raise JsonTextError("not a document leakbench reads (nested too deeply)") from None
    except ValueError as exc:  # Python's limit on the digits of an integer (4,300)
        raise JsonTextError(f"not a document leakbench reads ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(":;,") if text else type(exc).__name__


def count(obj: Mapping[str, Any], key: str, where: str, minimum: int = 0) -> int:
    """An integer field in ``[minimum, MAX_COUNT]`` (byte counts and counts: minimum 0;
    iterations: minimum 1)."""
    value: int = get_field(obj, key, int, where)
    return _in_range(value, f"{where}.{key}", minimum)


def optional_count(
    obj: Mapping[str, Any], key: str, where: str, default: int | None, minimum: int = 0
) -> int | None:
    """:func:`count` of a field that may be absent (``default``) or null (None)."""
    value = optional(obj, key, (int, type(None)), where, default)
    return None if value is None else _in_range(value, f"{where}.{key}", minimum)


def _in_range(value: int, where: str, minimum: int) -> int:
    if value < minimum:
        raise FieldError(where, f"expected an integer >= {minimum}, got {value}")
    if value > MAX_COUNT:
        raise FieldError(where, f"expected an integer below 2**63, got one of {_digits(value)}")
    return value


def _digits(value: int) -> str:
    return f"{len(str(abs(value)))} digits"


def finite(obj: Mapping[str, Any], key: str, where: str, minimum: float | None = None) -> float:
    """A number field as a finite float (not NaN or infinite, not an integer too large for
    a float), at least ``minimum`` when given."""
    return _finite(get_field(obj, key, NUMBER, where), f"{where}.{key}", minimum)


def finite_or_null(
    obj: Mapping[str, Any], key: str, where: str, minimum: float | None = None
) -> float | None:
    """:func:`finite`, or None for null."""
    value = get_field(obj, key, (*NUMBER, type(None)), where)
    return None if value is None else _finite(value, f"{where}.{key}", minimum)


def finite_list(
    obj: Mapping[str, Any], key: str, where: str, minimum: float | None = None
) -> list[float]:
    """A list of numbers, each :func:`finite` (and at least ``minimum``)."""
    values = get_field(obj, key, list, where)
    out: list[float] = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, NUMBER):
            raise FieldError(f"{where}.{key}[{i}]", "expected a number")
        out.append(_finite(value, f"{where}.{key}[{i}]", minimum))
    return out


def _finite(value: int | float, where: str, minimum: float | None) -> float:
    try:
        number = float(value)
    except OverflowError:
        raise FieldError(
            where, f"expected a finite number, got an integer of {_digits(int(value))}"
        ) from None
    if not math.isfinite(number):
        raise FieldError(where, f"expected a finite number, got {value!r}")
    if minimum is not None and number < minimum:
        raise FieldError(where, f"expected a number >= {minimum:g}, got {value!r}")
    return number


def check_name(name: object, where: str, what: str = "a name") -> str:
    """A scenario name, leak class or variant: non-empty printable text (no line break,
    control character or lone surrogate), so every report can show it on one line."""
    if not isinstance(name, str) or not name:
        raise FieldError(where, f"{what} must be a non-empty string")
    if not name.isprintable():  # a surrogate is category Cs, never printable
        raise FieldError(where, f"names must be printable text, got {shown(name)}")
    return name


def _label(variant: str, where: str) -> str:
    """A scenario's label: ``""`` (an unlabelled scenario, ``leakbench.Scenario.variant``) or
    a printable name (``leaky``, ``clean``, ``test`` for a test the fixture measured)."""
    return check_name(variant, where, "a variant") if variant else ""


def shown(text: str, limit: int = 60) -> str:
    """``text`` safe for a one-line message: itself when printable, else its ``ascii()``
    spelling (``'a\\ud800'``), cut at ``limit`` characters."""
    out = text if text.isprintable() else ascii(text)
    return out if len(out) <= limit else out[:limit] + "..."


def check_key(key: str, where: str) -> str:
    """An environment key usable as one file name: ``[A-Za-z0-9._-]``, not starting with a
    dot (so never ``..`` and never a path)."""
    if not _KEY.match(key):
        raise FieldError(
            where, f"environment key {key!r} is not a file name ([A-Za-z0-9._-], no leading dot)"
        )
    return key


# ------------------------------------------------- one object's fields, checked and normalised
# Each returns the keyword arguments of its ``leakbench.gate.results`` dataclass.


def object_at(doc: object, where: str) -> Mapping[str, Any]:
    """``doc`` if it is a JSON object, else a :class:`FieldError` at ``where``."""
    if not isinstance(doc, dict):
        raise FieldError(where, "expected an object")
    return doc


def environment_fields(env: Mapping[str, Any]) -> dict[str, Any]:
    """The ``environment`` object: strings, ``cpu_count >= 1``, a key that is a file name."""
    w = "environment"
    texts = ("python_version", "implementation", "platform", "machine", "cpu_model")
    fields: dict[str, Any] = {k: get_field(env, k, str, w) for k in texts}
    fields["cpu_count"] = count(env, "cpu_count", w, minimum=1)
    for k in ("lock_hash", "memray_mode", "git_commit"):
        fields[k] = get_field(env, k, str, w)
    fields["git_dirty"] = get_field(env, "git_dirty", bool, w)
    fields["key"] = check_key(get_field(env, "key", str, w), f"{w}.key")
    return fields


def scenario_fields(name: object, value: object, where: str) -> dict[str, Any]:
    """One ``scenarios.<name>`` entry: printable name, leak class and variant, a marker
    budget checked as ``compare`` and ``report`` will read it; the passes' objects (or None)
    are returned raw under ``memory``, ``time`` and ``instructions``."""
    check_name(name, where, "a scenario name")
    s = object_at(value, where)
    budget = optional(s, "budget", (dict, type(None)), where, None)
    if budget is not None:
        try:
            BudgetConfig().for_scenario(str(name), budget)
        except BudgetError as exc:
            raise FieldError(f"{where}.budget", shown(str(exc), 200)) from None
    leak_class = check_name(get_field(s, "leak_class", str, where), f"{where}.leak_class")
    return {
        "leak_class": leak_class,
        "variant": _label(get_field(s, "variant", str, where), f"{where}.variant"),
        "leaks_memory": get_field(s, "leaks_memory", bool, where),
        "budget": budget,
        "memory": get_field(s, "memory", (dict, type(None)), where),
        "time": get_field(s, "time", (dict, type(None)), where),
        "instructions": get_field(s, "instructions", (dict, type(None)), where),
    }


OLDER_MEMORY_FIELDS: dict[str, Any] = {"series": [], "top_sites": [], "capture": None}
"""Memory fields that files of early version 1 lack. Absent reads as "not recorded" in every
command alike (``Results.unrecorded`` names them, so a report can say why a chart is missing)."""


def memory_fields(m: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``memory`` object: counts >= 0 (iterations >= 1), a finite slope, series points
    of two counts; ``top_sites`` as a list of plain dicts."""
    series: list[tuple[int, int]] = []
    for i, point in enumerate(optional(m, "series", list, where, [])):
        w = f"{where}.series[{i}]"
        if not isinstance(point, list) or len(point) != 2:
            raise FieldError(w, "expected [iterations, bytes] integers")
        pair = {"iterations": point[0], "bytes": point[1]}
        try:
            series.append((count(pair, "iterations", w), count(pair, "bytes", w)))
        except FieldError as exc:
            raise FieldError(w, f"expected [iterations, bytes] integers >= 0 ({exc})") from None
    sites: list[dict[str, Any]] = []
    for i, value in enumerate(optional(m, "top_sites", list, where, [])):
        w = f"{where}.top_sites[{i}]"
        site = object_at(value, w)
        location = get_field(site, "location", str, w)
        sites.append({"location": location, "bytes": count(site, "bytes", w),
                      "count": count(site, "count", w)})  # fmt: skip
    return {
        "iterations": count(m, "iterations", where, minimum=1),
        "warmup_iterations": count(m, "warmup_iterations", where),
        "peak_bytes": count(m, "peak_bytes", where),
        "total_allocated_bytes": count(m, "total_allocated_bytes", where),
        "allocations": count(m, "allocations", where),
        "retained_bytes": count(m, "retained_bytes", where),
        "retained_per_iteration": finite(m, "retained_per_iteration", where),
        "series": series,
        "top_sites": sites,
        "capture": optional(m, "capture", (str, type(None)), where, None),
    }


def time_fields(t: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``time`` object: seconds and ratios finite and >= 0, as many of each, counts >= 1.
    Fields added within version 1 are optional, so early files still load."""
    rounds = finite_list(t, "rounds", where, minimum=0)
    reference = finite_list(t, "reference_rounds", where, minimum=0)
    ratios = finite_list(t, "ratios", where, minimum=0)
    if not (len(rounds) == len(reference) == len(ratios)):
        raise FieldError(where, "rounds, reference_rounds and ratios differ in length")
    stats = ("median", "mean", "min", "stddev", "reference_median", "ratio_median")
    fields: dict[str, Any] = {"rounds": rounds, "reference_rounds": reference, "ratios": ratios}
    fields |= {k: finite(t, k, where, minimum=0) for k in stats}
    fields["unit"] = get_field(t, "unit", str, where)
    fields["iterations_per_round"] = count(t, "iterations_per_round", where, minimum=1)
    for key in ("reference_units_per_round", "reference_version"):
        fields[key] = count(t, key, where, minimum=1) if key in t else 1
    fields["process_rounds"] = _process_rounds(t, len(rounds), where)
    fields["cpu"] = optional_count(t, "cpu", where, None)
    return fields


def _process_rounds(t: Mapping[str, Any], total: int, where: str) -> list[int]:
    """Optional (added within version 1); must add up to the number of rounds."""
    counts = optional(t, "process_rounds", list, where, [])
    for i, c in enumerate(counts):
        if isinstance(c, bool) or not isinstance(c, int) or not 0 < c <= MAX_COUNT:
            raise FieldError(f"{where}.process_rounds[{i}]", "expected positive integers")
    if counts and sum(counts) != total:
        raise FieldError(f"{where}.process_rounds", f"adds up to {sum(counts)}, not {total}")
    return list(counts)


def instructions_fields(i: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The ``instructions`` object: a finite figure >= 0 or null with a reason, counts."""
    per_iteration = finite_or_null(i, "per_iteration", where, minimum=0)
    reason = get_field(i, "reason", str, where)
    if per_iteration is None and not reason:
        raise FieldError(f"{where}.reason", "an absent figure needs a reason")
    total = get_field(i, "total", (int, type(None)), where)
    return {
        "per_iteration": per_iteration,
        "iterations": count(i, "iterations", where, minimum=1),
        "warmup_iterations": count(i, "warmup_iterations", where),
        "total": None if total is None else count(i, "total", where),
        "tool": get_field(i, "tool", str, where),
        "tool_version": get_field(i, "tool_version", str, where),
        "seconds": finite(i, "seconds", where, minimum=0),
        "reason": reason,
    }
