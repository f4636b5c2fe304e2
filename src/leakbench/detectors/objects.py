"""Objects of one type that a test created and left alive (opt-in: ``--leaks=objects``).

A census of the whole heap costs ~20 ms per test on a big suite, and pympler's
summaries cost seconds. Instead, before the test every existing object is moved to
the garbage collector's permanent generation (``gc.freeze()``), so that after the
test ``gc.get_objects()`` returns only the objects created since, and
``gc.collect()`` only traverses those: a clean test costs a few microseconds, plus
a full collection now and then (at most ~5% of the run's time) so that garbage
frozen along with the heap is still freed. Whatever survives that collection is
counted by type; pympler's ``asizeof`` then sizes a sample of each type that grew
by at least ``objects_threshold`` instances, for the report only. The heap is
always unfrozen after the check: frozen objects are never collected.

Counting rules:

* Only objects the collector tracks are seen (instances, containers; not ints or
  strings), which is where retained memory hides in practice.
* Every ``Mock`` instance has its own subclass; they are grouped under their base
  mock class, so 500 mocks are one line, not 500 lines of one.
* What imports create (functions, code, modules, classes, descriptors, and every
  object reachable from a module first imported during the test) is not a leak:
  it is the price of the first test that imports a library.
* Weak references retain nothing, so they are not counted either.

Fixture adoption: a session/module/class fixture set up inside a test is censused
before and after its setup (without freezing, which would hide the test's own
objects), and what it created is subtracted from the test's growth.
"""

from __future__ import annotations

import gc
import math
import sys
import time
import types
import unittest.mock
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leakbench._util.sizes import format_size
from leakbench.detectors.base import AllowFn, Detector, DetectorConfig
from leakbench.detectors.leak import Leak

EXCLUDED_TYPES: frozenset[type] = frozenset(
    {
        types.FunctionType,
        types.CodeType,
        types.ModuleType,
        types.CellType,
        types.BuiltinFunctionType,
        types.MethodDescriptorType,
        types.WrapperDescriptorType,
        types.GetSetDescriptorType,
        types.MemberDescriptorType,
        types.ClassMethodDescriptorType,
        types.MethodWrapperType,
        types.FrameType,
        classmethod,
        staticmethod,
        property,
        weakref.ReferenceType,
        weakref.ProxyType,
        weakref.CallableProxyType,
    }
)
"""Code-ish types that imports create, and weak references, which retain nothing."""

SAMPLE_SIZE = 50
FULL_COLLECT_SPACING = 20
MAX_REPORTED = 10


@dataclass(frozen=True)
class ObjectsSnapshot:
    """The baseline (``frozen``) or a census taken inside a test for fixture adoption."""

    frozen: bool
    counts: Mapping[str, int] = field(default_factory=dict)
    """Baseline: instances to forgive (adopted from wider fixtures). Census: new instances."""


def type_key(cls: type) -> str | None:
    """The group an object's type is counted under; None for excluded types."""
    if cls in EXCLUDED_TYPES or issubclass(cls, type):
        return None
    if issubclass(cls, unittest.mock.NonCallableMock):
        # Mock() makes a one-off subclass with the same name per instance.
        for base in cls.__mro__[1:]:
            if base.__name__ == cls.__name__:
                cls = base
            else:
                break
    module = getattr(cls, "__module__", None) or ""
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module == "builtins" else f"{module}.{name}"


def group_counts(type_counts: Mapping[type, int]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for cls, n in type_counts.items():
        key = type_key(cls)
        if key is not None:
            counts[key] += n
    return counts


def reachable_new_objects(roots: Iterable[Any], new_ids: set[int]) -> list[Any]:
    """Objects among ``new_ids`` reachable from ``roots`` through new objects only."""
    seen: set[int] = set()
    found: list[Any] = []
    stack = [root for root in roots if id(root) in new_ids]
    for root in stack:
        seen.add(id(root))
    while stack:
        obj = stack.pop()
        found.append(obj)
        for ref in gc.get_referents(obj):
            ref_id = id(ref)
            if ref_id in new_ids and ref_id not in seen:
                seen.add(ref_id)
                stack.append(ref)
    return found


class ObjectsDetector(Detector[ObjectsSnapshot]):
    name = "objects"
    description = "objects of one type created by the test that survive garbage collection"
    default_on = False
    kept_by_traceback = True
    held_by_fixture_values = True

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._frozen = False
        self._last_full = -math.inf
        self._full_cost = 0.0
        self._sentinel: list[Any] = []
        self._modules = 0
        """``len(sys.modules)`` at the freeze: modules after that index are new."""

    def stop(self) -> None:
        self._unfreeze()

    def _unfreeze(self) -> None:
        if self._frozen:
            self._frozen = False
            gc.unfreeze()

    def snapshot(self) -> ObjectsSnapshot:
        if self._frozen:
            # Inside a test, around a wider fixture's setup: census, don't freeze
            # (freezing now would hide what the test created so far).
            gc.collect()
            type_counts, _ = self._count(gc.get_objects())
            return ObjectsSnapshot(frozen=False, counts=group_counts(type_counts))
        # Garbage frozen now is only freed by a full collection between an unfreeze
        # and the next freeze, and a full collection costs ~8 ms on a 40k-object
        # heap here. Young garbage is cheap to free every time; old cyclic garbage
        # (dropped wider-fixture values) waits for a full collection, run when the
        # time since the last one is FULL_COLLECT_SPACING times what it cost: at
        # most ~5% of the run, and old garbage lives a bounded time.
        start = time.perf_counter()
        if start - self._last_full >= FULL_COLLECT_SPACING * self._full_cost:
            gc.collect()
            self._last_full = time.perf_counter()
            self._full_cost = self._last_full - start
        else:
            gc.collect(1)
        self._sentinel = []  # a fresh tracked object, frozen with the rest
        self._modules = len(sys.modules)
        gc.freeze()
        self._frozen = True
        return ObjectsSnapshot(frozen=True)

    def adopt(
        self, baseline: ObjectsSnapshot, before: ObjectsSnapshot, after: ObjectsSnapshot
    ) -> ObjectsSnapshot:
        forgiven = Counter(baseline.counts)
        forgiven.update(Counter(after.counts) - Counter(before.counts))
        return ObjectsSnapshot(frozen=baseline.frozen, counts=forgiven)

    def find(self, baseline: ObjectsSnapshot, allowed: AllowFn) -> list[Leak]:
        if not baseline.frozen:  # not a baseline: still never leave the heap frozen
            self._unfreeze()
            return []
        try:
            grown, samples = self._census(baseline)
        finally:
            self._unfreeze()
        if not grown:
            return []
        leaks = []
        for key, growth in grown:
            leak = Leak(
                kind=self.name,
                summary=f"{growth} more {key} objects alive after the test",
                keys=(key,),
            )
            if allowed(leak):
                continue
            details = describe_sample(samples.get(key, []), growth)
            leaks.append(
                Leak(kind=leak.kind, summary=leak.summary, details=tuple(details), keys=leak.keys)
            )
            if len(leaks) >= MAX_REPORTED:
                break
        return leaks

    def _count(self, objects: list[Any]) -> tuple[Counter[type], list[Any]]:
        """Instances per type among new ``objects``, minus what new modules hold.

        Also returns the objects that modules imported since the freeze hold.
        """
        type_counts = Counter(map(type, objects))
        imported: list[Any] = []
        if len(sys.modules) > self._modules:
            new_modules = list(sys.modules.values())[self._modules :]
            imported = reachable_new_objects(new_modules, {id(o) for o in objects})
            type_counts.subtract(Counter(map(type, imported)))
        return type_counts, imported

    def _census(
        self, baseline: ObjectsSnapshot
    ) -> tuple[list[tuple[str, int]], dict[str, list[Any]]]:
        """Types that grew past the threshold, and a sample of each (frozen heap)."""
        gc.collect()
        objects = gc.get_objects()
        # The sentinel was frozen with the heap: seeing it means the test ran
        # gc.unfreeze() and every old object would count as new. (A check by
        # identity over the new objects; gc.get_freeze_count() walks the whole heap.)
        sentinel = self._sentinel
        if any(obj is sentinel for obj in objects):
            raise RuntimeError("the test unfroze the heap (gc.unfreeze()): cannot count objects")
        type_counts, imported = self._count(objects)
        counts = group_counts(type_counts)
        threshold = max(1, self.config.objects_threshold)
        grown = sorted(
            (
                (key, n - baseline.counts.get(key, 0))
                for key, n in counts.items()
                if n - baseline.counts.get(key, 0) >= threshold
            ),
            key=lambda item: (-item[1], item[0]),
        )
        if not grown:
            return [], {}
        skip = {id(o) for o in imported}
        instances: dict[str, list[Any]] = {key: [] for key, _ in grown}
        for obj in objects:
            key = type_key(type(obj))
            if key in instances and id(obj) not in skip:
                instances[key].append(obj)
        owned = attribute_ownership(instances, {id(o) for o in objects} - skip)
        result = []
        for key, growth in grown:
            growth -= sum(1 for o in instances[key] if id(o) in owned)
            if growth >= threshold:
                result.append((key, growth))
        result.sort(key=lambda item: (-item[1], item[0]))
        samples = {
            key: [o for o in instances[key] if id(o) not in owned][:SAMPLE_SIZE]
            for key, _ in result[:MAX_REPORTED]
        }
        return result, samples


def attribute_ownership(instances: dict[str, list[Any]], new_ids: set[int]) -> set[int]:
    """Ids of objects that belong to an instance of another grown type.

    A leaked ``Mock`` drags along its call lists, dicts and its one-off class; a
    leaked ``Session`` its adapters. Reporting each of those as a leak of its own
    buries the one that matters, so objects reachable (through objects created in
    the test) from an instance of another grown type are charged to that owner.
    Owners are tried classes first, then builtin containers, fewest first: the
    holder is usually rarer than what it holds, and a back-reference (``_Call``
    to its parent mock) must not make the part own the whole. An owner found
    earlier is never owned by a later one (the test's list does not own its mocks).
    """

    def order(key: str) -> tuple[bool, int, str]:
        return ("." not in key, len(instances[key]), key)

    owned: set[int] = set()
    owners: set[int] = set()  # unowned instances of types already processed
    for key in sorted(instances, key=order):
        own = {id(o) for o in instances[key]}
        stack = [o for o in instances[key] if id(o) not in owned]
        seen = {id(o) for o in stack}
        while stack:
            for ref in gc.get_referents(stack.pop()):
                ref_id = id(ref)
                if ref_id in seen or ref_id in owners or ref_id not in new_ids:
                    continue
                seen.add(ref_id)
                stack.append(ref)
                if ref_id not in own:
                    owned.add(ref_id)
        owners.update(i for i in own if i not in owned)
    return owned


def describe_sample(sample: list[Any], growth: int) -> list[str]:
    """Size estimate and holder of a leaked type, from a sample (leak case only)."""
    if not sample:
        return []
    details = []
    try:
        from pympler import asizeof

        sizer: Any = asizeof.asizeof  # untyped
        total = sizer(*sample)
        each = total / len(sample)
        details.append(
            f"~{format_size(each * growth)} retained (~{format_size(each)} each, "
            f"asizeof of {len(sample)} of them)"
        )
    except Exception as exc:  # sizing is a nicety; never lose the leak over it
        details.append(f"size unknown ({type(exc).__name__}: {exc})")
    holder = find_holder(sample[0], ignore=(sample,))
    if holder:
        details.append(f"held by {holder}")
    return details


def find_holder(obj: Any, ignore: tuple[Any, ...] = ()) -> str:
    """A human name for what keeps ``obj`` alive: a module global, or a container type."""
    ignored = {id(x) for x in ignore}
    referrers = [
        r
        for r in gc.get_referrers(obj)
        if id(r) not in ignored and not isinstance(r, types.FrameType)
    ]
    names = []
    for ref in referrers[:3]:
        where = _module_global_name(ref, ignored | {id(referrers)})
        if isinstance(ref, list | set | dict | tuple):
            what = f"a {type(ref).__name__} of {len(ref)} items"
        else:
            what = f"a {type_key(type(ref)) or type(ref).__name__} object"
        names.append(f"{what}{f' ({where})' if where else ''}")
    return "; ".join(names)


def _module_global_name(container: Any, ignored: set[int]) -> str:
    """``module.NAME`` when ``container`` is a module global, else ''."""
    for module_name, module in list(sys.modules.items()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict) or id(namespace) in ignored:
            continue
        for name, value in list(namespace.items()):
            if value is container:
                return f"global {module_name}.{name}"
    return ""
