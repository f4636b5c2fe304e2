"""Git plumbing: a checkout's commit state and lock for the fingerprint, and for
``leakbench compare-branches`` refs, a throwaway worktree and each side's environment.

Why a detached ``git worktree`` and nothing else: BASE must be measured from its own files
while the user's checkout, index and stash stay exactly as they were (a reviewer runs this
with uncommitted work). ``git worktree add --detach <tmp> <sha>`` writes only under
``.git/worktrees/`` and the new directory; ``git worktree remove --force`` and ``git worktree
prune`` undo both. Cleanup runs on success, on failure and on Ctrl-C / SIGTERM
(:func:`temporary_worktree`), with signals held over the ``worktree add``, over the cleanup
(a second Ctrl-C or SIGTERM waits for it) and every git child in its own session, killed
with its group on an interrupt; the cleanup is checked against ``git worktree list``.

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
from dataclasses import dataclass, field
from pathlib import Path

from leakbench._util.signals import deferred_signals, sigterm_as_interrupt, test_pause

__all__ = [
    "GitError",
    "Side",
    "WorktreeLog",
    "head_state",
    "is_dirty",
    "listed_worktrees",
    "lock_hash",
    "lock_note",
    "quiet_git",
    "remove_worktree",
    "repo_root",
    "resolve",
    "side_pythonpath",
    "temporary_worktree",
    "tree_id",
]

LOCK_FILE = "requirements.lock"
GIT_TIMEOUT = 120.0
"""Seconds before one git command is killed (with its process group)."""
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
    """True for a working tree with uncommitted changes to tracked files, or untracked files in
    the scenarios package (``leakbench bench``'s rule)."""

    @property
    def name(self) -> str:
        """The report label: the reports add the commit (``+dirty`` for uncommitted changes)."""
        return f"{self.label} (uncommitted changes)" if self.dirty else self.label


def quiet_git() -> None:
    """Forbid git's optional index refreshes here and in children (``GIT_OPTIONAL_LOCKS=0``)."""
    os.environ["GIT_OPTIONAL_LOCKS"] = "0"


def _git(
    cwd: Path, *args: str, check: bool = True, critical: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run git in its own session: a Ctrl-C at the terminal reaches leakbench only (which
    then ends git itself), never git half-way through. ``critical`` steps (``worktree
    add``/``remove``) finish with signals held and delivered right after; any other git is
    killed, its group with it, and waited for when an interrupt arrives."""
    try:
        proc = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    try:
        if critical:
            with deferred_signals() as held:
                test_pause(f"git-{'-'.join(args[:2])}", held)
                out, err = _communicate(proc, args)
        else:
            out, err = _communicate(proc, args)
    except BaseException:
        _end(proc)
        raise
    done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    if check and done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise GitError(f"git {' '.join(args)}: {why}")
    return done


def _communicate(proc: subprocess.Popen[str], args: tuple[str, ...]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        _end(proc)
        raise GitError(f"git {' '.join(args)} timed out after {GIT_TIMEOUT:.0f} s") from exc


def _end(proc: subprocess.Popen[str]) -> None:
    """Kill git's whole group (hooks, ``git reset`` children) and reap it; never raises."""
    with deferred_signals():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.communicate(timeout=10)


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


@dataclass
class WorktreeLog:
    """What :func:`temporary_worktree` made and, after cleanup, what is provably left."""

    made: list[Path] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    """One line per worktree cleanup could not remove, with the command that does."""

    def summary(self) -> str:
        """Says "removed" only when ``git worktree list`` no longer shows them."""
        if self.left:
            return "; ".join(self.left)
        if not self.made:
            return "no temporary worktree was left"
        return "the temporary worktree was removed (git worktree list agrees)"


@contextlib.contextmanager
def temporary_worktree(root: Path, sha: str, log: WorktreeLog | None = None) -> Iterator[Path]:
    """Check ``sha`` out, detached, into a fresh temporary directory; remove it afterwards.

    Removal runs however the block ends (return, exception, Ctrl-C, SIGTERM), and is
    registered before anything is created: the folder and the ``git worktree add`` happen
    with signals held, so an interrupt lands either before the folder exists or after git
    finished (a killed ``worktree add`` leaves a locked "initializing" worktree that
    ``prune`` cannot remove). The cleanup holds signals too (a second Ctrl-C or SIGTERM
    waits until it is done) and is checked against ``git worktree list --porcelain``;
    ``log`` receives what was made and what is still left.
    """
    log = log if log is not None else WorktreeLog()
    parent: Path | None = None
    path: Path | None = None
    with sigterm_as_interrupt():
        try:
            with deferred_signals():
                parent = Path(tempfile.mkdtemp(prefix="leakbench-base-"))
                path = parent / "worktree"
                log.made.append(path)
                _git(root, "worktree", "add", "--detach", "--quiet", str(path), sha,
                     critical=True)  # fmt: skip
            yield path
        finally:
            if parent is not None and path is not None:
                with deferred_signals() as held:
                    test_pause("worktree-cleanup", held)
                    left = remove_worktree(root, path, parent)
                if left:
                    log.left.append(left)


def remove_worktree(root: Path, path: Path, parent: Path | None = None) -> str:
    """``git worktree remove --force --force`` (a locked one too), the folder, ``git worktree
    prune``; then what ``git worktree list --porcelain`` and the file system still show, as
    one line with the commands that remove it ("" when nothing is left). Never raises."""
    with contextlib.suppress(GitError):
        _git(root, "worktree", "remove", "--force", "--force", str(path), check=False,
             critical=True)  # fmt: skip
    shutil.rmtree(parent or path, ignore_errors=True)
    with contextlib.suppress(GitError):
        _git(root, "worktree", "prune", check=False, critical=True)
    registered = path in listed_worktrees(root)
    on_disk = (parent or path).exists()
    if not registered and not on_disk:
        return ""
    what = " and ".join(
        w for w, there in (("registered in git", registered), ("on disk", on_disk)) if there
    )
    fix = [f"git worktree remove --force --force {path}", "git worktree prune"]
    if on_disk:
        fix.append(f"rm -rf {parent or path}")
    return f"the temporary worktree {path} is still {what}; remove it with: {' && '.join(fix)}"


def listed_worktrees(root: Path) -> set[Path]:
    """Every worktree ``git worktree list --porcelain`` shows (resolved paths)."""
    try:
        done = _git(root, "worktree", "list", "--porcelain", check=False)
    except GitError:
        return set()
    found: set[Path] = set()
    for line in done.stdout.splitlines():
        if line.startswith("worktree "):
            listed = Path(line[len("worktree ") :])
            found |= {listed, listed.resolve()}
    return found


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
