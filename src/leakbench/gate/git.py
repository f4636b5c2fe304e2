"""Git plumbing: a checkout's commit state and lock for the fingerprint, and for
``leakbench compare-branches`` refs, a throwaway worktree and each side's environment.

Why a detached ``git worktree`` and nothing else: BASE must be measured from its own files
while the user's checkout, index and stash stay exactly as they were (a reviewer runs this
with uncommitted work). ``git worktree add --detach <tmp> <sha>`` writes only under
``.git/worktrees/`` and the new directory; ``git worktree remove --force`` and ``git worktree
prune`` undo both. Cleanup runs on success, on failure and on Ctrl-C / SIGTERM
(:func:`temporary_worktree`), and a second Ctrl-C during cleanup is ignored so that it cannot
leave a half-removed worktree behind.

``git status`` refreshes the index's stat cache and may rewrite ``.git/index`` when it holds
an optional lock; :func:`quiet_git` sets ``GIT_OPTIONAL_LOCKS=0`` for this process and its
children so that even the fingerprint's ``git status`` leaves the index bytes untouched.

Which code each side runs (see docs/ci.md): the *engine* (``leakbench`` itself: the measurement
child, memray and timing code) is always the one running the command, so both sides are
measured by identical instruments; each side contributes its own ``suites/`` and ``fixtures/``
(its root goes first on ``sys.path``) and, when it has a ``src/`` directory that is not
leakbench's own, that ``src/`` goes first on ``PYTHONPATH`` so the scenarios import that side's
package. Both sides share one virtualenv; when ``requirements.lock`` differs between them the
report says so, since dependency changes then show up as code changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from leakbench._util.signals import sigterm_as_interrupt

__all__ = [
    "GitError",
    "Side",
    "head_state",
    "is_dirty",
    "lock_hash",
    "lock_note",
    "quiet_git",
    "repo_root",
    "resolve",
    "side_pythonpath",
    "temporary_worktree",
    "tree_id",
]

LOCK_FILE = "requirements.lock"
ENGINE = "leakbench"


class GitError(RuntimeError):
    """A git problem the user must fix (not a repo, unknown ref); the message is one line."""


@dataclass(frozen=True)
class Side:
    """One side of the comparison: where its files are and what to call it."""

    label: str
    """What the user asked for (``main``, ``HEAD``, ``working tree``), shown in reports."""
    root: Path
    sha: str
    dirty: bool = False
    """True for a working tree with uncommitted changes to tracked files."""

    @property
    def name(self) -> str:
        """The report label: the reports add the commit (``+dirty`` for uncommitted changes)."""
        return f"{self.label} (uncommitted changes)" if self.dirty else self.label


def quiet_git() -> None:
    """Forbid git's optional index refreshes here and in children (``GIT_OPTIONAL_LOCKS=0``)."""
    os.environ["GIT_OPTIONAL_LOCKS"] = "0"


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitError(f"git {' '.join(args)} timed out") from exc
    if check and done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise GitError(f"git {' '.join(args)}: {why}")
    return done


def repo_root(path: Path) -> Path:
    """The top directory of the git working tree holding ``path``."""
    done = _git(path, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise GitError(f"{path}: not a git repository; run compare-branches inside a git checkout")
    return Path(done.stdout.strip()).resolve()


def resolve(root: Path, ref: str) -> str:
    """The full commit sha of ``ref`` (any ref, tag, sha or expression such as ``HEAD~2``)."""
    if ref.startswith("-"):
        raise GitError(f"{ref!r} is not a git ref")
    done = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}",
                check=False)  # fmt: skip
    if done.returncode != 0 or not done.stdout.strip():
        raise GitError(
            f"{ref!r} is not a commit in {root}; check the spelling or `git fetch` it first"
        )
    return done.stdout.strip()


def is_dirty(root: Path) -> bool:
    """Whether tracked files differ from HEAD (untracked files do not count)."""
    done = _git(root, "status", "--porcelain", "--untracked-files=no", check=False)
    return bool(done.stdout.strip())


def head_state(root: Path) -> tuple[str, bool]:
    """(HEAD's commit, :func:`is_dirty`) of the checkout at ``root``; ("", False) outside a
    git checkout or without git, since a fingerprint must never fail for want of git."""
    try:
        done = _git(root, "rev-parse", "HEAD", check=False)
        if done.returncode != 0:
            return "", False
        return done.stdout.strip(), is_dirty(root)
    except GitError:
        return "", False


@contextlib.contextmanager
def temporary_worktree(root: Path, sha: str) -> Iterator[Path]:
    """Check ``sha`` out, detached, into a fresh temporary directory; remove it afterwards.

    Removal runs however the block ends (return, exception, Ctrl-C, SIGTERM). SIGINT is
    ignored while removing: a second Ctrl-C must not leave a registered, half-deleted
    worktree (``git worktree prune`` would fix that, but only if it got to run).
    """
    parent = Path(tempfile.mkdtemp(prefix="leakbench-base-"))
    path = parent / "worktree"
    with sigterm_as_interrupt():
        try:
            _git(root, "worktree", "add", "--detach", "--quiet", str(path), sha)
            yield path
        finally:
            old_int = None
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                remove_worktree(root, path)
                shutil.rmtree(parent, ignore_errors=True)
            finally:
                with contextlib.suppress(ValueError, TypeError):
                    if old_int is not None:
                        signal.signal(signal.SIGINT, old_int)


def remove_worktree(root: Path, path: Path) -> None:
    """``git worktree remove --force`` then ``prune``; never raises (cleanup must finish)."""
    with contextlib.suppress(GitError):
        _git(root, "worktree", "remove", "--force", str(path), check=False)
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(GitError):
        _git(root, "worktree", "prune", check=False)


def tree_id(root: Path, sha: str, path: str) -> str:
    """The git tree (or blob) id of ``path`` at commit ``sha`` ("" when it does not exist):
    what identifies a side's code for compare-branches' cache."""
    done = _git(root, "rev-parse", "--verify", "--quiet", f"{sha}:{path}", check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def lock_hash(root: Path) -> str:
    """First 16 hex digits of the sha256 of ``root``'s ``requirements.lock`` ("" when it has
    none): what ``Environment.lock_hash`` records, and how compare-branches tells the sides'
    dependencies apart."""
    try:
        return hashlib.sha256((root / LOCK_FILE).read_bytes()).hexdigest()[:16]
    except OSError:
        return ""


def lock_note(base: Path, head: Path) -> str | None:
    """The warning to show when the sides pin different dependencies, else None."""
    if lock_hash(base) == lock_hash(head):
        return None
    return (
        f"{LOCK_FILE} differs between BASE and HEAD: both ran in this environment, so "
        "results may reflect dependency changes"
    )


def side_pythonpath(root: Path) -> str:
    """``PYTHONPATH`` for a side's children: its root, then its ``src/`` unless that holds
    leakbench itself (the engine always comes from the running installation)."""
    parts = [str(root)]
    src = root / "src"
    if src.is_dir() and not (src / ENGINE).is_dir():
        parts.append(str(src))
    return os.pathsep.join(parts)
