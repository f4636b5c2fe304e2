"""leakbench in a user's own project, end to end, from the wheel built from this checkout.

A separate git project in a temp folder (its package ``shop``, its tests, scenarios in
``workloads`` named by ``[tool.leakbench] suites``) with its own virtual environment, into
which the wheel is installed (``project_kit``: the big dependencies come from this checkout's
venv, leakbench itself only from the wheel). From the project's folder, as a user would:
``pytest --leaks`` catches a planted leak; ``leakbench bench``, ``baseline save``, a commit;
two shards measured and merged, then gated; a branch with a memory regression and one with an
instruction-count regression each fail ``leakbench compare`` and ``compare-branches main``
(exit 1, naming the scenario). Every gate run is kept small (20 memory iterations, 5 counted,
``--no-instructions`` except for the instruction-count regression, a 0.05 s time budget).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from project_kit import (
    INSTRUCTION_REGRESSION,
    MEMORY_REGRESSION,
    PLANTED_LEAK,
    PROJECT_FILES,
    build_wheel,
    make_venv,
    project_env,
    run,
    write_files,
)

QUICK = ("--time-budget", "0.05", "--time-processes", "1")
MEMORY = ("--memory-only", "--no-instructions")


def test_a_users_project_from_install_to_failing_gates(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    bin_dir = make_venv(tmp_path / "venv", wheel)
    env = project_env(bin_dir)
    project = tmp_path / "shop-project"
    write_files(project, PROJECT_FILES)

    def sh(*args: str, timeout: float = 300) -> tuple[int, str]:
        proc = run(list(args), cwd=project, env=env, timeout=timeout)
        return proc.returncode, proc.stdout + proc.stderr

    def git(*args: str) -> None:
        code, out = sh("git", *args)
        assert code == 0, out

    # leakbench comes from the wheel in the project's venv, not from this checkout
    code, out = sh("python", "-c", "import leakbench; print(leakbench.__file__)")
    assert code == 0, out
    assert out.strip().startswith(str(tmp_path / "venv")), out
    assert shutil.which("leakbench", path=env["PATH"]) == str(bin_dir / "leakbench")

    git("init", "-q", "-b", "main")
    git("add", ".")
    git("commit", "-q", "-m", "shop")

    # 1. pytest --leaks catches a planted leak (the file is never committed)
    (project / "tests" / "test_planted.py").write_text(PLANTED_LEAK, encoding="utf-8")
    code, out = sh(
        "python", "-m", "pytest", "--leaks", "-p", "no:randomly", "-p", "no:cacheprovider"
    )
    assert code == 1, out
    assert "test_leaves_a_thread_waiting leaked 1 resource(s): threads" in out, out
    assert "3 passed, 1 error" in out, out
    (project / "tests" / "test_planted.py").unlink()

    # 2. bench (scenarios found through [tool.leakbench] suites), baseline save, commit
    instructions = shutil.which("valgrind") is not None
    code, out = sh("leakbench", "bench", "--no-compare", *QUICK,
                   *(() if instructions else ("--no-instructions",)))  # fmt: skip
    assert code == 0, out
    assert "(2 scenarios;" in out, out
    code, out = sh("leakbench", "baseline", "save")
    assert code == 0, out
    assert "added 2: cache.remember, cart.total" in out, out
    git("add", "baselines")
    git("commit", "-q", "-m", "leakbench baseline")

    # 3. two shards of the scenarios, merged, then gated against the baseline
    shards = []
    for k in (1, 2):
        target = tmp_path / f"bench-{k}.json"
        code, out = sh("leakbench", "bench", "--shard", f"{k}/2", *MEMORY, "--no-compare",
                       "--out", str(target))  # fmt: skip
        assert code == 0, out
        assert "(1 scenarios, shard" in out, out
        shards.append(str(target))
    merged = str(tmp_path / "all.json")
    code, out = sh("leakbench", "merge", *shards, "-o", merged)
    assert code == 0, out
    assert "2 scenarios, shards 1,2 of 2" in out, out
    code, out = sh("leakbench", "compare", merged)
    assert code == 0, out

    # 4. a branch whose cache keeps memory per call
    git("checkout", "-q", "-b", "more-memory")
    _edit(project / "shop" / "cache.py", MEMORY_REGRESSION)
    git("commit", "-q", "-am", "keep every key")
    code, out = sh("leakbench", "bench", "cache.remember", *MEMORY)  # ends with compare
    assert code == 1, out
    code, out = sh("leakbench", "compare")
    assert code == 1, out
    assert "cache.remember" in out and "regression" in out, out
    assert "not measured in this run" in out and "removed" not in out, out
    code, out = sh("leakbench", "compare-branches", "main", *MEMORY, "-s", "cache.remember")
    assert code == 1, out
    assert "cache.remember" in out and "regression" in out, out

    if not instructions:
        pytest.skip("valgrind is not installed: the instruction-count regression is not run")

    # 5. a branch whose cart total does 20 times the work
    git("checkout", "-q", "main")
    git("checkout", "-q", "-b", "more-work")
    _edit(project / "shop" / "cache.py", INSTRUCTION_REGRESSION)
    git("commit", "-q", "-am", "recount")
    code, out = sh("leakbench", "bench", "cart.total", "--no-compare", *QUICK)
    assert code == 0, out
    code, out = sh("leakbench", "compare")
    assert code == 1, out
    assert "cart.total" in out and "instructions" in out and "regression" in out, out
    code, out = sh("leakbench", "compare-branches", "main", "-s", "cart.total", "--no-pin",
                   "--max-time", "5")  # fmt: skip
    assert code == 1, out
    assert "cart.total" in out and "regression" in out, out


def _edit(path: Path, change: tuple[str, str]) -> None:
    old, new = change
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
