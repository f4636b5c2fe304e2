"""The sharded workflow of ``docs/ci.md`` and ``docs/your-project.md``: the same in both,
valid for actionlint (and shellcheck), and its test-sharding script works: N shards of a
project's tests, each run with ``--leaks-json``, merged by ``leakbench merge``, hold every test
exactly once."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from leakbench.cli.main import cli
from leakbench.plugin.record import read_tests

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)


def sharded_workflow(doc: str) -> str:
    """The one YAML block of ``docs/<doc>`` that runs ``leakbench merge``."""
    blocks = [
        b for b in YAML_BLOCK.findall((REPO / "docs" / doc).read_text()) if "leakbench merge" in b
    ]
    assert len(blocks) == 1, doc
    return str(blocks[0])


def _tool(name: str) -> str | None:
    local = BIN / name
    return str(local) if local.is_file() else shutil.which(name)


def test_both_pages_show_the_same_workflow() -> None:
    workflow = sharded_workflow("ci.md")
    assert workflow == sharded_workflow("your-project.md")
    needs = (
        "--shard ${{ matrix.shard }}/3",
        "--leaks-json leaks-${{ matrix.shard }}.json",
        "leakbench compare --results bench.json",
        "needs: [tests, scenarios]",
    )
    for needed in needs:
        assert needed in workflow, needed


@pytest.mark.skipif(_tool("actionlint") is None, reason="actionlint not installed")
def test_the_sharded_workflow_passes_actionlint(tmp_path: Path) -> None:
    target = tmp_path / ".github" / "workflows" / "sharded.yml"
    target.parent.mkdir(parents=True)
    target.write_text(sharded_workflow("ci.md"), encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    proc = subprocess.run(
        [str(_tool("actionlint")), "-oneline", "-no-color", "-shellcheck",
         _tool("shellcheck") or "", str(target)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_test_sharding_script_covers_every_test_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bytecode_cache: Path | None
) -> None:
    step = sharded_workflow("ci.md").split("every third test, checked for leaks", 1)[1]
    script = step.split("run: |\n", 1)[1].split("\n      - ", 1)[0]
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n',
        encoding="utf-8",
    )
    tests = tmp_path / "tests"
    tests.mkdir()
    for module in ("a", "b"):
        (tests / f"test_{module}.py").write_text(
            "import pytest\n\n\n@pytest.mark.parametrize('n', [1, 2, 3])\n"
            "def test_n(n):\n    assert n\n\n\ndef test_plain():\n    pass\n",
            encoding="utf-8",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "LEAKBENCH_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    env["PYTEST_ADDOPTS"] = "-p no:randomly -p no:cacheprovider"
    if bytecode_cache is not None:  # compile the plugins once, not in each of six processes
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
    for k in (1, 2, 3):
        proc = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script.replace("${{ matrix.shard }}", str(k))],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(read_tests(tmp_path / f"leaks-{k}.json")) == 8 // 3 + (k <= 8 % 3)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["merge", "leaks-1.json", "leaks-2.json", "leaks-3.json", "-o", "leaks.json"]
    )
    assert result.exit_code == 0, result.output
    merged = json.loads((tmp_path / "leaks.json").read_text(encoding="utf-8"))["tests"]
    assert len(merged) == 8
    assert {rec["outcome"] for rec in merged.values()} == {"passed"}
