"""leakbench: catch leaks per test and gate memory/time regressions per scenario."""

__version__ = "0.1.0"

__all__ = ["__version__"]
