"""The self-contained HTML report: ``page`` (layout, from a ``ReportInput``), ``chart`` (SVG
line charts), ``parts`` (size and time cells), ``template`` (inline CSS and script),
``workers`` (the worker-sizing table from a ``leakbench workers --json`` file) and
``flamegraphs`` (``memray flamegraph`` runs, never failing the report)."""
