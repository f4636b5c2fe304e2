"""A singleton service locator whose cache outlives the test that filled it.

**locator.leaky** models the ``ServiceLocator.instance().get(Service)`` pattern
with a class-level cache: the first test that resolves ``Settings`` creates it,
a test that reconfigures it for a sandbox mutates the cached instance, and every
later test in the same process gets the sandbox settings. The suite passes in
file order, fails when ``pytest-randomly`` or ``pytest -n 4`` changes which tests
share a process, and the cache also grows with every per-tenant service ever
resolved. The fix (**locator.clean**): a fixture resets the locator around every
test, and the cache is keyed per pytest-xdist worker and bounded (LRU), so no
state crosses tests and memory stays flat.

``configure_sandbox`` and ``expect_default_endpoint`` are the bodies of the
order-dependent test pair (``suites/test_locator_order.py`` and the pytester test
run them in both orders).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from leakbench import Iteration, Scenario

DEFAULT_ENDPOINT = "https://api.example.invalid/v1"
SANDBOX_ENDPOINT = "https://sandbox.example.invalid/v1"
MAX_SERVICES = 64


class Settings:
    def __init__(self) -> None:
        self.endpoint = DEFAULT_ENDPOINT


class TenantReports:
    """A per-tenant service: one instance per tenant ever resolved."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.rows: list[str] = [f"{tenant}-row-{i}" for i in range(64)]


class LeakyServiceLocator:
    """Process-wide singleton with an unbounded class-level cache, never reset."""

    _instance: ClassVar[LeakyServiceLocator | None] = None
    _cache: ClassVar[dict[str, Any]] = {}

    @classmethod
    def instance(cls) -> LeakyServiceLocator:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def get(self, key: str, factory: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]


class ServiceLocator:
    """The fix: cache keyed per xdist worker, bounded, and reset by a fixture."""

    _instance: ClassVar[ServiceLocator | None] = None
    _cache: ClassVar[OrderedDict[tuple[str, str], Any]] = OrderedDict()

    @classmethod
    def instance(cls) -> ServiceLocator:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @classmethod
    def reset(cls) -> None:
        """Called by a per-test fixture: no service instance crosses a test boundary."""
        cls._cache.clear()
        cls._instance = None

    def get(self, key: str, factory: Callable[[], Any]) -> Any:
        full = (os.environ.get("PYTEST_XDIST_WORKER", "main"), key)
        if full in self._cache:
            self._cache.move_to_end(full)
            return self._cache[full]
        value = self._cache[full] = factory()
        while len(self._cache) > MAX_SERVICES:
            self._cache.popitem(last=False)
        return value


def locator_for(variant: str) -> LeakyServiceLocator | ServiceLocator:
    return LeakyServiceLocator.instance() if variant == "leaky" else ServiceLocator.instance()


@contextmanager
def reset_between_tests(variant: str) -> Iterator[None]:
    """What the clean suite's autouse fixture does; the leaky suite has no such fixture."""
    try:
        yield
    finally:
        if variant == "clean":
            ServiceLocator.reset()


def configure_sandbox(variant: str) -> None:
    """Test body 1: point the API client at the sandbox for this test."""
    settings = locator_for(variant).get("settings", Settings)
    settings.endpoint = SANDBOX_ENDPOINT
    assert locator_for(variant).get("settings", Settings).endpoint == SANDBOX_ENDPOINT


def expect_default_endpoint(variant: str) -> None:
    """Test body 2: a fresh process would see the production default."""
    settings = locator_for(variant).get("settings", Settings)
    assert settings.endpoint == DEFAULT_ENDPOINT, f"leaked from another test: {settings.endpoint}"


@contextmanager
def _session(variant: str) -> Iterator[Iteration]:
    count = 0

    def iteration() -> None:
        nonlocal count
        count += 1
        with reset_between_tests(variant):
            tenant = f"tenant-{count}"
            reports = locator_for(variant).get(f"reports:{tenant}", lambda: TenantReports(tenant))
            assert reports.tenant == tenant

    yield iteration


SCENARIOS: list[Scenario] = [
    Scenario(
        name="locator.leaky",
        leak_class="locator",
        variant="leaky",
        detectors=("globals",),
        session=lambda: _session("leaky"),
        description="class-level singleton cache that keeps services across tests",
        leaks_memory=True,
    ),
    Scenario(
        name="locator.clean",
        leak_class="locator",
        variant="clean",
        detectors=(),
        session=lambda: _session("clean"),
        description="locator reset per test by a fixture; bounded per-worker cache",
    ),
]
