"""Atomic writes: readers see the old file or the complete new one, never half.

Results, baselines, reports, worker documents and group files are all written this way, so
that Ctrl-C, ``kill`` or a full disk during a run never leaves a truncated or lost file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from leakbench._util.signals import deferred_signals, test_pause

__all__ = ["write_json_atomic", "write_text_atomic"]


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to ``path`` so that readers see the old file or the new one.

    The temp file lives in the same directory (``os.replace`` is atomic only within one
    filesystem), is fsynced before the rename, and the directory is fsynced after it, so a
    crash or Ctrl-C at any point leaves either the previous file or the complete new one,
    and no temp file behind.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp: str | None = None
    fh = None
    try:
        # Held signals: an interrupt between creating the temp file and knowing its name
        # would leave it behind (the cleanup below needs the name).
        with deferred_signals():
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
            fh = os.fdopen(fd, "w", encoding="utf-8")
        with fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        test_pause("atomic-write")
        # mkstemp creates 0600; results, baselines and reports are ordinary project files.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:  # KeyboardInterrupt, SystemExit and a full disk (OSError) too
        with deferred_signals():  # a second signal must not stop the cleanup
            if fh is not None:
                with contextlib.suppress(OSError):
                    fh.close()
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(p.parent)
    return p


def write_json_atomic(path: Path | str, data: object) -> Path:
    """Write ``data`` as indented JSON (ending in a newline) with :func:`write_text_atomic`."""
    return write_text_atomic(path, json.dumps(data, indent=1, sort_keys=False) + "\n")


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
