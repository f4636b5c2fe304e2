"""File descriptors open after the test that were not open before it.

A leaked fd is the lowest-level trace of most resource leaks: an unclosed file, a
pooled keep-alive connection of a client nobody closed, the epoll selector of an
event loop that was never closed, the pipes of a forgotten subprocess. The fds are
listed (``os.listdir('/proc/self/fd')``, ~15 us) only when a cheap mark says they may
have changed since the last listing (``fd_sources.ChangeMark``: the number of open fds,
the lowest free fd, the audit hook's counts); everything costlier (``readlink``, the
socket tables in ``/proc/self/net``) runs only for the few fds that are new, so clean
tests never pay for it. Systems without ``/proc`` list ``/dev/fd`` or ask psutil
(``leakbench.detectors.fd_sources``).

Fds are compared by number: an fd the test closed and whose number was reused by
a new one is missed, which is the price of not reading every link per test.

Ownership: an fd that a library's module state holds (multiprocessing's resource
tracker keeps the write end of its pipe in ``_resource_tracker._fd`` for the life of
the process) is that module's, not the test's (``leakbench.detectors.ownership``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from leakbench._util import proc
from leakbench.detectors import fd_sources, ownership
from leakbench.detectors.base import AllowFn, Detector, DetectorConfig
from leakbench.detectors.leak import Leak

TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
    "0C": "NEW_SYN_RECV",
}
UNIX_TYPES = {"0001": "stream", "0002": "dgram", "0005": "seqpacket"}
UNIX_STATES = {"01": "UNCONNECTED", "02": "CONNECTING", "03": "CONNECTED", "04": "DISCONNECTING"}

ANON_INODES = {
    "[eventpoll]": "epoll (an event loop's selector that was never closed?)",
    "[eventfd]": "eventfd (a wake-up channel of an event loop or thread pool?)",
    "[timerfd]": "timerfd",
    "[signalfd]": "signalfd",
    "inotify": "inotify (a file watcher that was never stopped?)",
    "[pidfd]": "pidfd (a handle on a process)",
    "[io_uring]": "io_uring",
}


@dataclass(frozen=True)
class SocketInfo:
    """One row of ``/proc/self/net/<proto>``, decoded."""

    proto: str
    local: str
    remote: str = ""
    state: str = ""

    def describe(self) -> str:
        if self.proto == "unix":
            where = self.local or "unnamed"
            return f"socket unix {where} ({self.remote}, {self.state})"
        ends = f"{self.local} -> {self.remote}" if self.remote else self.local
        state = f" ({self.state})" if self.state else ""
        return f"socket {self.proto} {ends}{state}"

    def keys(self) -> tuple[str, ...]:
        if self.proto == "unix":
            return (f"socket:{self.local}",) if self.local else ("socket:unix",)
        return tuple(f"socket:{addr}" for addr in (self.local, self.remote) if addr)


def decode_address(text: str) -> str:
    """``0100007F:1F90`` -> ``127.0.0.1:8080``; IPv6 as ``[::1]:8080``.

    The kernel prints each 32-bit word of the address as a number in host byte
    order, so the words are packed back natively before ``inet_ntop``.
    """
    host, _, port_hex = text.partition(":")
    port = int(port_hex, 16)
    words = [int(host[i : i + 8], 16) for i in range(0, len(host), 8)]
    raw = struct.pack(f"={len(words)}I", *words)
    if len(raw) == 4:
        return f"{socket.inet_ntop(socket.AF_INET, raw)}:{port}"
    addr = socket.inet_ntop(socket.AF_INET6, raw)
    if addr.startswith("::ffff:") and "." in addr:
        addr = addr[len("::ffff:") :]  # an IPv4 peer of a dual-stack socket
        return f"{addr}:{port}"
    return f"[{addr}]:{port}"


def parse_inet_table(proto: str, text: str, inodes: set[str]) -> dict[str, SocketInfo]:
    """Rows of ``/proc/net/tcp``-style ``text`` whose inode is in ``inodes``."""
    found: dict[str, SocketInfo] = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[9] not in inodes:
            continue
        local, remote, state = fields[1], fields[2], fields[3]
        remote_text = decode_address(remote)
        if remote_text.endswith(":0") and set(remote.partition(":")[0]) == {"0"}:
            remote_text = ""  # not connected
        if proto.startswith("tcp"):
            state_text = TCP_STATES.get(state, state)
        else:
            state_text = "connected" if remote_text else ""
        found[fields[9]] = SocketInfo(
            proto.rstrip("6"), decode_address(local), remote_text, state_text
        )
    return found


def parse_unix_table(text: str, inodes: set[str]) -> dict[str, SocketInfo]:
    """Rows of ``/proc/net/unix`` whose inode is in ``inodes``."""
    found: dict[str, SocketInfo] = {}
    for line in text.splitlines()[1:]:
        fields = line.split(maxsplit=7)
        if len(fields) < 7 or fields[6] not in inodes:
            continue
        path = fields[7].strip() if len(fields) > 7 else ""
        found[fields[6]] = SocketInfo(
            "unix",
            path,
            UNIX_TYPES.get(fields[4], f"type {fields[4]}"),
            UNIX_STATES.get(fields[5], fields[5]),
        )
    return found


def socket_table(inodes: Iterable[str]) -> dict[str, SocketInfo]:
    """Look sockets up by inode in ``/proc/self/net``; only for leaked fds."""
    wanted = set(inodes)
    found: dict[str, SocketInfo] = {}
    for proto in ("tcp", "tcp6", "udp", "udp6", "unix"):
        if not wanted - found.keys():
            break
        try:
            with open(f"{proc.PROC}/self/net/{proto}", encoding="ascii", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        rest = wanted - found.keys()
        if proto == "unix":
            found.update(parse_unix_table(text, rest))
        else:
            found.update(parse_inet_table(proto, text, rest))
    return found


def socket_by_fd(fd: str) -> SocketInfo | None:
    """Ask the socket itself, for families ``/proc/self/net`` does not list.

    Netlink, packet or bound-but-idle TCP sockets are missing from the tables. The
    fd is wrapped without taking it over (``detach``), and only when no default
    timeout is set, since that would switch the user's socket to non-blocking.
    """
    if socket.getdefaulttimeout() is not None:
        return None
    try:
        sock = socket.socket(fileno=int(fd))
    except (OSError, ValueError):
        return None
    try:
        family = sock.family.name.removeprefix("AF_").lower()
        kind = sock.type.name.removeprefix("SOCK_").lower()
        local = _address_text(sock.getsockname())
        remote = ""
        if sock.family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
            with contextlib.suppress(OSError):  # not connected
                remote = _address_text(sock.getpeername())
    except (OSError, ValueError):
        return None
    finally:
        sock.detach()
    return SocketInfo(f"{family}/{kind}", local, remote)


def _address_text(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[0], str):
        host = f"[{address[0]}]" if ":" in address[0] else address[0]
        return f"{host}:{address[1]}"
    if isinstance(address, tuple):  # netlink (pid, groups) and the like
        return ":".join(map(str, address))
    return str(address) if address not in ("", b"", None) else ""


def _access_mode(fd: str) -> str:
    """``read``/``write``/``read-write`` from ``/proc/self/fdinfo``; '' if unknown."""
    try:
        with open(f"{proc.PROC}/self/fdinfo/{fd}", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("flags:"):
                    mode = int(line.split()[1], 8) & os.O_ACCMODE
                    return {os.O_RDONLY: "read", os.O_WRONLY: "write"}.get(mode, "read-write")
    except (OSError, ValueError, IndexError):
        pass
    return ""


def describe_target(
    fd: str, target: str, sockets: dict[str, SocketInfo]
) -> tuple[str, tuple[str, ...]]:
    """What an fd points to, in words, and the allow-list keys for it."""
    if target.startswith("socket:["):
        info = sockets.get(target[len("socket:[") : -1]) or socket_by_fd(fd)
        if info is None:
            return f"socket ({target})", (target, "socket")
        return info.describe(), (*info.keys(), target)
    if target.startswith("pipe:["):
        mode = _access_mode(fd)
        end = {"read": "read end", "write": "write end"}.get(mode, "")
        return f"pipe{' ' + end if end else ''} ({target})", (target, "pipe")
    if target.startswith("anon_inode:"):
        kind = target[len("anon_inode:") :]
        return ANON_INODES.get(kind, target), (target,)
    if target.startswith("/"):
        mode = _access_mode(fd)
        path = target
        note = ""
        if path.endswith(" (deleted)"):
            path = path[: -len(" (deleted)")]
            note = ", deleted since"
        opened = f" (open for {mode}{note})" if mode else f" ({note[2:]})" if note else ""
        return f"file {path}{opened}", (path,)
    return target, (target,)


def list_fds() -> frozenset[str]:
    """Open fds of this process, by number (or psutil's ids where no folder lists them)."""
    folder = fd_sources.fd_dir()
    if folder is None:
        return frozenset(fd_sources.psutil_open())
    return fd_sources.list_dir(folder)


class FdsDetector(Detector[frozenset[str]]):
    name = "fds"
    description = "file descriptors opened by the test and still open after teardown"
    kept_by_traceback = True

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._mark = fd_sources.ChangeMark()
        self._listing: frozenset[str] | None = None
        self._listed_at: fd_sources.Mark | None = None
        self._root = ""
        self._folder: str | None = None
        self.listings = 0
        """How many times the fds were actually listed (for tests and tuning)."""

    @property
    def cached(self) -> bool:
        """Whether listings are skipped while the change mark stays the same."""
        return self._mark.counting

    @classmethod
    def unavailable_note(cls) -> str | None:
        return fd_sources.unavailable_note()

    def start(self) -> None:
        self._mark.open(self._source())

    def stop(self) -> None:
        self._mark.close()
        self._listing = self._listed_at = None

    def _source(self) -> str | None:
        """The fd folder for the current ``/proc`` root (looked up again if it moved)."""
        if self._root != proc.PROC:
            self._root = proc.PROC
            self._folder = fd_sources.fd_dir()
        return self._folder

    def current(self) -> frozenset[str]:
        """Open fds now: the last listing while the change mark says nothing moved."""
        mark = self._mark.read()
        if mark is not None and mark == self._listed_at and self._listing is not None:
            return self._listing
        folder = self._source()
        listing = (
            frozenset(fd_sources.psutil_open()) if folder is None else fd_sources.list_dir(folder)
        )
        self.listings += 1
        self._listing, self._listed_at = listing, mark
        return listing

    def snapshot(self) -> frozenset[str]:
        return self.current()

    def still_open(self, baseline: frozenset[str]) -> bool:
        """An fd the test opened is open now (as cheap as a snapshot)."""
        return bool(self.current() - baseline)

    def find(self, baseline: frozenset[str], allowed: AllowFn) -> list[Leak]:
        if not self.current() - baseline:
            return []
        new = self._new_targets(baseline)
        if not new:
            return []
        leaks = self._describe_all(new)
        kept = {fd: new[fd] for fd, leak in leaks.items() if not allowed(leak)}
        if kept:
            held = ownership.held_fds(int(fd) for fd in kept if fd.isdigit())
            kept = {
                fd: target for fd, target in kept.items() if not fd.isdigit() or int(fd) not in held
            }
        if not kept:
            return []
        # A server thread closing its end of a connection the test just closed, a
        # pool shutting down: give what is being closed a moment, then look again.
        self.wait_grace(lambda: not self._still_open(kept))
        now = self._new_targets(baseline)
        survivors = {fd: target for fd, target in kept.items() if now.get(fd) == target}
        return list(self._describe_all(survivors).values())

    def _new_targets(self, baseline: frozenset[str]) -> dict[str, str]:
        """What each fd opened since ``baseline`` points to (a fresh listing: this runs
        only when something new was seen, and during the grace period)."""
        folder = self._source()
        if folder is None:
            return {
                fd: what for fd, (what, _) in fd_sources.psutil_open().items() if fd not in baseline
            }
        targets = {}
        for fd in fd_sources.list_dir(folder) - baseline:
            try:
                targets[fd] = os.readlink(f"{folder}/{fd}")
            except FileNotFoundError:  # closed meanwhile
                continue
            except OSError:  # /dev/fd entries are not links outside Linux
                targets[fd] = f"fd {fd}"
        return targets

    def _still_open(self, fds: dict[str, str]) -> bool:
        folder = self._source()
        if folder is None:
            named = fd_sources.psutil_open()
            return any(named.get(fd, ("",))[0] == target for fd, target in fds.items())
        for fd, target in fds.items():
            try:
                if os.readlink(f"{folder}/{fd}") == target:
                    return True
            except FileNotFoundError:
                continue
            except OSError:  # not links (/dev/fd outside Linux): open while listed
                if fd in fd_sources.list_dir(folder):
                    return True
        return False

    def _describe_all(self, fds: dict[str, str]) -> dict[str, Leak]:
        """Describe new fds in fd order, reading the socket tables once for all."""
        if self._source() != f"{proc.PROC}/self/fd":
            return self._describe_psutil(fds)
        inodes = [t[len("socket:[") : -1] for t in fds.values() if t.startswith("socket:[")]
        sockets = socket_table(inodes) if inodes else {}
        leaks = {}
        for fd, target in sorted_fds(fds):
            what, keys = describe_target(fd, target, sockets)
            leaks[fd] = Leak(kind=self.name, summary=f"fd {fd}: {what} is still open", keys=keys)
        return leaks

    def _describe_psutil(self, fds: dict[str, str]) -> dict[str, Leak]:
        """Without ``/proc``: what psutil names (files, sockets), else the fd's number."""
        named = fd_sources.psutil_open()
        leaks = {}
        for fd, target in sorted_fds(fds):
            what, keys = named.get(fd, (target, (target,)))
            if what.startswith("fd ") and fd.isdigit():
                info = socket_by_fd(fd)  # a socket psutil did not list
                if info is not None:
                    what, keys = info.describe(), info.keys()
            label = f"fd {fd}" if fd.isdigit() else fd.partition(":")[0]
            leaks[fd] = Leak(
                kind=self.name, summary=f"{label}: {what} is still open", keys=keys or (what,)
            )
        return leaks


def sorted_fds(fds: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(fds.items(), key=lambda item: int(item[0]) if item[0].isdigit() else sys.maxsize)
