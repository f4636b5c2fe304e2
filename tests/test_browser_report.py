"""The HTML report in a real browser: headless Chromium renders every chart, no errors.

Skipped (with the reason) only where ``/usr/bin/chromium`` is absent; ``apt-get install -y
chromium`` provides it on Debian. Chromium runs with a fresh profile and every background
service off, so the test neither needs nor touches the network, and is killed after
:data:`TIMEOUT` seconds rather than hanging the suite.

Checks go through ``--dump-dom`` (the DOM after the page's scripts ran): the report's inline
script marks each ``svg.chart`` ``data-rendered="yes"`` once its polylines laid out with a
non-empty box, and records JavaScript errors in ``<html data-errors>``. Chromium's own
console log (``--enable-logging=stderr``) is searched for console errors as well.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from leakbench._util.atomic import write_text_atomic
from leakbench.cli.report import page_input
from leakbench.gate.verdicts.budgets import BudgetConfig
from leakbench.reports.html import page as html_page
from test_report_html import sample_results

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 60
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no browser: /usr/bin/chromium is absent "
    "(install it with `apt-get install -y chromium`)",
)


def chromium(tmp_path: Path, profile: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a fresh profile under ``tmp_path``; fail on timeout."""
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / profile}", *args]
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT} s: {' '.join(command)}")


def test_every_chart_renders_without_console_errors(tmp_path: Path) -> None:
    head = sample_results()
    base = sample_results(commit="b" * 40, leak=15_000)
    report = tmp_path / "report" / "index.html"
    page = html_page.render(
        page_input(head, "latest.json", BudgetConfig(), base=base, base_label="base.json"),
        report.parent,
    )
    write_text_atomic(report, page)
    url = report.as_uri()

    dom = chromium(tmp_path, "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = dom.stdout
    rendered = dict(
        re.findall(r'<svg class="chart" data-scenario="([^"]+)"[^>]*data-rendered="(\w+)"', page)
    )
    assert rendered == {name: "yes" for name in head.scenarios}, rendered
    assert re.search(rf'data-rendered="{len(head.scenarios)}"', page), page[:500]
    errors = re.search(r'<html[^>]*data-errors="([^"]*)"', page)
    assert errors is not None and errors.group(1) == "", errors and errors.group(1)
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console

    shot = tmp_path / "report.png"
    taken = chromium(
        tmp_path, "profile-shot", f"--screenshot={shot}", "--window-size=1280,2000", url
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 10_000
