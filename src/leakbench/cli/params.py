"""Option types and the one-line usage error shared by every subcommand.

:data:`POSITIVE_SECONDS` is the one "finite positive float" of the command line: click's
``float`` lets ``nan``, ``inf`` and negatives through (``--time-budget nan`` then failed after
the whole memory pass), so every float option takes this type and a bad value is refused
before anything runs, naming the option. :func:`one_line` turns click's three-line usage
block into the one ``leakbench: error:`` line every other bad input gets.
"""

from __future__ import annotations

import math
from typing import Any

import click

from leakbench.cli.errors import BadInputError
from leakbench.gate import suites_setting

__all__ = [
    "POSITIVE_SECONDS",
    "SUITES_EXPECTED",
    "SUITES_HELP",
    "FinitePositive",
    "Seconds",
    "one_line",
    "suites_name",
]


class FinitePositive(click.ParamType[float]):
    """A finite number above 0 (``nan``, ``inf``, ``0`` and negatives are usage errors)."""

    def __init__(self, name: str = "SECONDS") -> None:
        self.name = name

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float) and math.isfinite(value) and value > 0:
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"expected a number above 0 such as 2.5, got {value!r}", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"expected a finite number above 0 such as 2.5, got {value!r}", param, ctx)
        return number


POSITIVE_SECONDS = FinitePositive("SECONDS")


class Seconds(click.FloatRange):
    """A number of seconds in a range; ``nan`` and ``inf`` are refused (click's float
    range lets ``nan`` through every comparison)."""

    name = "SECONDS"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


SUITES_EXPECTED = "expected the dotted name of a package of scenario modules, such as suites"

SUITES_HELP = "Package holding scenario modules (default: [tool.leakbench] suites, else suites)."


def suites_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    """``--suites``: a dotted Python name (``../../etc``, ``""``, ``.suites`` are refused
    before anything runs; whether it imports is the command's check). Not given: the
    ``[tool.leakbench] suites`` key of the nearest ``pyproject.toml``, else ``suites``."""
    if value is None:
        try:
            return suites_setting.read_suites()[0]
        except suites_setting.SuitesSettingError as exc:
            raise BadInputError(str(exc)) from exc
    if not suites_setting.is_dotted(value):
        raise BadInputError(f"--suites {value!r}: {SUITES_EXPECTED} (a folder of the project)")
    return value


def one_line(exc: click.UsageError) -> str:
    """``Invalid value for '--x': ... (see leakbench bench --help)``: click's usage error as
    one line; integers are "an integer", not click's "a int"."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    message = message.replace("a valid integer range", "an integer in range")
    message = message.replace("a int ", "an integer ")
    path = exc.ctx.command_path if exc.ctx is not None else "leakbench"
    return f"{message} (see {path} --help)"
