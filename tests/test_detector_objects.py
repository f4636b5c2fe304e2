"""``pytest --leaks=objects`` on a test that keeps every object it makes."""

from __future__ import annotations

import pytest

INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""


def test_a_thousand_objects_appended_to_a_module_list_are_reported_and_a_clean_twin_is_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_orders="""
        import pytest


        class Order:
            def __init__(self, number):
                self.number = number


        PROCESSED = []


        @pytest.fixture(scope="module")
        def catalogue():
            # Owned by the module fixture, not by the first test that uses it.
            return [Order(n) for n in range(500)]


        def test_totals_orders_without_keeping_them(catalogue):
            assert sum(Order(n).number for n in range(1000)) == 499500


        def test_keeps_every_order_it_processes(catalogue):
            for n in range(1000):
                PROCESSED.append(Order(n))


        def test_mocks_a_thousand_calls(catalogue):
            from unittest import mock

            api = mock.Mock()
            for n in range(1000):
                api.send(n)
            api.send.reset_mock()
        """
    )
    result = pytester.runpytest_subprocess("--leaks=objects", "-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_keeps_every_order_it_processes leaked 1 resource(s): objects",
            "[[]objects[]] 1000 more test_orders.Order objects alive after the test",
            "*retained (~* each, asizeof of 50 of them)",
            "*held by a list of 1000 items (global test_orders.PROCESSED)",
        ]
    )
    result.stdout.no_fnmatch_line("*test_totals_orders_without_keeping_them leaked*")
    result.stdout.no_fnmatch_line("*test_mocks_a_thousand_calls leaked*")
