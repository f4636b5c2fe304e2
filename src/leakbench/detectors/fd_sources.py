"""Where the fds detector reads this process's open descriptors, and how it tells cheaply
that they have not changed.

Three sources, the first one this system has:

- ``<PROC>/self/fd`` (Linux): every fd, each a link naming what it points to.
- ``/dev/fd`` as a folder of its own (macOS, the BSDs): every fd, by number only; what
  it is comes from psutil (``open_files``, ``net_connections``). Linux's ``/dev/fd`` is a
  link into ``/proc`` and is not a source of its own.
- psutil alone (Windows, or no ``/dev/fd``): the files and sockets psutil can name,
  by fd where it gives one, else by path or address. Pipes and other descriptors are
  not seen: the plugin says so once per run (``unavailable_note``).

``ChangeMark``: listing ``/proc/self/fd`` costs a directory read and a string per fd
on each call, twice per test. Since Linux 6.2 ``fstat`` of that folder gives the number
of open fds in ``st_size``, and a ``dup`` gives the lowest free fd number. A new fd
always takes the lowest free number, so a test that left any new fd open changed the
count or the lowest free number, unless it also closed an fd that was open before it
(the same blind spot as comparing fds by number). The mark also holds the audit hook's
counts of files and sockets opened and processes spawned (``activity``). While the mark
is unchanged, the last listing is still the answer; a clean test pays two ``fstat``s
and two ``dup``s instead of two listings.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from leakbench._util import proc
from leakbench.detectors import activity

Mark = tuple[int, int, int, int]
"""Files/sockets opened, processes spawned (audit counts), open fds, lowest free fd."""


def fd_dir() -> str | None:
    """The folder listing this process's fds, or None: only psutil can tell."""
    linux = f"{proc.PROC}/self/fd"
    if os.path.isdir(linux):
        return linux
    if os.path.isdir("/dev/fd") and not os.path.islink("/dev/fd"):
        return "/dev/fd"
    return None


def unavailable_note() -> str | None:
    """One line for the end of the run when this system lists no fds; None otherwise."""
    if fd_dir() is not None:
        return None
    return (
        "fds: this system has no /proc or /dev/fd: only the files and sockets psutil "
        "can name are checked (not pipes or other descriptors)"
    )


def list_dir(folder: str) -> frozenset[str]:
    """Open fds in ``folder``, without the one the listing itself used.

    ``listdir`` opens the directory on the lowest free fd, which therefore shows
    up in its own listing and is closed on return. Left in a baseline, that
    phantom hides the first fd the test opens (it gets the same number). Having
    just been closed, it is again the lowest free fd, which one ``dup`` reveals.
    """
    names = os.listdir(folder)
    for name in names:
        try:
            probe = os.dup(int(name))
        except (OSError, ValueError):
            continue
        os.close(probe)
        return frozenset(names).difference((str(probe),))
    return frozenset(names)


class ChangeMark:
    """A cheap reading that stays the same while this process's fds do (see module doc).

    Holds one fd of its own on the fd folder (opened in ``open``, part of every listing
    from then on). ``read`` returns None where the count cannot be had (a kernel before
    6.2, another system, the fd closed behind its back): then every call lists.
    """

    def __init__(self) -> None:
        self._fd: int | None = None
        self._identity: tuple[int, int] = (0, 0)

    def open(self, folder: str | None) -> None:
        """Start watching ``folder`` when ``fstat`` counts its entries here."""
        if folder is None or self._fd is not None:
            return
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return
        try:
            info = os.fstat(fd)
            counts = info.st_size > 0 and info.st_size == len(list_dir(folder))
        except OSError:
            counts = False
        if not counts:
            os.close(fd)
            return
        self._fd = fd
        self._identity = (info.st_dev, info.st_ino)

    @property
    def counting(self) -> bool:
        """Whether the mark is read (else every call lists)."""
        return self._fd is not None

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def read(self) -> Mark | None:
        fd = self._fd
        if fd is None:
            return None
        counters = activity.counters
        try:
            info = os.fstat(fd)
            if (info.st_dev, info.st_ino) != self._identity:
                raise OSError("the watch fd was closed and its number reused")
            probe = os.dup(fd)
        except OSError:
            self._fd = None  # closed behind our back (os.closerange): list from now on
            return None
        os.close(probe)
        return counters.resources, counters.spawns, info.st_size, probe


def psutil_open() -> dict[str, tuple[str, tuple[str, ...]]]:
    """The files and sockets psutil sees open in this process: ``{id: (what, keys)}``.

    The id is the fd number where psutil gives one (POSIX), else ``file:<path>`` or
    ``socket:<local>-><remote>`` (Windows, where it reports fd -1).
    """
    import psutil

    me = psutil.Process()
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    with contextlib.suppress(psutil.Error, OSError, NotImplementedError):
        for entry in me.open_files():
            key = str(entry.fd) if entry.fd >= 0 else f"file:{entry.path}"
            found[key] = (f"file {entry.path}", (entry.path,))
    with contextlib.suppress(psutil.Error, OSError, NotImplementedError):
        for conn in me.net_connections(kind="all"):
            local, remote = _address(conn.laddr), _address(conn.raddr)
            key = str(conn.fd) if conn.fd >= 0 else f"socket:{local}->{remote}"
            proto = _PROTOCOLS.get((int(conn.family), int(conn.type)), "socket")
            ends = f"{local} -> {remote}" if remote else local or "unnamed"
            state = f" ({conn.status})" if conn.status and conn.status != "NONE" else ""
            keys = tuple(f"socket:{a}" for a in (local, remote) if a) or ("socket",)
            found[key] = (f"socket {proto} {ends}{state}", keys)
    return found


def _address(address: Any) -> str:
    if not address:
        return ""
    if isinstance(address, str):
        return address
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _protocols() -> dict[tuple[int, int], str]:
    import socket

    table = {
        (int(socket.AF_INET), int(socket.SOCK_STREAM)): "tcp",
        (int(socket.AF_INET6), int(socket.SOCK_STREAM)): "tcp",
        (int(socket.AF_INET), int(socket.SOCK_DGRAM)): "udp",
        (int(socket.AF_INET6), int(socket.SOCK_DGRAM)): "udp",
    }
    unix = getattr(socket, "AF_UNIX", None)
    if unix is not None:
        table[(int(unix), int(socket.SOCK_STREAM))] = "unix"
        table[(int(unix), int(socket.SOCK_DGRAM))] = "unix"
    return table


_PROTOCOLS = _protocols()
