"""Renderers: they read records and never measure, compare, run statistics or read the machine.

The measure-then-render rule of pytest-memray, so that what a report says is what the gate
decided. Of a :class:`~leakbench.gate.verdicts.records.Comparison`: ``terminal`` (rich
table), ``markdown`` (pull-request comment, ``$GITHUB_STEP_SUMMARY``) and ``json_report``,
with their shared cell texts in ``cells``. Of ``leakbench workers``' records:
``workers_table``. The HTML report of a results file: ``html`` (``page``, ``chart``,
``parts``, ``template``, ``workers``, ``flamegraphs``), its input computed by
``leakbench.cli.report``.
"""

from __future__ import annotations

__all__ = ["cells", "html", "json_report", "markdown", "terminal", "workers_table"]
