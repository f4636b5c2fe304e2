"""The per-test leak report groups leaks of one site and caps its entries.

A test that leaks the same thing many times (a thread started in a loop, or once per
timed round of a leakbench-marked test) must not print every leak's stack: one entry
with a count says all there is, and the ``--leaks-json`` document keeps the full list.
"""

from __future__ import annotations

import json

import pytest

from conftest import Run
from leakbench.detectors.leak import Leak
from leakbench.plugin.policy import allow_matcher
from leakbench.plugin.text import SECTION_ENTRIES, format_section

STACK = ("started at:", '  File "/p/tests/test_x.py", line 7, in test_x')

SAME_SITE = """
import threading

STOP = threading.Event()


def start(name):
    thread = threading.Thread(target=STOP.wait, name=name, daemon=True)
    thread.start()


def test_fifty_from_one_line():
    for _ in range(50):
        start("stray")
"""

TWO_SITES = """
import threading

STOP = threading.Event()


def test_two_sites():
    for _ in range(3):
        threading.Thread(target=STOP.wait, name="first", daemon=True).start()
    for _ in range(4):
        threading.Thread(target=STOP.wait, name="second", daemon=True).start()
"""

ONE_LEAK = """
import threading

STOP = threading.Event()


def test_one():
    threading.Thread(target=STOP.wait, name="lonely", daemon=True).start()
"""


def _section(stdout: list[str], test: str) -> list[str]:
    """The lines of ``test``'s teardown error, up to the next pytest rule."""
    start = next(i for i, line in enumerate(stdout) if f"teardown of {test}" in line)
    end = next(
        (i for i in range(start + 1, len(stdout)) if stdout[i].startswith(("___", "==="))),
        len(stdout),
    )
    return stdout[start + 1 : end]


def test_fifty_threads_from_one_line_are_one_entry_and_the_document_keeps_all(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(test_same=SAME_SITE)
    result = run("--leaks", "--leaks-json=leaks.json")
    result.assert_outcomes(passed=1, errors=1)  # still a failure of the test
    section = _section(result.outlines, "test_fifty_from_one_line")
    assert section[0].endswith("leaked 50 resource(s): threads"), section[0]
    entries = [line for line in section if line.startswith("[threads]")]
    assert entries == [
        "[threads] thread 'stray' (daemon=True, target=threading.Event.wait) is still running"
    ], section
    assert section[2] == "    (x50, the same creation stack)"
    assert sum(1 for line in section if line.strip() == "started at:") == 1
    assert any('test_same.py", line ' in line and "in start" in line for line in section)
    assert len(section) < 30, "\n".join(section)
    assert len(result.outlines) < 60, result.stdout.str()
    document = json.loads((leak_project.path / "leaks.json").read_text())
    (record,) = [t for t in document["tests"].values() if t.get("leaks")]
    assert len(record["leaks"]) == 50


def test_two_leak_sites_are_two_entries(leak_project: pytest.Pytester, run: Run) -> None:
    leak_project.makepyfile(test_two=TWO_SITES)
    result = run("--leaks")
    result.assert_outcomes(passed=1, errors=1)
    section = _section(result.outlines, "test_two_sites")
    entries = [
        (line, section[i + 1]) for i, line in enumerate(section) if line.startswith("[threads]")
    ]
    assert len(entries) == 2, section
    assert "'first'" in entries[0][0] and entries[0][1] == "    (x3, the same creation stack)"
    assert "'second'" in entries[1][0] and entries[1][1] == "    (x4, the same creation stack)"


def test_a_single_leak_shows_its_stack_as_before(leak_project: pytest.Pytester, run: Run) -> None:
    leak_project.makepyfile(test_one=ONE_LEAK)
    result = run("--leaks")
    result.assert_outcomes(passed=1, errors=1)
    section = _section(result.outlines, "test_one")
    assert section[1] == (
        "[threads] thread 'lonely' (daemon=True, target=threading.Event.wait) is still running"
    )
    assert section[2] == "    started at:"
    assert 'test_one.py", line 7, in test_one' in section[3]
    assert section[4] == "    running now:"
    assert "(x" not in "\n".join(section)


def test_distinct_entries_are_capped_with_where_the_full_list_is() -> None:
    leaks = [
        Leak("threads", f"thread 'w{n}' is still running", details=(f"created by case {n}",))
        for n in range(SECTION_ENTRIES + 7)
    ]
    text = format_section("t.py::test_x", leaks, json_path="out.json").splitlines()
    assert text[0] == f"leakbench: t.py::test_x leaked {SECTION_ENTRIES + 7} resource(s): threads"
    assert sum(1 for line in text if line.startswith("[threads]")) == SECTION_ENTRIES
    assert "... and 7 more leak(s) not shown; the full list is in out.json (--leaks-json)" in text
    assert text[-1].startswith("Fix the test, or allow it")
    unnamed = format_section("t.py::test_x", leaks).splitlines()
    assert any(
        line.endswith("the full list is in the file --leaks-json=PATH writes") for line in unnamed
    )


def test_numbers_in_a_description_group_but_stackless_leaks_must_match_exactly() -> None:
    numbered = [
        Leak("threads", f"thread 'Thread-{n} (wait)' is still running", details=STACK)
        for n in range(1, 4)
    ]
    text = format_section("t.py::test_x", numbered).splitlines()
    assert text[1:3] == [
        "[threads] thread 'Thread-1 (wait)' is still running",
        "    (x3, the same creation stack)",
    ]
    # Without a creation stack, two files are two leaks even if only a number differs...
    files = [Leak("fds", f"fd {n} open: /tmp/out{n}.txt") for n in (5, 6)]
    assert len([line for line in format_section("t", files).splitlines() if "[fds]" in line]) == 2
    # ...but an object's address never makes two entries.
    unclosed = [Leak("warnings", f"unclosed <socket at 0x{n:x}f>") for n in (10, 11)]
    assert "[warnings] unclosed <socket at 0xaf>\n    (x2)\n" in format_section("t", unclosed)
    # ...and the same line twice is one entry with a count, but no stack claimed.
    twice = [Leak("patches", "patch of os.getcwd never stopped")] * 2
    assert "[patches] patch of os.getcwd never stopped\n    (x2)\n" in format_section("t", twice)
    # Different kinds, or a counted and an excused leak, never share an entry.
    mixed = [
        Leak("threads", "same", details=STACK),
        Leak("tasks", "same", details=STACK),
        Leak("threads", "same", details=STACK, excused="kept alive by the traceback"),
    ]
    entries = [line for line in format_section("t", mixed).splitlines() if line[:1] == "["]
    assert entries == ["[threads] same", "[tasks] same", "[threads] same"]


def test_a_library_groups_allow_pattern_covers_every_leak_of_it() -> None:
    pool = [
        Leak("threads", f"thread 'pool_{n}'", details=STACK, keys=(f"pool_{n}",), by_library=True)
        for n in range(3)
    ]
    text = format_section("t", pool)
    assert "--leaks-allow='threads:pool_*'" in text
    assert allow_matcher(["threads:pool_*"])(pool[2])
    one = format_section("t", pool[:1])
    assert "--leaks-allow='threads:pool_0'" in one and "(x" not in one
