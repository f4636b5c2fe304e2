"""Renderers of a :class:`~leakbench.gate.verdicts.records.Comparison`.

Each reporter reads comparison records and never measures or compares (the
measure-then-render rule of pytest-memray): ``terminal`` (rich table),
``markdown`` (pull-request comment, ``$GITHUB_STEP_SUMMARY``) and ``json_report``.
Formatting shared by the text reporters lives in ``_format``.
"""

from __future__ import annotations

__all__ = ["json_report", "markdown", "terminal"]
