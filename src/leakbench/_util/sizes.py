"""Memory sizes typed by people: ``2GB``, ``512MiB``, ``1048576``, ``75%``.

One parser for every command-line size (``leakbench workers --memory-budget``,
``--heavy-rss``), so the accepted forms and the error listing them cannot drift apart.
Decimal units are powers of 1000 and binary units powers of 1024, as everywhere else;
a bare ``G`` or ``M`` is refused rather than guessed, because tools disagree on whether
it means 10**9 or 2**30 and a silent 7% error in a memory budget is worse than a usage error.
"""

from __future__ import annotations

import math
import re

__all__ = ["ABSOLUTE_FORMS", "ACCEPTED_FORMS", "format_size", "parse_size"]

ABSOLUTE_FORMS = "a size such as 2GB, 512MiB, 1.5GiB, 100MB or 1048576 (bytes)"
ACCEPTED_FORMS = f"{ABSOLUTE_FORMS}, or a percentage such as 75% (of RAM)"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*$")
_NEGATIVE = re.compile(r"^\s*-\s*(\d|\.\d)")
"""``-5 B``, ``-100%``, ``-0.5GiB``: refused as negative, not merely as "not a size"."""
_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str, total: int | None = None) -> int:
    """Bytes from ``text``; a percentage is taken of ``total`` (e.g. the machine's RAM).

    Raises ``ValueError`` naming the accepted forms for anything else, for a negative size
    or percentage, for a percentage outside (0, 100], and for a percentage when no
    ``total`` is known.
    """
    shown = _shown(text)
    if _NEGATIVE.match(text):
        raise ValueError(f"{shown}: a size cannot be negative; expected {ACCEPTED_FORMS}")
    match = _SIZE.match(text)
    if match:
        value = float(match.group(1)) * _UNITS[(match.group(2) or "B").lower()]
        if not math.isfinite(value):
            raise ValueError(f"{shown}: too large to be a size; expected {ACCEPTED_FORMS}")
        return int(value)
    match = _PERCENT.match(text)
    if match:
        percent = float(match.group(1))
        if total is None:
            raise ValueError(f"{shown}: a percentage needs a total; give {ABSOLUTE_FORMS}")
        if not 0 < percent <= 100:
            raise ValueError(f"{shown}: a percentage must be above 0% and at most 100%")
        return int(total * percent / 100)
    raise ValueError(f"{shown} is not a size; expected {ACCEPTED_FORMS}")


def _shown(text: str, limit: int = 40) -> str:
    """``text`` quoted for a one-line error, shortened when it is long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}..."


def format_size(n: float | None) -> str:
    """``65536`` -> ``64 KiB``, ``1572864`` -> ``1.5 MiB``, ``None`` -> ``-``.

    Binary units (as ``free -h`` and memory floors are usually written); a whole number of
    units is shown without decimals, anything else with one. The one formatter for every
    size leakbench prints, so a budget, a guard error and a report always agree.
    """
    if n is None:
        return "-"
    sign = "-" if n < 0 else ""
    value = abs(float(n))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            text = f"{value:.0f}" if unit == "B" or value == int(value) else f"{value:.1f}"
            return f"{sign}{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
