"""Atomic JSON writes: readers see the old file or the complete new one, never half.

Results and baselines are written this way so that Ctrl-C, ``kill`` or a full disk during
``leakbench bench`` or ``leakbench baseline save`` never leaves a truncated or lost file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

__all__ = ["write_json_atomic"]


def write_json_atomic(path: Path | str, data: object) -> Path:
    """Write ``data`` as JSON to ``path`` so that readers see the old file or the new one.

    The temp file lives in the same directory (``os.replace`` is atomic only within one
    filesystem), is fsynced before the rename, and the directory is fsynced after it, so a
    crash or Ctrl-C at any point leaves either the previous file or the complete new one.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; results and baselines are ordinary project files.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(p.parent)
    return p


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_dir(directory: Path) -> None:
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
