"""A concurrent "learning engine": asyncio fan-out plus a thread pool for CPU work.

**learning.leaky** models an online-learning service (feature extraction per
sample, a model update per batch) written the quick way: every ``learn()`` call
builds its own ``ThreadPoolExecutor`` for the CPU-bound feature extraction and
never shuts it down, fans out one task per sample with ``asyncio.gather``, and
appends every result to a module-level ``HISTORY`` list and a module-level
feature ``CACHE`` dict keyed by sample id. Nothing is ever evicted: the process
grows with every batch it has ever seen (and in a test suite, with every test
that touched the engine), and each call leaves two idle worker threads behind.
The fix (**learning.clean**): one executor owned by the engine and shut down when
it closes, tasks awaited inside an ``asyncio.TaskGroup``, a bounded LRU cache
(``functools.lru_cache(maxsize=...)``-style ``OrderedDict``) and a bounded history
(``collections.deque(maxlen=...)``).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections import OrderedDict, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from leakbench import Iteration, Scenario

BATCH = 128
CACHE_SIZE = 512
HISTORY_SIZE = 256

# The stream of incoming samples: every batch brings new sample ids.
SAMPLES = itertools.count()

# The leaky engine's module-level state: grows forever.
HISTORY: list[Result] = []
CACHE: dict[int, tuple[float, ...]] = {}


@dataclass
class Result:
    sample_id: int
    features: tuple[float, ...]
    loss: float
    note: str


def extract_features(sample_id: int) -> tuple[float, ...]:
    """CPU work (runs in the thread pool): a hash expanded into a feature vector."""
    digest = hashlib.sha256(f"sample-{sample_id}".encode()).digest()
    return tuple(b / 255 for b in digest)


class LRU:
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[int, tuple[float, ...]] = OrderedDict()

    def get(self, key: int) -> tuple[float, ...] | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def __setitem__(self, key: int, value: tuple[float, ...]) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class LeakyEngine:
    """Per-call executor, gather, unbounded module-level history and cache."""

    def __init__(self) -> None:
        self.weights = 0.0
        self._pools: list[ThreadPoolExecutor] = []

    async def _learn_one(self, pool: ThreadPoolExecutor, sample_id: int) -> Result:
        features = CACHE.get(sample_id)
        if features is None:
            loop = asyncio.get_running_loop()
            features = await loop.run_in_executor(pool, extract_features, sample_id)
            CACHE[sample_id] = features
        loss = abs(sum(features) / len(features) - self.weights)
        return Result(sample_id, features, loss, note=f"sample {sample_id} loss {loss:.4f}")

    async def learn(self, batch: list[int]) -> float:
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="learn")
        self._pools.append(pool)  # kept "for reuse", never shut down
        results = await asyncio.gather(*(self._learn_one(pool, s) for s in batch))
        HISTORY.extend(results)
        self.weights = sum(r.loss for r in results) / len(results)
        return self.weights


_ENGINE: LeakyEngine | None = None


def get_engine() -> LeakyEngine:
    """The leaky service's process-wide engine (created on first use, never closed)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = LeakyEngine()
    return _ENGINE


class CleanEngine:
    """One executor, shut down on close; TaskGroup; bounded cache and history."""

    def __init__(self) -> None:
        self.weights = 0.0
        self.cache = LRU(CACHE_SIZE)
        self.history: deque[Result] = deque(maxlen=HISTORY_SIZE)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="learn")

    async def _learn_one(self, sample_id: int) -> Result:
        features = self.cache.get(sample_id)
        if features is None:
            loop = asyncio.get_running_loop()
            features = await loop.run_in_executor(self._pool, extract_features, sample_id)
            self.cache[sample_id] = features
        loss = abs(sum(features) / len(features) - self.weights)
        return Result(sample_id, features, loss, note=f"sample {sample_id} loss {loss:.4f}")

    async def learn(self, batch: list[int]) -> float:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(self._learn_one(s)) for s in batch]
        results = [t.result() for t in tasks]
        self.history.extend(results)
        self.weights = sum(r.loss for r in results) / len(results)
        return self.weights

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@contextmanager
def _session(clean: bool) -> Iterator[Iteration]:
    engine: Any = CleanEngine() if clean else get_engine()
    try:
        with asyncio.Runner() as runner:

            def iteration() -> None:
                batch = [next(SAMPLES) for _ in range(BATCH)]
                assert runner.run(engine.learn(batch)) >= 0.0

            yield iteration
    finally:
        if clean:  # the fix: the engine's executor is shut down with the session
            engine.close()


# Every leaky call leaves two worker threads and a batch of history behind: ``leakbench bench``
# caps its timed iterations (both variants alike) so the pile-up stays out of the time.
PILE_UP_CAP = 200

SCENARIOS: list[Scenario] = [
    Scenario(
        name="learning.leaky",
        leak_class="learning",
        variant="leaky",
        detectors=("threads", "objects"),
        session=lambda: _session(clean=False),
        description="per-call executor never shut down, unbounded module-level history/cache",
        leaks_memory=True,
        time_max_iterations=PILE_UP_CAP,
        instruction_iterations=10,  # ~29 M instructions each under callgrind
    ),
    Scenario(
        name="learning.clean",
        leak_class="learning",
        variant="clean",
        detectors=(),
        session=lambda: _session(clean=True),
        description="one executor shut down, TaskGroup, bounded LRU cache and history",
        time_max_iterations=PILE_UP_CAP,
        instruction_iterations=10,  # ~29 M instructions each under callgrind
    ),
]
