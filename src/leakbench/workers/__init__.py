"""``leakbench workers``: run a suite at several ``-n`` levels and choose one.

In data-path order: ``run`` (one sampled, guarded pytest run -> ``PytestRun``; the
``Machine`` record), ``choose`` (level summaries and the recommendation rule), ``groups``
(``--groups``: per-test costs, the heavy / long / light split). Rendering is
``leakbench.reports.workers_table``'s; the command is ``leakbench.cli.workers``.
"""
