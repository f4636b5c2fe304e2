"""``leakbench compare-branches`` end to end on a throwaway git repo.

The promise checked here is the one a reviewer relies on: whatever happens (success, bad
input, a regression, Ctrl-C), the user's checkout is exactly as it was: same ``git status``,
same staged changes, same ``.git/index`` bytes, no leftover worktree.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakbench.cli.compare_branches import working_tree_side
from leakbench.gate import git as branches

SCENARIO = """
import time
from contextlib import contextmanager
from leakbench.gate.scenarios import Scenario

WORK = {work}
SLEEP = {sleep}
KEEP = []


def work():
    s = 0
    for i in range(WORK):
        s += i * i
    if SLEEP:
        time.sleep(SLEEP)
    KEEP.extend([bytearray({retain})] if {retain} else [])


@contextmanager
def session():
    yield work


SCENARIOS = [
    Scenario(name="cpu.clean", leak_class="cpu", variant="clean", detectors=(),
             session=session, bench_iterations=20),
]
"""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "GIT_OPTIONAL_LOCKS": "0"}
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def write_scenario(repo: Path, work: int = 3000, sleep: float = 0.0, retain: int = 0) -> None:
    (repo / "suites" / "cpu.py").write_text(
        SCENARIO.format(work=work, sleep=sleep, retain=retain), encoding="utf-8"
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repo with one commit (``base`` tag), then a staged and an unstaged change."""
    root = tmp_path / "repo"
    (root / "suites").mkdir(parents=True)
    (root / "suites" / "__init__.py").write_text("", encoding="utf-8")
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    (root / "notes.txt").write_text("one\n", encoding="utf-8")
    write_scenario(root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    git(root, "tag", "base")
    (root / "notes.txt").write_text("staged\n", encoding="utf-8")
    git(root, "add", "notes.txt")
    (root / "notes.txt").write_text("staged, then edited\n", encoding="utf-8")
    return root


def state(repo: Path) -> tuple[str, str, bytes, str]:
    """Index bytes first (reading status must not be what changes them)."""
    index = (repo / ".git" / "index").read_bytes()
    return (
        git(repo, "status", "--porcelain"),
        git(repo, "diff", "--cached"),
        index,
        git(repo, "worktree", "list", "--porcelain"),
    )


def run(repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakbench", "compare-branches", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **GIT_ENV},
    )


FAST = ("--pairs", "2", "--max-pairs", "2", "--no-pin", "--no-instructions")
COUNTED = ("--pairs", "2", "--max-pairs", "2", "--no-pin", "--instruction-iterations", "5")
needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None or shutil.which("callgrind_control") is None,
    reason="Valgrind is not installed (apt-get install valgrind)",
)


def metrics(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    (scenario,) = json.loads(done.stdout)["scenarios"]
    return {m["metric"]: m for m in scenario["metrics"]}


def test_success_reports_both_commits_and_leaves_checkout_alone(repo: Path) -> None:
    before = state(repo)
    done = run(repo, "base", "--format", "json", *FAST)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    sha = git(repo, "rev-parse", "HEAD").strip()
    assert doc["base"]["git_commit"] == sha
    assert doc["head"]["git_dirty"] is True
    (scenario,) = doc["scenarios"]
    assert {m["metric"] for m in scenario["metrics"]} >= {"time", "retained_per_iteration"}
    assert state(repo) == before


@needs_valgrind
def test_instructions_gate_and_a_second_run_measures_only_head(repo: Path) -> None:
    write_scenario(repo, work=3900)  # 30% more loop steps than BASE's 3000
    before = state(repo)
    first = run(repo, "base", "--format", "json", *COUNTED)
    assert first.returncode == 1, first.stderr
    rows = metrics(first)
    assert rows["instructions"]["verdict"] == "regression" and rows["instructions"]["gated"]
    assert 0.2 < float(rows["instructions"]["change"]) < 0.4  # type: ignore[arg-type]
    assert rows["time"]["verdict"] == "info"  # CPU-bound: one probe per side, no pairs
    assert "time pairs (ABBA)" not in first.stderr
    assert "instruction pass (BASE)" in first.stderr
    second = run(repo, "base", "--format", "json", *COUNTED)
    assert second.returncode == 1, second.stderr
    for step in ("memory pass (BASE)", "instruction pass (BASE)", "probe (BASE)"):
        assert step not in second.stderr
    assert "instruction pass (HEAD)" in second.stderr
    assert metrics(second)["instructions"]["base"] == rows["instructions"]["base"]
    # HEAD is counted again: the same to within a few instructions (the process's
    # own temporary names embed its pid, so string work can differ by a few instructions).
    head_again = float(metrics(second)["instructions"]["head"])  # type: ignore[arg-type]
    assert head_again == pytest.approx(float(rows["instructions"]["head"]), rel=1e-4)  # type: ignore[arg-type]
    assert any("BASE reused from base-" in n for n in json.loads(second.stdout)["notes"])
    assert state(repo) == before  # the cache under .leakbench/ is invisible to git


@needs_valgrind
def test_a_sleep_instructions_cannot_see_is_timed_in_abba_pairs(repo: Path) -> None:
    write_scenario(repo, work=300, sleep=0.004)
    git(repo, "commit", "-qam", "less work, more waiting")
    git(repo, "tag", "waits")
    write_scenario(repo, work=300, sleep=0.012)
    done = run(repo, "waits", "--format", "json", "--time-only", *COUNTED)
    assert done.returncode == 1, done.stderr
    rows = metrics(done)
    assert rows["instructions"]["verdict"] == "ok"  # sleeping executes ~no instructions
    assert rows["time"]["verdict"] == "regression" and rows["time"]["gated"]
    assert "mostly waiting" in str(rows["time"]["note"])
    assert "time pairs (ABBA)" in done.stderr


def test_an_untracked_module_in_the_suites_labels_the_working_tree_dirty(repo: Path) -> None:
    # Tracked files match HEAD, but a new scenario-package module is measured: like
    # `leakbench bench`, the working tree's figures must not claim HEAD's commit as clean.
    git(repo, "commit", "-qam", "notes")
    (repo / "suites" / "helper.py").write_text("HELPER = 1\n", encoding="utf-8")
    before = state(repo)
    done = run(repo, "base", "--format", "json", "--memory-only", "--no-pin")
    assert done.returncode == 0, done.stderr
    head = json.loads(done.stdout)["head"]
    assert head["git_dirty"] is True
    assert head["path"] == "working tree (uncommitted changes)"
    assert state(repo) == before


def test_the_working_tree_is_dirty_by_the_bench_rule(repo: Path) -> None:
    assert working_tree_side(repo, "suites").dirty  # the fixture's staged/unstaged notes.txt
    git(repo, "commit", "-qam", "notes")
    assert not working_tree_side(repo, "suites").dirty
    (repo / "suites" / "__pycache__").mkdir()
    (repo / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore")
    (repo / "suites" / "__pycache__" / "cpu.pyc").write_bytes(b"")
    (repo / "notes2.txt").write_text("untracked at the root\n", encoding="utf-8")
    assert not working_tree_side(repo, "suites").dirty  # ignored, or outside the package
    (repo / "suites" / "helper.py").write_text("HELPER = 1\n", encoding="utf-8")
    side = working_tree_side(repo, "suites")
    assert side.dirty and side.sha == branches.resolve(repo, "HEAD")


def test_memory_retained_per_iteration_fails(repo: Path) -> None:
    write_scenario(repo, retain=8192)
    before = state(repo)
    done = run(repo, "base", "--memory-only", "--format", "json", "--no-pin")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    verdicts = {m["metric"]: m["verdict"] for m in doc["scenarios"][0]["metrics"]}
    assert verdicts["retained_per_iteration"] == "regression"
    assert state(repo) == before


def test_head_ref_is_checked_out_too(repo: Path) -> None:
    write_scenario(repo, retain=8192)
    git(repo, "commit", "-qam", "leak")
    before = state(repo)
    done = run(repo, "base", "HEAD", "--memory-only", "--format", "markdown", "--no-pin")
    assert done.returncode == 1, done.stderr
    assert "BASE base" in done.stdout and "HEAD HEAD" in done.stdout
    assert state(repo) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("no-such-ref",), "is not a commit"),
        (("base", "--scenario", "nope"), "unknown scenario"),
    ],
)
def test_bad_input_is_one_line_exit_2(repo: Path, args: tuple[str, ...], words: str) -> None:
    before = state(repo)
    done = run(repo, *args, *FAST)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("leakbench: error:") and words in lines[-1]
    assert "Traceback" not in done.stderr
    assert state(repo) == before


def test_not_a_git_repo(tmp_path: Path) -> None:
    done = run(tmp_path, "main")
    assert done.returncode == 2
    assert "not a git repository" in done.stderr


def test_base_that_cannot_import(repo: Path) -> None:
    (repo / "suites" / "cpu.py").write_text("import does_not_exist_anywhere\n", encoding="utf-8")
    git(repo, "commit", "-qam", "broken")
    git(repo, "tag", "broken")
    write_scenario(repo)
    before = state(repo)
    done = run(repo, "broken", *FAST)
    assert done.returncode == 2
    assert "BASE" in done.stderr and "does_not_exist_anywhere" in done.stderr
    assert state(repo) == before


def test_new_and_removed_scenarios_are_rows(repo: Path) -> None:
    extra = (
        (repo / "suites" / "cpu.py")
        .read_text(encoding="utf-8")
        .replace('name="cpu.clean"', 'name="cpu.other"')
    )
    (repo / "suites" / "other.py").write_text(extra, encoding="utf-8")
    done = run(repo, "base", "--format", "json", "--memory-only", "--no-pin")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["new"] == ["cpu.other"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interruption_removes_the_worktree(repo: Path, signum: int) -> None:
    write_scenario(repo, sleep=0.002)
    before = state(repo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakbench", "compare-branches", "base", "--time-only",
         "--pairs", "40", "--max-pairs", "40", "--no-pin"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while git(repo, "worktree", "list").count("\n") < 2:
        assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(1.5)  # let a measurement child start
    listed = git(repo, "worktree", "list", "--porcelain").split("\n\n")[1]
    temporary = Path(listed.splitlines()[0].removeprefix("worktree "))
    assert temporary.exists()
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "worktree was removed" in err
    assert state(repo) == before
    assert not temporary.exists() and not temporary.parent.exists()


def test_repo_root_outside_a_repository_says_it_is_not_one(tmp_path: Path) -> None:
    with pytest.raises(branches.GitError, match="not a git repository"):
        branches.repo_root(tmp_path)


def test_resolve_refuses_an_option_as_a_ref(repo: Path) -> None:
    with pytest.raises(branches.GitError, match="is not a git ref"):
        branches.resolve(repo, "--help")


def test_lock_note_is_silent_when_both_sides_pin_the_same_lock(repo: Path) -> None:
    assert branches.lock_note(repo, repo) is None


def test_lock_note_warns_when_the_locks_differ(tmp_path: Path, repo: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "requirements.lock").write_text("x==1\n", encoding="utf-8")
    note = branches.lock_note(repo, other)
    assert note is not None and "requirements.lock differs" in note


def test_side_pythonpath_never_puts_a_leakbench_src_first(tmp_path: Path) -> None:
    (tmp_path / "src" / "leakbench").mkdir(parents=True)
    assert branches.side_pythonpath(tmp_path) == str(tmp_path)


def test_side_pythonpath_adds_the_sides_own_src(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    parts = branches.side_pythonpath(tmp_path).split(os.pathsep)
    assert parts == [str(tmp_path), str(tmp_path / "src")]


def test_worktree_removed_after_exception(repo: Path) -> None:
    sha = branches.resolve(repo, "base")
    with pytest.raises(RuntimeError), branches.temporary_worktree(repo, sha) as path:
        assert (path / "suites" / "cpu.py").exists()
        raise RuntimeError("boom")
    assert not path.exists()
    assert git(repo, "worktree", "list").count("\n") == 1
