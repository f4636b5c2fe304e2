"""Running the ``leakbench`` command in-process and reading its one-line errors, shared by
the CLI tests (no tests here)."""

from __future__ import annotations

from click.testing import CliRunner, Result

from leakbench.cli.main import cli


def run(*args: str) -> Result:
    """``leakbench ARGS`` in this process (click's runner), output captured."""
    return CliRunner().invoke(cli, list(args))


def one_line_error(result: Result, *fragments: str) -> str:
    """Assert exit 2 and a single output line containing every fragment; return the line."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
