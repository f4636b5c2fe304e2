"""Objects of one type that a test created and left alive (opt-in: ``--leaks=objects``).

A census of the whole heap costs ~20 ms per test on a big suite, and pympler's
summaries cost seconds. Instead, before the test every existing object is moved to
the garbage collector's permanent generation (``gc.freeze()``), so that after the
test ``gc.get_objects()`` returns only the objects created since, and
``gc.collect()`` only traverses those: a clean test costs a few microseconds, plus
a full collection now and then (at most ~5% of the run's time) so that garbage
frozen along with the heap is still freed. Whatever survives that collection is
counted by type; each type that grew by at least ``objects_threshold`` instances is then
sized and its holder looked up, for the report only. The heap is always unfrozen after
the check: frozen objects are never collected.

Counting rules:

* Only objects the collector tracks are seen (instances, containers; not ints or
  strings), which is where retained memory hides in practice.
* Every ``Mock`` instance has its own subclass; they are grouped under their base
  mock class, so 500 mocks are one line, not 500 lines of one.
* What imports create (functions, code, modules, classes, descriptors, and every
  object reachable from a module first imported during the test) is not a leak:
  it is the price of the first test that imports a library.
* Weak references retain nothing, so they are not counted either.
* What a module's state was lazily set to during the test (a module global, or a
  class attribute of a module's class, now bound to an object the test's run
  created: ``mimetypes`` builds its tables on the first ``guess_type``) is one-time
  set-up, not growth: it happens once per process, and a later rebinding replaces
  it rather than adding to it. What the test added to an existing container
  (``CACHE.append``) still counts.

Sizes are what the grown objects retain: each instance and what it reaches through
objects created during the test (plus the strings and numbers those hold), counted
once; objects that existed before the test are shared, not retained, and are not
counted. "Held by" names the object that existed before the test (a module global, a
class attribute, a long-lived container) through which the first sample is reachable.

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
MAX_SIZED = 200_000
"""Objects visited at most when sizing one grown type (the leak case only)."""
HOLDER_STEPS = 8
"""``gc.get_referrers`` calls at most when looking for what holds a sample."""


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
    looks_first = True

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self._frozen = False
        self._last_full = -math.inf
        self._full_cost = 0.0
        self._sentinel: list[Any] = []
        self._modules = 0
        """``len(sys.modules)`` at the freeze: modules after that index are new."""
        self._sizes: dict[str, tuple[int, int]] = {}
        """Per grown type of the last census: (bytes retained, objects counted)."""
        self._new_ids: set[int] = set()

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
        self._sizes = {}
        self._new_ids = set()
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
            details = describe_sample(
                samples.get(key, []), growth, self._sizes.get(key), self._new_ids
            )
            leaks.append(
                Leak(kind=leak.kind, summary=leak.summary, details=tuple(details), keys=leak.keys)
            )
            if len(leaks) >= MAX_REPORTED:
                break
        self._new_ids = set()
        return leaks

    def _count(self, objects: list[Any]) -> tuple[Counter[type], list[Any]]:
        """Instances per type among new ``objects``, minus what new modules hold.

        Also returns the objects that modules imported since the freeze hold, and those
        that module state bound during the test holds (``lazily_bound_module_state``).
        """
        type_counts = Counter(map(type, objects))
        new_ids = {id(o) for o in objects}
        roots: list[Any] = []
        if len(sys.modules) > self._modules:
            roots.extend(list(sys.modules.values())[self._modules :])
        roots.extend(lazily_bound_module_state(new_ids))
        imported = reachable_new_objects(roots, new_ids) if roots else []
        if imported:
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
        counted = {id(o) for o in objects} - skip
        samples = {}
        for key, _ in result[:MAX_REPORTED]:
            mine = [o for o in instances[key] if id(o) not in owned]
            self._sizes[key] = retained_size(mine, counted)
            samples[key] = mine[:SAMPLE_SIZE]
        self._new_ids = counted
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


def lazily_bound_module_state(new_ids: set[int]) -> list[Any]:
    """Objects created since the freeze that a module global, or a class attribute of a
    class defined in that module, is bound to: module state set during the test."""
    roots: list[Any] = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        module_name = getattr(module, "__name__", None)
        for value in list(namespace.values()):
            if id(value) in new_ids:
                roots.append(value)
            elif isinstance(value, type) and value.__module__ == module_name:
                roots.extend(v for v in list(vars(value).values()) if id(v) in new_ids)
    return roots


_LEAVES = frozenset({str, bytes, bytearray, int, float, complex})
"""Untracked objects counted as held: the strings and numbers of new objects. (An
untracked dict or tuple may have existed before the test: it is not counted.)"""


def retained_size(instances: list[Any], new_ids: set[int]) -> tuple[int, int]:
    """(bytes, objects) that ``instances`` retain: themselves and what they reach through
    objects created since the freeze (``new_ids``), plus the strings and numbers those
    hold, each counted once. Objects that existed before are not counted."""
    seen: set[int] = set()
    total = 0
    stack = list(instances)
    while stack and len(seen) < MAX_SIZED:
        obj = stack.pop()
        oid = id(obj)
        if oid in seen:
            continue
        seen.add(oid)
        try:
            total += sys.getsizeof(obj)
        except Exception:
            continue
        for ref in gc.get_referents(obj):
            rid = id(ref)
            if rid in seen:
                continue
            if rid in new_ids or type(ref) in _LEAVES:
                stack.append(ref)
    return total, len(seen)


def describe_sample(
    sample: list[Any],
    growth: int,
    size: tuple[int, int] | None = None,
    new_ids: set[int] | None = None,
) -> list[str]:
    """Size and holder of a leaked type (leak case only)."""
    if not sample:
        return []
    details = []
    if size is not None:
        total, count = size
        details.append(
            f"~{format_size(total)} retained ({count} objects: the {growth} and what only "
            "they hold, counted once)"
        )
    else:
        details.append(f"~{format_size(retained_size(sample, new_ids or set())[0])} retained")
    holder = find_holder(sample[0], ignore=(sample,), new_ids=new_ids)
    if holder:
        details.append(f"held by {holder}")
    return details


def find_holder(obj: Any, ignore: tuple[Any, ...] = (), new_ids: set[int] | None = None) -> str:
    """A human name for what keeps ``obj`` alive.

    With ``new_ids`` (objects created during the test): walks referrers up through new
    objects to the first object that existed before the test, and names it (a module
    global, a class attribute, or its type); else names the direct referrers."""
    ignored = {id(x) for x in ignore}
    if new_ids:
        found = _old_holder(obj, ignored, new_ids)
        if found:
            return found
    referrers = [
        r
        for r in gc.get_referrers(obj)
        if id(r) not in ignored and not isinstance(r, types.FrameType)
    ]
    names = []
    for ref in referrers[:3]:
        names.append(_name_holder(ref, ignored | {id(referrers)}))
    return "; ".join(names)


def _old_holder(obj: Any, ignored: set[int], new_ids: set[int]) -> str:
    """Breadth-first up the referrers, through new objects, to an object from before."""
    frontier = [(obj, 0)]
    seen = {id(obj)}
    steps = 0
    while frontier and steps < HOLDER_STEPS:
        current, depth = frontier.pop(0)
        steps += 1
        referrers = gc.get_referrers(current)
        ignored_here = ignored | {id(referrers), id(frontier)}
        for ref in referrers:
            rid = id(ref)
            if rid in seen or rid in ignored_here or isinstance(ref, types.FrameType):
                continue
            seen.add(rid)
            if rid not in new_ids:
                via = f" (through {depth} object(s) created in the test)" if depth else ""
                return _name_holder(ref, ignored_here) + via
            frontier.append((ref, depth + 1))
        del referrers  # else the next call finds this list among the referrers
    return ""


def _name_holder(ref: Any, ignored: set[int]) -> str:
    where = _module_global_name(ref, ignored)
    if isinstance(ref, dict):
        owner = _namespace_owner(ref)
        if owner:
            return owner
    if isinstance(ref, list | set | dict | tuple):
        what = f"a {type(ref).__name__} of {len(ref)} items"
    else:
        what = f"a {type_key(type(ref)) or type(ref).__name__} object"
    return f"{what}{f' ({where})' if where else ''}"


def _namespace_owner(namespace: dict[Any, Any]) -> str:
    """``module NAME`` when ``namespace`` is a module's globals."""
    for module_name, module in list(sys.modules.items()):
        if getattr(module, "__dict__", None) is namespace:
            return f"the globals of module {module_name}"
    return ""


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
