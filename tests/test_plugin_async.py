"""Leaked asyncio tasks under pytest-asyncio, anyio's plugin and unittest.

pytest-asyncio (and anyio, and ``IsolatedAsyncioTestCase``) close their loop
through ``asyncio.Runner``, which cancels leftover tasks without a word: the
leak must be seen before that, while a fixture that cancels its own background
task in its teardown must not be blamed.
"""

from __future__ import annotations

import pytest

from conftest import PLUGIN_INI, Run

ASYNC_TESTS = """
import asyncio

import pytest
import pytest_asyncio

pytestmark = pytest.mark.asyncio


async def serve_forever():
    await asyncio.Event().wait()


async def fail():
    raise ValueError("nobody looked at me")


@pytest_asyncio.fixture
async def background_server():
    task = asyncio.create_task(serve_forever(), name="fixture-server")
    yield task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_leaks_a_task():
    asyncio.create_task(serve_forever(), name="forgotten")


async def test_clean_task_group():
    async with asyncio.TaskGroup() as group:
        group.create_task(asyncio.sleep(0))
        group.create_task(asyncio.sleep(0.01))


async def test_uses_a_fixture_that_cleans_up_its_task(background_server):
    assert not background_server.done()


async def test_drops_a_failed_task():
    asyncio.create_task(fail(), name="failed")
    await asyncio.sleep(0.01)
"""


@pytest.mark.parametrize("mode", ["strict", "auto"])
@pytest.mark.parametrize("loop_scope", ["function", "module"])
def test_a_leaked_task_is_caught_before_pytest_asyncio_cancels_it(
    leak_project: pytest.Pytester, run: Run, mode: str, loop_scope: str
) -> None:
    leak_project.makeini(
        f"""
        [pytest]
        filterwarnings = error
        asyncio_mode = {mode}
        asyncio_default_fixture_loop_scope = {loop_scope}
        asyncio_default_test_loop_scope = {loop_scope}
        """
    )
    leak_project.makepyfile(test_async=ASYNC_TESTS)
    result = run("--leaks", "-W", "error")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_leaks_a_task _*",
            "[[]tasks[]] task 'forgotten' running serve_forever() was still pending*",
            "    created at:",
            '*test_async.py", line *, in test_leaks_a_task',
            "*_ ERROR at teardown of test_drops_a_failed_task _*",
            "[[]tasks[]] *never retrieved*",
        ]
    )
    result.stdout.fnmatch_lines(["*ValueError*nobody looked at me*"])
    result.stdout.no_fnmatch_line("*fixture-server*")
    result.stdout.no_fnmatch_line("*ERROR at teardown of test_clean_task_group*")


def test_anyio_tests_are_checked_too_and_its_runner_task_is_not_a_leak(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_anyio="""
        import asyncio
        import time

        import anyio
        import pytest


        @pytest.fixture(params=["asyncio", "trio"])
        def anyio_backend(request):
            return request.param


        @pytest.mark.anyio
        async def test_clean(anyio_backend):
            async with anyio.create_task_group() as group:
                group.start_soon(anyio.sleep, 0)
            await anyio.to_thread.run_sync(time.sleep, 0)


        @pytest.mark.anyio
        @pytest.mark.parametrize("anyio_backend", ["asyncio"])
        async def test_leaks_a_task(anyio_backend):
            asyncio.get_running_loop().create_task(asyncio.Event().wait(), name="forgotten")
        """
    )
    result = run("--leaks", "-W", "error")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_leaks_a_task[[]asyncio[]] _*",
            "[[]tasks[]] task 'forgotten' running Event.wait() was still pending*",
        ]
    )
    result.stdout.no_fnmatch_line("*running TestRunner._run_tests_and_fixtures*")


def test_unittest_test_cases_are_checked_like_functions(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makepyfile(
        test_cases="""
        import asyncio
        import threading
        import unittest

        STOP = threading.Event()


        class TestWithAClassServer(unittest.TestCase):
            @classmethod
            def setUpClass(cls):
                cls.server = threading.Thread(target=STOP.wait, name="class-server", daemon=True)
                cls.server.start()

            def test_clean(self):
                self.assertTrue(self.server.is_alive())

            def test_leaks_a_thread(self):
                threading.Thread(target=STOP.wait, name="forgotten", daemon=True).start()


        class TestAsync(unittest.IsolatedAsyncioTestCase):
            async def test_clean(self):
                await asyncio.sleep(0)

            async def test_leaks_a_task(self):
                asyncio.get_running_loop().create_task(asyncio.Event().wait(), name="lost")
        """
    )
    result = run("--leaks", "-W", "error")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "[[]threads[]] thread 'forgotten' (daemon=True, *) is still running",
            "[[]tasks[]] task 'lost' running Event.wait() was still pending*",
        ]
    )
    result.stdout.no_fnmatch_line("*class-server*")


def test_the_default_allow_list_covers_library_thread_pools_but_not_the_users_own(
    leak_project: pytest.Pytester, run: Run
) -> None:
    leak_project.makeini(PLUGIN_INI + "asyncio_default_test_loop_scope = module\n")
    leak_project.makepyfile(
        test_pools="""
        import asyncio
        import time
        from concurrent.futures import ThreadPoolExecutor

        import pytest
        import trio

        POOLS = []


        def test_trio_keeps_an_idle_thread_for_reuse():
            async def main():
                await trio.to_thread.run_sync(time.sleep, 0)

            trio.run(main)


        @pytest.mark.asyncio
        async def test_asyncio_default_executor_of_a_module_loop():
            await asyncio.get_running_loop().run_in_executor(None, time.sleep, 0)


        def test_users_own_executor_never_shut_down():
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mine")
            POOLS.append(pool)
            pool.submit(time.sleep, 0).result()
        """
    )
    result = run("--leaks", "-W", "error", "--timeout=60", "--timeout-method=thread")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_users_own_executor_never_shut_down _*",
            "[[]threads[]] thread 'mine_0' (daemon=False, *) is still running",
        ]
    )
    result.stdout.no_fnmatch_line("*'Trio thread*")
    result.stdout.no_fnmatch_line("*'asyncio_*")
    result.stdout.no_fnmatch_line("*'pytest_timeout*")
