"""``pytest --leaks`` on a thread pool that ordinary test code never shuts down."""

from __future__ import annotations

import pytest

INI = """
[pytest]
filterwarnings = error
asyncio_default_fixture_loop_scope = function
"""


def test_an_executor_never_shut_down_leaks_its_workers_and_a_with_block_does_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_pool="""
        from concurrent.futures import ThreadPoolExecutor

        POOLS = []


        def square(n):
            return n * n


        def test_squares_on_a_pool_it_keeps():
            pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="squares")
            POOLS.append(pool)
            assert list(pool.map(square, range(4))) == [0, 1, 4, 9]


        def test_squares_on_a_pool_in_a_with_block():
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="squares") as pool:
                assert list(pool.map(square, range(4))) == [0, 1, 4, 9]
        """
    )
    result = pytester.runpytest_subprocess("--leaks", "-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_squares_on_a_pool_it_keeps leaked * resource(s): threads",
            "[[]threads[]] thread 'squares_0' (daemon=False, target=*_worker) is still running",
            "*started at:",
            '*test_pool.py", line *, in test_squares_on_a_pool_it_keeps',
        ]
    )
    result.stdout.no_fnmatch_line("*test_squares_on_a_pool_in_a_with_block leaked*")
