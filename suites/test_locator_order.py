"""The service locator's order-dependent test pair, leaky and clean.

In file order, ``test_configure_sandbox`` runs first and leaves the sandbox
endpoint in the leaky locator's class-level cache, so the leaky
``test_default_endpoint`` fails: the demo of a leak no resource detector sees.
Run alone, or in the other order, or on another xdist worker, it passes. The clean
pair resets the locator around every test with an autouse fixture and passes in
any order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from suites.locator import configure_sandbox, expect_default_endpoint, reset_between_tests


class TestLeakyLocator:
    def test_configure_sandbox(self) -> None:
        configure_sandbox("leaky")

    def test_default_endpoint(self) -> None:
        expect_default_endpoint("leaky")


class TestCleanLocator:
    @pytest.fixture(autouse=True)
    def _fresh_locator(self) -> Iterator[None]:
        with reset_between_tests("clean"):
            yield

    def test_configure_sandbox(self) -> None:
        configure_sandbox("clean")

    def test_default_endpoint(self) -> None:
        expect_default_endpoint("clean")
