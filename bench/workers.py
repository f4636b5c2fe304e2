"""``leakbench workers`` on this repository's own scenario suites: a real table and advice.

Run: ``.venv/bin/python bench/workers.py`` (1-3 minutes here, depending on load). Extra
arguments go to ``leakbench workers`` (e.g. ``--repeat 5``); ``--clean-only`` runs only
the clean scenarios.

It runs::

    leakbench workers --levels 0,1,2,4 --repeat 3 --groups --json .leakbench/workers/suites.json \\
        -- suites/ -q -p no:randomly \\
           --deselect suites/test_locator_order.py::TestLeakyLocator::test_default_endpoint \\
           -W ignore::pytest.PytestUnraisableExceptionWarning

Two adjustments make the suite pass at every level, which a recommendation needs:

- the leaky locator pair is order-dependent on purpose (its second test fails after the
  first in the same process), so its failing half is deselected;
- the leaky httpx and chroma scenarios drop sockets on purpose; the ``ResourceWarning`` of
  a dropped socket surfaces when the garbage collector gets to it, on whatever test runs
  then, which this repository's ``filterwarnings = error`` turns into a failure of an
  innocent clean test. ``pytest --leaks`` is what reports those leaks; here they are noise.

Prints the table and the recommendation (leakbench's own output), then one line comparing
the recommended level with ``-n 1`` from the JSON. Exit status: leakbench's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JSON = Path(".leakbench") / "workers" / "suites.json"
ALL_SCENARIOS = (
    "suites/",
    "-q",
    "-p",
    "no:randomly",
    "--deselect",
    "suites/test_locator_order.py::TestLeakyLocator::test_default_endpoint",
    "-W",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
CLEAN_ONLY = ("suites/", "-q", "-p", "no:randomly", "-k", "not leaky")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean-only", action="store_true", help="only the clean scenarios")
    args, extra = parser.parse_known_args(argv)
    pytest_args = CLEAN_ONLY if args.clean_only else ALL_SCENARIOS
    options = ["--levels", "0,1,2,4", "--repeat", "3", "--groups", "--json", str(JSON), *extra]
    command = [sys.executable, "-m", "leakbench", "workers", *options, "--", *pytest_args]
    print("$ leakbench " + " ".join(command[3:]), flush=True)
    code = subprocess.run(command, cwd=ROOT).returncode
    path = ROOT / JSON
    if code in (0, 1) and path.exists():
        print(speedup(json.loads(path.read_text(encoding="utf-8"))))
    return code


def speedup(doc: dict[str, Any]) -> str:
    """``-n 0 takes 0.52x the time of -n 1``: the recommendation against one worker."""
    levels = {lv["workers"]: lv for lv in doc["levels"]}
    chosen = doc["recommendation"]["workers"]
    if chosen is None or 1 not in levels or levels[1]["time_median"] is None:
        return "no recommendation to compare with -n 1"
    ratio = levels[chosen]["time_median"] / levels[1]["time_median"]
    return f"-n {chosen} takes {ratio:.2f}x the wall time of -n 1 on this machine"


if __name__ == "__main__":
    sys.exit(main())
