"""``unittest.mock`` patches started with ``start()`` and never stopped.

A forgotten ``patcher.start()`` keeps the fake in place for every later test: the
classic "passes alone, fails in the suite" bug. ``mock._patch._active_patches`` is
the list ``patch.stopall()`` uses, so it is exactly the set of live patches.
"""

from __future__ import annotations

import os
import unittest.mock
from typing import Any

from leakbench.detectors import origins
from leakbench.detectors.base import AllowFn, Detector
from leakbench.detectors.leak import Leak


def _active() -> list[Any]:
    return list(getattr(unittest.mock._patch, "_active_patches", []))


def describe_target(patcher: Any) -> str:
    """``module.attr`` for ``patch``/``patch.object``, ``dict 'name'`` for ``patch.dict``."""
    attribute = getattr(patcher, "attribute", None)
    if attribute is not None:
        try:
            target = patcher.getter()
        except Exception:  # the target may have been deleted meanwhile
            target = None
        owner = getattr(target, "__name__", None) or type(target).__name__
        return f"{owner}.{attribute}"
    in_dict = getattr(patcher, "in_dict", None)
    if in_dict is not None:
        name = in_dict if isinstance(in_dict, str) else type(in_dict).__name__
        if in_dict is os.environ:
            name = "os.environ"
        return f"dict {name}"
    return repr(patcher)


class PatchesDetector(Detector[frozenset[int]]):
    name = "patches"
    description = "mock patches started with start() and never stopped"

    def snapshot(self) -> frozenset[int]:
        return frozenset(id(p) for p in _active())

    def find(self, baseline: frozenset[int], allowed: AllowFn) -> list[Leak]:
        leaks = []
        for patcher in _active():
            if id(patcher) in baseline:
                continue
            target = describe_target(patcher)
            stack = origins.patch_origin(patcher)
            details = origins.stack_details("started at", stack)
            leak = Leak(
                kind=self.name,
                summary=f"patch of {target} was started and never stopped",
                details=tuple(details),
                keys=(target,),
                by_library=origins.is_library_stack(stack),
            )
            if not allowed(leak):
                leaks.append(leak)
        return leaks
