"""``--format json``: the comparison record as a versioned JSON document."""

from __future__ import annotations

import json

from leakbench.gate.verdicts.records import Comparison


def render(comparison: Comparison) -> str:
    """The ``leakbench-comparison`` document, indented, ending in a newline.

    Infinite changes (BASE 0) are spelled ``"inf"``: JSON has no infinity, and a
    consumer must not get ``Infinity`` that strict parsers reject.
    """
    return json.dumps(comparison.to_dict(), indent=2, allow_nan=False) + "\n"
