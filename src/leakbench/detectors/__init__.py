"""The detectors, by name. Each lives in its own module behind ``Detector``."""

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

DEFAULT: tuple[str, ...] = ("threads", "tasks", "processes", "fds", "patches", "warnings")
"""Cheap detectors that ``--leaks`` turns on."""
OPT_IN: tuple[str, ...] = ("objects", "globals")
"""Costlier detectors that must be named explicitly."""

__all__ = ["DEFAULT", "OPT_IN", "REGISTRY", "Detector", "DetectorConfig", "register"]


def register(cls: type[Detector[object]]) -> None:
    REGISTRY[cls.name] = cls


def known() -> tuple[str, ...]:
    return tuple(dict.fromkeys((*DEFAULT, *OPT_IN, *REGISTRY)))
