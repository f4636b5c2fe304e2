"""Whether leakbench may write a file at a path the user gave: the one rule for every option.

A mistyped command (``leakbench bench --out tests/test_x.py``, ``pytest --leaks-json
pyproject.toml``) must not destroy a test file or another tool's file, so every option that
writes at a user-given path asks :func:`refusal` first, before any measuring or test: the
path may be written when that destroys nothing leakbench did not write (it is missing,
empty, or a file leakbench wrote, recognised by its content), and is otherwise refused in
one line naming the option and the file. Callers turn the line into their own usage error
(the plugin's ``pytest.UsageError``, the command line's exit 2).

How a file is recognised as leakbench's is an :class:`Owned`: JSON documents by their
``schema`` value (:func:`json_document`), HTML pages by a marker near their top
(:data:`REPORT_PAGE`, whose :data:`GENERATOR_META` the report's page shell writes;
:data:`FLAME_GRAPH`, memray's page the report has memray write beside it). Files under
leakbench's own folders (``.leakbench/``, ``baselines/``) are not asked about: they are its
store, written under names it chooses.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "FLAME_GRAPH",
    "GENERATOR_META",
    "REPORT_PAGE",
    "Owned",
    "json_document",
    "refusal",
]

GENERATOR_META = '<meta name="generator" content="leakbench">'
"""The marker in the head of every HTML report leakbench writes (``reports/html/template``)."""

HEAD_BYTES = 4096
"""How much of an HTML file is read for its marker: the markers sit in the first lines."""


@dataclass(frozen=True)
class Owned:
    """What an option writes: how such a file is recognised, and how the refusal names it."""

    what: str
    """The kind in the refusal: ``a leakbench-results document``."""
    schemas: frozenset[str] = frozenset()
    """A JSON object whose ``schema`` is one of these is leakbench's."""
    markers: tuple[bytes, ...] = ()
    """A file whose first :data:`HEAD_BYTES` hold one of these is leakbench's."""
    example: str = "out.json"
    """The file name suggested inside a folder given by mistake."""


def json_document(*schemas: str) -> Owned:
    """A JSON document of one of ``schemas`` (``a leakbench-results document``)."""
    return Owned(f"a {' or '.join(schemas)} document", schemas=frozenset(schemas))


REPORT_PAGE = Owned(
    "an HTML report leakbench wrote",
    # Pages written before the generator marker: the shell's own <html> attributes.
    markers=(GENERATOR_META.encode(), b'<html lang="en" data-errors="">'),
    example="index.html",
)
"""``leakbench report --html``'s page."""

FLAME_GRAPH = Owned(
    "a memray flame graph", markers=(b"<title>memray - ",), example="flamegraph.html"
)
"""A flame graph the report has ``memray flamegraph`` write beside it."""


def refusal(path: Path, owned: Owned, source: str, shown_as: str) -> str | None:
    """None when writing ``path`` destroys nothing leakbench did not write: it does not
    exist, is empty, or is ``owned``'s kind. Otherwise the one-line reason, naming the
    option (``source``) and the file (``shown_as``, as the user wrote it): a path that
    cannot be a file, a folder, something that is not a regular file, foreign content."""
    where = f"{source}: {shown_as}"
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # a file as a folder, a NUL byte, a name too long
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"{where}: cannot be written ({reason}); name another file"
    if stat.S_ISDIR(info.st_mode):
        return f"{where} is a folder; name a file, such as {shown_as}/{owned.example}"
    if not stat.S_ISREG(info.st_mode):
        return f"{where} is not a regular file; name another file"
    if info.st_size == 0 or _is_owned(path, owned):
        return None
    return (
        f"{where} exists and is not {owned.what}; leakbench will not overwrite it: "
        "name another file, or delete this one first"
    )


def _is_owned(path: Path, owned: Owned) -> bool:
    """Whether ``path``'s content is ``owned``'s kind; an unreadable file is not."""
    try:
        with path.open("rb") as file:
            head = file.read(HEAD_BYTES)
            if any(marker in head for marker in owned.markers):
                return True
            if not owned.schemas or head.lstrip()[:1] != b"{":  # not JSON: no need to read on
                return False
            doc = json.loads(head + file.read())
    except (OSError, ValueError, RecursionError):  # unreadable, not UTF-8, not JSON
        return False
    schema = doc.get("schema") if isinstance(doc, dict) else None
    return isinstance(schema, str) and schema in owned.schemas
