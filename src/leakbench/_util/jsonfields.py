"""Checks for fields of decoded JSON documents, with the dotted path of the culprit.

``leakbench.gate.results`` validates results files with these so that an error reads
``scenarios.x.memory.peak_bytes: expected an integer`` rather than a ``KeyError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NUMBER", "FieldError", "get_field", "kind_name", "numbers", "optional"]


class FieldError(Exception):
    """A field is missing or has the wrong type; ``where`` is its dotted path."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def get_field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]`` if it is of ``kind`` (a bool is not an int here), else :class:`FieldError`."""
    if key not in obj:
        raise FieldError(f"{where}.{key}", "missing")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise FieldError(f"{where}.{key}", f"expected {kind_name(kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise FieldError(f"{where}.{key}", f"expected {kind_name(kinds)}")
    return value


def optional(
    obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any
) -> Any:
    """Like :func:`get_field`, but ``default`` when the key is absent (fields added later)."""
    return get_field(obj, key, kind, where) if key in obj else default


def kind_name(kinds: tuple[type, ...]) -> str:
    """``an integer or null``: how an error message names the expected types."""
    names = {int: "an integer", float: "a number", str: "a string", bool: "a boolean"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


NUMBER = (int, float)


def numbers(obj: Mapping[str, Any], key: str, where: str) -> list[float]:
    """``obj[key]`` as a list of floats (each element an int or float, not a bool)."""
    values = get_field(obj, key, list, where)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, NUMBER):
            raise FieldError(f"{where}.{key}[{i}]", "expected a number")
    return [float(v) for v in values]
