"""Registers the run-level plugin objects that ``--leaks-json``, ``--leaks-rss`` and the
memory guard need, in the processes that need them.

- ``TestsRecord`` where the run is reported (the xdist controller, or the only
  process), with ``XdistMerge`` when xdist is installed (its hook specs exist
  only then);
- ``WorkerMemory`` where tests run (each worker, or the only process);
- ``TestMemory`` (per-test readings, the guard) only with ``--leaks-rss`` or a limit.

Nothing here is registered when none of these options is given, so the run pays
nothing for them.
"""

from __future__ import annotations

import pytest

from leakbench._util.proc import SelfMemory
from leakbench.plugin import options, xdist
from leakbench.plugin.memory import MemoryGuard, TestMemory, WorkerMemory
from leakbench.plugin.record import TestsRecord, worker_id

__all__ = ["register"]


def register(config: pytest.Config, resolved: options.Settings) -> None:
    """The run's record where the run is reported; memory readings where tests run."""
    if resolved.limits.max_total_rss is not None:
        conflict = xdist.total_guard_conflict(config)
        if conflict:
            raise pytest.UsageError(conflict)
    record = None
    if not hasattr(config, "workerinput"):
        record = TestsRecord(resolved.json_path, show_memory=resolved.rss)
        config.pluginmanager.register(record, "leakbench-record")
        if config.pluginmanager.hasplugin("xdist"):  # its hook specs exist only then
            config.pluginmanager.register(xdist.XdistMerge(record), "leakbench-xdist")
    if xdist.is_distributing(config):  # the controller runs no tests
        return
    probe = SelfMemory()
    config.add_cleanup(probe.close)
    memory = WorkerMemory(probe)
    config.pluginmanager.register(memory, "leakbench-worker-memory")
    if record is not None:
        record.local_summary = memory.summary
    if resolved.measures_memory:
        limits = resolved.limits
        root = xdist.controller_pid(config)
        workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
        guard = MemoryGuard(limits, root, workers=workers) if limits.active else None
        watch = TestMemory(memory, worker_id(config), resolved.rss, guard)
        config.pluginmanager.register(watch, "leakbench-test-memory")
