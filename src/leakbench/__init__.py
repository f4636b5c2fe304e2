"""leakbench: catch leaks per test and gate memory/time regressions per scenario.

This module is the public API for a project's own scenario modules: a scenario module
imports what it needs from ``leakbench`` only, never from a package below it (those are
free to move). Everything else is used through the ``leakbench`` command and the pytest
plugin (``pytest --leaks``).
"""

from leakbench.gate.scenarios import Iteration, Scenario, Variant, discover

__version__ = "0.1.0"

__all__ = ["Iteration", "Scenario", "Variant", "__version__", "discover"]
