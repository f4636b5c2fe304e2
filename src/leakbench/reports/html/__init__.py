"""The self-contained HTML report (``page``) and its parts."""
