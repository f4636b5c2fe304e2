"""Issue 14 cases the matrix files did not yet hold (found when checking every row and UX gap
against the code before the issue, 3621028).

A second Ctrl-C while a measurement child's scratch folder is being removed: before, the
removal stopped half-way and a ``leakbench-child-*`` (earlier ``leakbench-mem-*``) folder stayed
in the temporary directory (seen 5 times in 20 double Ctrl-Cs of a real ``leakbench bench``).
Here the second interrupt comes at a known moment, so the case is deterministic.

A scenario name that closes its Markdown code span with a backtick and then holds HTML: before,
``a`<img ...>``` became a real ``<img>`` element of the rendered summary (the names alone,
``<img ...>`` or ``a`b``, are in ``test_bad_input_documents.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from markdown_it import MarkdownIt

from leakbench.gate.measure import child
from leakbench.gate.verdicts.budgets import BudgetConfig
from leakbench.gate.verdicts.rules import compare
from leakbench.reports import markdown
from test_compare_support import memory, results, scenario


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in this process, even in an xdist worker (which may
    ignore SIGINT); the previous handler is put back afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_while_the_child_folder_is_removed_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, python_sigint: None
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def first_ctrl_c(*args: Any, **kwargs: Any) -> NoReturn:
        raise KeyboardInterrupt  # the first Ctrl-C, while the child runs

    real_rmtree = shutil.rmtree
    seconds: list[str] = []

    def second_ctrl_c(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).name.startswith("leakbench-"):
            seconds.append(str(path))
            os.kill(os.getpid(), signal.SIGINT)  # the second one, as the removal starts
            for _ in range(100):  # Python runs a pending handler between bytecodes
                pass
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(child, "run_child", first_ctrl_c)
    monkeypatch.setattr(shutil, "rmtree", second_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        child.run_in_child("memory", {}, dict, root=tmp_path, timeout=5.0, what="memory pass of x")
    assert seconds, "the scratch folder was never removed"
    assert sorted(p.name for p in tmp_path.glob("leakbench-*")) == []


@pytest.mark.parametrize(
    "name",
    [
        "a`<img src=x onerror=alert(1)>`",
        "``<img src=x onerror=alert(1)>``",
        "`<img src=x onerror=alert(1)>",
        "x` <b>bold</b> `y",
    ],
)
def test_a_name_closing_its_code_span_never_becomes_html_in_markdown(name: str) -> None:
    base = results({name: scenario(memory(0.0))})
    head = results({name: scenario(memory(50_000.0))})
    comparison = compare(base, head, BudgetConfig(), base_label="b.json", head_label="h.json")
    text = markdown.render(comparison, verbose=True)
    parser = MarkdownIt("commonmark").enable("table")
    rendered = parser.render(text)
    assert "<img" not in rendered and "<b>" not in rendered, text
    inline = [c for t in parser.parse(text) if t.children for c in t.children]
    assert name in {c.content for c in inline if c.type == "code_inline"}, text  # shown whole


def test_a_second_ctrl_c_while_saying_interrupted_still_exits_130(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, ``bench`` hit twice with Ctrl-C printed "interrupted" and then, in 7 of 20
    runs, died of the second SIGINT (exit -2 to a shell, not 130)."""
    from leakbench.cli import main as cli_main

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    said: list[str] = []

    monkeypatch.setattr(
        "leakbench.cli.main.click.echo", lambda message, **kwargs: said.append(message)
    )
    try:
        with pytest.raises(SystemExit) as exited:
            cli_main.interrupted(KeyboardInterrupt())
        assert exited.value.code == 130
        assert said == ["leakbench: interrupted"]
        # The second Ctrl-C, after the line was printed, on the way out of the process:
        # before, it raised KeyboardInterrupt here and the process died of SIGINT.
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(100):  # Python runs a pending handler between bytecodes
            pass
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN  # a late SIGTERM too
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@pytest.mark.parametrize("blocked", ["heavy-file-is-a-folder", "groups-folder-is-a-file"])
def test_workers_groups_that_cannot_be_written_are_refused_before_any_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocked: str
) -> None:
    """Before, ``workers --groups`` measured every level and then crashed with a raw
    ``IsADirectoryError`` when ``.leakbench/groups/heavy.txt`` was a folder."""
    from cli_support import one_line_error, run

    monkeypatch.chdir(tmp_path)
    ran = tmp_path / "ran"
    (tmp_path / "test_one.py").write_text(
        f"def test_one():\n    open({str(ran)!r}, 'w').close()\n", encoding="utf-8"
    )
    groups = tmp_path / ".leakbench" / "groups"
    if blocked == "heavy-file-is-a-folder":
        (groups / "heavy.txt").mkdir(parents=True)
        named = "heavy.txt"
    else:
        groups.parent.mkdir()
        groups.write_text("not a folder\n", encoding="utf-8")
        named = "groups"
    line = one_line_error(run("workers", "--groups", "--levels", "0"), "--groups", named)
    assert "is a folder" in line or "is not a folder" in line
    assert not ran.exists()  # refused before pytest ran


def test_a_bad_scenario_definition_is_not_called_an_import_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by following docs/your-project.md: a scenario defined twice (or with a bad name)
    in a package that imports fine was reported as ``--suites 'benchmarks': cannot import
    it``, naming an option the user never gave."""
    from cli_support import one_line_error, run

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "benchmarks_twice"
    package.mkdir()
    (package / "pricing.py").write_text(
        "from leakbench import Scenario\n"
        "def _session(iterations):\n    return None\n"
        "SCENARIOS = [Scenario(name='pricing.lookup', session=_session),\n"
        "             Scenario(name='pricing.lookup', session=_session)]\n",
        encoding="utf-8",
    )
    line = one_line_error(
        run("bench", "--suites", "benchmarks_twice", "--no-compare"), "pricing.lookup", "twice"
    )
    assert "cannot import" not in line
