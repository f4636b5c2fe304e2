"""The one way a name (a scenario, a test node id, a results key) becomes a file name.

Names come from documents and test ids: ``../../../../tmp/x``, ``/tmp/x``,
``tests/test_a.py::test_b[1/2]``, a name with a NUL or a lone surrogate. Joined to a folder
as they are, they write outside it, fail (a ``/`` names a folder that does not exist), or
collide (``a/b`` and ``a_b`` made the same slug). :func:`safe_file_name` gives every name a
file name that stays one path component inside its folder, on every file system we run on:

- a name that is already a plain file name (``[A-Za-z0-9._-]``, not starting with a dot, at
  most :data:`PREFIX_CHARS` long: every suite scenario, ``threads.leaky``) stays as it is, so
  ``.leakbench/captures/threads.leaky.bin`` reads as before;
- any other name becomes a readable prefix (its characters from ``[A-Za-z0-9._-]``, every run
  of others one ``_``, at most :data:`PREFIX_CHARS` long, leading dots dropped: never ``.``,
  ``..`` or hidden), ``-`` and the first :data:`HASH_CHARS` hex digits of the sha256 of the
  full name (UTF-8, a lone surrogate kept as ``surrogatepass``), so two names never share a
  file even when their prefixes are equal (``a/b`` and ``a_b``);
- then the suffix.

The encoding is not reversible on purpose: whoever needs the name keeps it (the results
document keys captures by name and stores the path).
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["HASH_CHARS", "PREFIX_CHARS", "safe_file_name"]

PREFIX_CHARS = 80
"""Readable characters kept from the name: file names stay far below the usual 255 bytes."""
HASH_CHARS = 12
"""48 bits of the name's sha256: no two names of one project collide in practice."""

_OTHERS = re.compile(r"[^A-Za-z0-9._-]+")
_PLAIN = re.compile(rf"[A-Za-z0-9_-][A-Za-z0-9._-]{{0,{PREFIX_CHARS - 1}}}")


def safe_file_name(name: str, suffix: str = "") -> str:
    """``name`` as one file name: itself if plain, else readable prefix, ``-``, short hash;
    then ``suffix`` (``.bin``, ``.html``: the caller's, itself safe)."""
    if _PLAIN.fullmatch(name):
        return name + suffix
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    prefix = _OTHERS.sub("_", name).lstrip(".")[:PREFIX_CHARS] or "_"
    return f"{prefix}-{digest}{suffix}"
