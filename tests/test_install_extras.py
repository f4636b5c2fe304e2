"""``pip install leakbench`` is the plugin alone; the gate needs ``leakbench[bench]``.

The plugin's entry points (``leakbench.plugin.hooks``, ``leakbench.plugin.bench``) must import
and check tests without memray, pytest-benchmark, click and rich; the ``leakbench`` command
must say in one line what to install (exit 2) instead of a traceback. Here the extra's
modules are blocked the way Python itself documents (``sys.modules[name] = None`` makes
``import name`` fail and ``importlib.util.find_spec`` answer None); ``make test`` also runs
``tests/test_plugin_oldest_pytest.py`` in ``.venv-oldest``, where they are not installed.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from leakbench.cli import entry

ROOT = Path(__file__).resolve().parent.parent
EXTRA = ("memray", "pytest_benchmark", "click", "rich")
BLOCK = "import sys\nfor name in {extra!r}:\n    sys.modules[name] = None\n"


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK.format(extra=EXTRA) + code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )


def test_the_plugin_needs_only_pytest_psutil_and_pympler() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = sorted(dep.split(">")[0].split("=")[0].strip() for dep in project["dependencies"])
    assert names == ["psutil", "pympler", "pytest"]
    bench = sorted(d.split(">")[0] for d in project["optional-dependencies"]["bench"])
    assert bench == ["click", "memray", "pytest-benchmark", "rich"]
    assert project["scripts"]["leakbench"] == "leakbench.cli.entry:main"


def test_importing_the_plugin_entry_points_imports_nothing_of_the_extra(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import leakbench, leakbench.plugin.hooks, leakbench.plugin.bench\n"
        f"print(sorted(m for m in {EXTRA!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_without_the_extra_the_plugin_catches_a_leak_and_measuring_says_what_to_install(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_it.py").write_text(
        "import threading\n\n"
        "def test_leaks():\n"
        "    threading.Thread(target=threading.Event().wait, daemon=True).start()\n\n"
        "def test_fixture(leakbench):\n"
        "    assert leakbench(sum, [1, 2]) == 3\n",
        encoding="utf-8",
    )
    code = (
        "import pytest\n"
        "plugins = ['-p', 'leakbench.plugin.hooks', '-p', 'leakbench.plugin.bench']\n"
        "base = ['-q', '-p', 'no:cacheprovider', *plugins, 'test_it.py']\n"
        "print('leaks-exit', int(pytest.main([*base, '--leaks'])))\n"
        "print('bench-exit', int(pytest.main([*base, '--leaks-bench'])))\n"
    )
    done = _python(code, tmp_path)
    out = done.stdout + done.stderr
    assert "leaks-exit 1" in done.stdout, out
    assert "test_it.py::test_leaks leaked 1 resource(s): threads" in done.stdout, out
    assert "2 passed, 1 error" in done.stdout, out  # test_leaks passes, then errors
    assert "bench-exit 4" in done.stdout, out
    assert (
        "ERROR: leakbench: --leaks-bench needs memray and pytest-benchmark: "
        "pip install 'leakbench[bench]'" in done.stderr
    ), out


def test_the_command_without_the_extra_names_it_in_one_line_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("memray", "rich"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(sys, "argv", ["leakbench", "bench"])
    with pytest.raises(SystemExit) as info:
        entry.main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err == (
        "leakbench: error: the leakbench command needs the bench extra (missing: rich, memray); "
        "install it with pip install 'leakbench[bench]'\n"
    )


def test_python_m_leakbench_goes_through_the_same_check(tmp_path: Path) -> None:
    done = _python("import runpy\nrunpy.run_module('leakbench', run_name='__main__')\n", tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "leakbench: error: the leakbench command needs the bench extra (missing: click, rich, "
        "memray, pytest-benchmark); install it with pip install 'leakbench[bench]'\n"
    )


def test_with_the_extra_the_command_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert entry.missing_modules() == []
    monkeypatch.setattr(sys, "argv", ["leakbench", "--version"])
    with pytest.raises(SystemExit) as info:
        entry.main()
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("leakbench, version ")
