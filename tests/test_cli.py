"""The console script answers --version and --help without a project around it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from leakbench import __version__
from leakbench.cli.main import cli
from leakbench.cli.progress import Steps

COMMANDS = ("bench", "compare", "baseline", "workers", "report", "compare-branches", "merge")


def leakbench(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m leakbench ARGS``: the entry point a user runs, not the click object."""
    return subprocess.run(
        [sys.executable, "-m", "leakbench", *args], capture_output=True, text=True, check=True
    )


def listed_commands(help_text: str) -> list[str]:
    """The names in the ``Commands:`` section of a click group's help, in order."""
    lines = help_text.splitlines()
    start = lines.index("Commands:") + 1
    names = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        if not line.startswith("   "):  # a wrapped description is indented further
            names.append(line.split()[0])
    return names


def test_version_prints_the_package_version() -> None:
    assert leakbench("--version").stdout.strip() == f"leakbench, version {__version__}"


def test_help_lists_exactly_the_seven_subcommands() -> None:
    assert sorted(listed_commands(leakbench("--help").stdout)) == sorted(COMMANDS)


def test_the_command_list_parser_reads_names_not_descriptions() -> None:
    text = "\n".join(
        ["Usage: x", "", "Commands:", "  compare  Compare RESULTS", "           wrapped", "  r  x"]
    )
    assert listed_commands(text) == ["compare", "r"]


@pytest.mark.parametrize("name", COMMANDS)
def test_each_subcommand_answers_help(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {name} "), result.output.splitlines()[0]


def test_progress_prints_one_numbered_line_per_step_where_stderr_is_no_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with Steps("workers", 4) as steps:
        steps.begin("-n 1  run 1/1")
        steps.advance()
        steps.advance()  # a skipped step: counted, not printed
        steps.next("-n 4  run 1/1")
        steps.next("groups")  # the previous step ends when the next one starts
        assert steps.completed == 3
        steps.finish()
        assert steps.completed == 4
    lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == ["[1/4] -n 1  run 1/1", "[3/4] -n 4  run 1/1", "[4/4] groups"]
