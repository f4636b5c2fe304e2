"""The detectors, by name. Each lives in its own module behind ``Detector``.

``REGISTRY`` is the one list of kinds: the default and opt-in lists, the names that
``--leaks=``, the ``allow_leaks`` marker and ``kind:`` patterns accept, and the help
texts are all derived from it (and from each detector's class attributes).
"""

from __future__ import annotations

from leakbench.detectors.base import Detector, DetectorConfig
from leakbench.detectors.fds import FdsDetector
from leakbench.detectors.globals_state import GlobalsDetector
from leakbench.detectors.objects import ObjectsDetector
from leakbench.detectors.patches import PatchesDetector
from leakbench.detectors.processes import ProcessesDetector
from leakbench.detectors.resource_warnings import WarningsDetector
from leakbench.detectors.tasks import TasksDetector
from leakbench.detectors.threads import ThreadsDetector

REGISTRY: dict[str, type[Detector[object]]] = {
    cls.name: cls  # type: ignore[misc]
    for cls in (
        ThreadsDetector,
        TasksDetector,
        ProcessesDetector,
        FdsDetector,
        PatchesDetector,
        WarningsDetector,
        ObjectsDetector,
        GlobalsDetector,
    )
}
"""Every detector by name, in the order reports and help texts list them."""

DEFAULT: tuple[str, ...] = tuple(name for name, cls in REGISTRY.items() if cls.default_on)
"""Cheap detectors that ``--leaks`` turns on."""
OPT_IN: tuple[str, ...] = tuple(name for name, cls in REGISTRY.items() if not cls.default_on)
"""Costlier detectors that must be named explicitly."""

__all__ = ["DEFAULT", "OPT_IN", "REGISTRY", "Detector", "DetectorConfig", "known"]


def known() -> tuple[str, ...]:
    """Every detector name: the defaults first, then the opt-in ones."""
    return (*DEFAULT, *OPT_IN)
