"""Process-wide state a test changed and did not put back (``globals``, opt-in).

A test that leaves ``os.environ``, ``sys.path``, the working directory, a logging
handler or a singleton's cache different from how it found them makes every later
test in the same process run in a world it did not ask for: the suite passes in
file order and fails under ``pytest-randomly`` or ``pytest -n 4``, where other
tests share the process. No resource detector sees it, because nothing is open.

The detector takes a cheap fingerprint of each watched value before the test and
compares it after teardown: shallow copies of containers (keys, and each value's
identity), bounded to ``MAX_ITEMS`` entries (above that, the length only), the
value itself for scalars, identity and attribute identities for other objects. It
never calls a watched object's ``__eq__`` or ``__repr__`` on a clean test.

Built-in watches: ``os.environ`` (without pytest's own ``PYTEST_CURRENT_TEST``),
``sys.path``, ``cwd``, ``logging`` (handlers of the root and every named logger,
without pytest's capture handlers and ``NullHandler``) and ``warnings`` (the filter
list, watched only when nothing restores it after each test: pytest's warnings
plugin and leakbench's ``warnings`` detector both do). ``sys.modules`` is not
watched: imports are caches by design. User watches are dotted names
(``pkg.mod.Class._cache``) resolved once (a name that does not import is a usage
error) and read again at every snapshot, so a replaced object is seen.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import reprlib
import sys
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from typing import Any

from leakbench.detectors.base import AllowFn, Detector, DetectorConfig
from leakbench.detectors.leak import Leak

__all__ = ["GlobalsDetector", "Watch", "builtin_watches", "resolve_dotted", "user_watch"]

MAX_ITEMS = 2000
"""Containers larger than this are compared by length only."""
SHOWN = 5
"""Keys or items named in a summary line."""
PYTEST_ENV = (b"PYTEST_CURRENT_TEST", "PYTEST_CURRENT_TEST")
CONSEQUENCE = (
    "(state leaking between tests: later tests in this process see the change, so results "
    "depend on test order and on how pytest -n shares tests between workers)"
)

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_SCALARS = (type(None), bool, int, float, complex, str, bytes)

Fingerprint = tuple[Any, ...]
"""("map", {key: token}), ("seq", (token, ...)), ("len", n), ("value", v), ("object", ...)."""


def resolve_dotted(name: str) -> Callable[[], object]:
    """A function reading ``name`` (``pkg.mod.Class.attr``) each time it is called.

    Imports the longest importable module prefix, then checks that the attribute
    path exists now. Raises ``ValueError`` naming what is missing.
    """
    parts = name.split(".")
    if not all(part.isidentifier() for part in parts):
        raise ValueError(f"{name!r} is not a dotted name such as pkg.module.Class.attribute")
    error: Exception | None = None
    for cut in range(len(parts), 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            error = error or exc
            continue
        rest = parts[cut:]
        target: object = module
        for i, attr in enumerate(rest):
            if not hasattr(target, attr):
                owner = ".".join(parts[: cut + i])
                raise ValueError(f"cannot resolve {name!r}: {owner} has no attribute {attr!r}")
            target = getattr(target, attr)
        return lambda: _follow(module, rest)
    raise ValueError(f"cannot resolve {name!r}: {error}")


def _follow(obj: object, attrs: list[str]) -> object:
    for attr in attrs:
        obj = getattr(obj, attr)
    return obj


def _token(value: object) -> object:
    """A scalar stands for itself; anything else by identity and type name."""
    if type(value) in _SCALARS:
        return value
    return ("<id>", id(value), type(value).__qualname__)


def fingerprint(value: object) -> Fingerprint:
    """A bounded, comparable picture of ``value``.

    It holds keys and scalars, and only the identity of any other value: a shallow
    copy holding the values could keep alive what the test dropped (and hide its
    ResourceWarning or keep its fd open until the check).
    """
    if type(value) in _SCALARS:
        return ("value", value)
    if isinstance(value, Mapping):
        if len(value) > MAX_ITEMS:
            return ("len", len(value))
        return ("map", {key: _token(val) for key, val in list(value.items())})
    if isinstance(value, Set):
        if len(value) > MAX_ITEMS:
            return ("len", len(value))
        return ("set", frozenset(_token(item) for item in list(value)))
    if isinstance(value, list | tuple | deque):
        items = list(value)
        if len(items) > MAX_ITEMS:
            return ("len", len(items))
        return ("seq", tuple(_token(item) for item in items))
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict) and len(attrs) <= MAX_ITEMS:
        return (
            "object",
            id(value),
            type(value).__qualname__,
            {k: _token(v) for k, v in attrs.items()},
        )
    return ("object", id(value), type(value).__qualname__, None)


def _environ() -> Fingerprint:
    data = getattr(os.environ, "_data", None)
    env = dict(data) if isinstance(data, dict) else dict(os.environ)
    for key in PYTEST_ENV:
        env.pop(key, None)
    return ("map", env)


def _cwd() -> Fingerprint:
    try:
        return ("value", os.getcwd())
    except OSError:  # the test removed the folder it was in
        return ("value", "<deleted folder>")


def _handlers() -> Fingerprint:
    """(logger name, handler description) -> how many such handlers, for every logger
    that has handlers.

    Handlers are compared by what they do, not by identity: ``logging.config.dictConfig``
    replaces every handler with an equivalent new object each time it runs (frameworks
    run it on every app or config creation), which changes nothing another test can see.
    A handler's description is its class, level, target (file, stream, address), formatter
    and filters. pytest's capture handlers come and go with each phase, and a
    ``NullHandler`` is what libraries add to their logger when first imported (which may
    happen inside a test) and does nothing: neither is a change that can reach another test.
    """
    loggers: list[tuple[str, logging.Logger]] = [("root", logging.getLogger())]
    loggers += [
        (name, lg)
        for name, lg in list(logging.Logger.manager.loggerDict.items())
        if isinstance(lg, logging.Logger) and lg.handlers
    ]
    found: dict[str, object] = {}
    for name, lg in loggers:
        for handler in list(lg.handlers):
            if (
                type(handler).__module__.startswith("_pytest")
                or type(handler) is logging.NullHandler
            ):
                continue
            key = f"{name}: {_describe_handler(handler)}"
            count = found.get(key, 0)
            found[key] = (count if isinstance(count, int) else 0) + 1
    return ("map", found)


def _describe_handler(handler: logging.Handler) -> str:
    """What a handler does: class, target, level, formatter and filters (not its identity)."""
    parts = [logging.getLevelName(handler.level)]
    target = getattr(handler, "baseFilename", None)
    if target is None:
        stream = getattr(handler, "stream", None)
        if stream is not None:
            target = getattr(stream, "name", None) or type(stream).__name__
    if target is None and hasattr(handler, "host"):
        target = f"{getattr(handler, 'host', '')}:{getattr(handler, 'port', '')}"
    formatter = handler.formatter
    if formatter is not None:
        fmt = getattr(formatter, "_fmt", None)
        parts.append(f"format={fmt!r}" if fmt else type(formatter).__name__)
    if handler.filters:
        parts.append("filters=" + ",".join(type(f).__name__ for f in handler.filters))
    where = f"{target}, " if target else ""
    return f"{type(handler).__name__}({where}{', '.join(parts)})"


def _filters() -> Fingerprint:
    return ("seq", tuple(str(f) for f in warnings.filters))


_SECRET = re.compile(r"token|secret|passw|key|credential|auth", re.IGNORECASE)


def _env_value(key: object) -> str:
    name = os.fsdecode(key)  # type: ignore[arg-type]
    if _SECRET.search(name):
        return "<hidden>"
    return _repr.repr(os.environ.get(name, ""))


@dataclass(frozen=True)
class Watch:
    """One watched value: how to fingerprint it and how to name its parts."""

    name: str
    read: Callable[[], Fingerprint]
    noun: str = "key"
    """What a mapping's entries are called in a report: variable, handler, key."""
    show: Callable[[object], str] = lambda key: ""
    """The current value of an entry, for the report (called only after a change)."""
    plain_keys: bool = False
    """Show keys as text (variable names) rather than as Python literals."""


def builtin_watches(warnings_filters: bool) -> list[Watch]:
    watches = [
        Watch("os.environ", _environ, "variable", _env_value, plain_keys=True),
        Watch("sys.path", lambda: ("seq", tuple(sys.path)), "entry"),
        Watch("cwd", _cwd),
        Watch("logging", _handlers, "handler", plain_keys=True),
    ]
    if warnings_filters:
        watches.append(Watch("warnings", _filters, "filter"))
    return watches


def user_watch(dotted: str) -> Watch:
    """A watch on a dotted name; ``ValueError`` when it does not resolve."""
    getter = resolve_dotted(dotted)

    def show(key: object) -> str:
        try:
            value = getter()
            if isinstance(value, Mapping):
                return _repr.repr(value[key])
            return _repr.repr(getattr(value, str(key)))
        except Exception:  # gone meanwhile, or a repr that raises
            return ""

    return Watch(dotted, lambda: fingerprint(getter()), "key", show)


class GlobalsDetector(Detector[dict[str, Fingerprint]]):
    name = "globals"
    description = "module state (os.environ, sys.path, cwd, logging, singletons) changed by a test"
    default_on = False
    restores_matter = True

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        watches = builtin_watches(config.watch_warnings_filters)
        watches += [user_watch(dotted) for dotted in config.globals_watch]
        self.watches = {watch.name: watch for watch in watches}

    def snapshot(self) -> dict[str, Fingerprint]:
        snap = {}
        for name, watch in self.watches.items():
            try:
                snap[name] = watch.read()
            except Exception:  # an attribute deleted meanwhile: compare as missing
                snap[name] = ("value", "<missing>")
        return snap

    def adopt(
        self,
        baseline: dict[str, Fingerprint],
        before: dict[str, Fingerprint],
        after: dict[str, Fingerprint],
    ) -> dict[str, Fingerprint]:
        """What a wider-scoped fixture set (or, at its teardown, undid) joins the baseline.

        For a mapping only the entries the fixture touched are replaced, so what the
        test itself changed before the fixture ran still counts.
        """
        merged = dict(baseline)
        for name, new in after.items():
            old = before.get(name)
            base = merged.get(name)
            if old is None or base is None or old == new:
                continue
            if base[0] == old[0] == new[0] == "map":
                entries = dict(base[1])
                for key in old[1].keys() - new[1].keys():
                    entries.pop(key, None)
                for key, value in new[1].items():
                    if key not in old[1] or old[1][key] != value:
                        entries[key] = value
                merged[name] = ("map", entries)
            else:
                merged[name] = new
        return merged

    def find(self, baseline: dict[str, Fingerprint], allowed: AllowFn) -> list[Leak]:
        leaks = []
        now = self.snapshot()
        for name, before in baseline.items():
            after = now.get(name)
            if after is None or after == before:
                continue
            summary, details = describe_change(self.watches[name], before, after)
            details.append(CONSEQUENCE)
            leak = Leak(kind=self.name, summary=summary, details=tuple(details), keys=(name,))
            if not allowed(leak):
                leaks.append(leak)
        return leaks


def describe_change(watch: Watch, before: Fingerprint, after: Fingerprint) -> tuple[str, list[str]]:
    """Summary line and detail lines for one watched value that changed."""
    kinds = (before[0], after[0])
    if kinds == ("map", "map"):
        return _map_change(watch, watch.noun, before[1], after[1])
    if (
        kinds == ("object", "object")
        and before[1] == after[1]
        and None not in (before[3], after[3])
    ):
        return _map_change(watch, "attribute", before[3], after[3])
    if kinds in (("seq", "seq"), ("set", "set")):
        return _seq_change(watch, tuple(before[1]), tuple(after[1]))
    if kinds == ("len", "len"):
        return f"{watch.name} changed: size {before[1]} -> {after[1]}", []
    return f"{watch.name} changed: {_show(before)} -> {_show(after)}", []


def _key(key: object, plain: bool = False) -> str:
    if plain and isinstance(key, bytes | str):
        return os.fsdecode(key)
    return _repr.repr(key)


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _listed(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (", ..." if len(items) > SHOWN else "")


def _map_change(
    watch: Watch, noun: str, old: dict[Any, object], new: dict[Any, object]
) -> tuple[str, list[str]]:
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    changed = [k for k in new if k in old and new[k] != old[k]]
    plain = watch.plain_keys
    parts = [
        f"{verb} {_plural(len(keys), noun)} ({_listed([_key(k, plain) for k in keys])})"
        for verb, keys in (("added", added), ("removed", removed), ("changed", changed))
        if keys
    ]
    details = []
    for sign, keys in (("+", added), ("~", changed)):
        for key in keys[:SHOWN]:
            value = watch.show(key)
            details.append(f"{sign} {_key(key, plain)}" + (f" = {value}" if value else ""))
    details += [f"- {_key(key, plain)}" for key in removed[:SHOWN]]
    return f"{watch.name} changed: {'; '.join(parts)}", details


def _seq_change(
    watch: Watch, old: tuple[object, ...], new: tuple[object, ...]
) -> tuple[str, list[str]]:
    remaining = list(old)
    added = []
    for item in new:
        if item in remaining:
            remaining.remove(item)
        else:
            added.append(item)
    parts = [
        f"{verb} {_plural(len(items), watch.noun)} ({_listed([_show_token(i) for i in items])})"
        for verb, items in (("added", added), ("removed", remaining))
        if items
    ]
    return f"{watch.name} changed: {'; '.join(parts) or 'same items, new order'}", []


def _show_token(token: object) -> str:
    if isinstance(token, tuple) and token[:1] == ("<id>",):
        return f"<{token[2]} object>"
    return _repr.repr(token)


def _show(fp: Fingerprint) -> str:
    if fp[0] == "value":
        return _repr.repr(fp[1])
    if fp[0] == "object":
        return f"<{fp[2]} object at {fp[1]:#x}>"
    if fp[0] == "len":
        return f"<{fp[1]} items>"
    return f"<{fp[0]}>"
