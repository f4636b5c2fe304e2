"""A per-tenant vector store on real chromadb, opened per use.

**chroma.leaky** models a retrieval service that opens
``chromadb.PersistentClient(path=<tenant dir>)`` each time it serves a tenant (or
each test opens one on its own temporary directory) and never releases it.
Chroma keeps every system it started in a process-wide cache keyed by path, so a
dropped client is not freed: each one keeps its SQLite and index files open, its
Rust worker threads running and a few MB of native memory (measured here: ~4 MB
and ~11 fds per client; 50 clients cost +231 MiB RSS and +567 fds). Suites that do
this die with ``Too many open files`` or get OOM-killed in CI. The fix
(**chroma.clean**): ``client.close()`` in ``finally`` (or ``with
chromadb.PersistentClient(...)``), which stops the system when its last client
closes.

Offline: telemetry off, explicit embeddings (``embedding_function=None``), so no
model is downloaded. The session owns a temporary directory, removed at its end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fixtures.chroma_store import chroma_dir, embed, embed_all, offline_settings

from leakbench import Iteration, Scenario

DOCUMENTS = (
    "threads that outlive their test",
    "asyncio tasks nobody awaited",
    "sockets held by pooled connections",
    "mocks that remember every call",
)


def _index_and_query(client: Any, tenant: int) -> None:
    collection = client.get_or_create_collection("knowledge", embedding_function=None)
    collection.add(
        ids=[f"{tenant}-{i}" for i in range(len(DOCUMENTS))],
        documents=list(DOCUMENTS),
        embeddings=embed_all(DOCUMENTS),
    )
    found = collection.query(query_embeddings=[embed("unawaited tasks")], n_results=2)
    assert len(found["ids"][0]) == 2


def serve_tenant(root: Path, tenant: int, close: bool) -> None:
    """Open the tenant's store, index its documents, answer one query."""
    import chromadb

    path = str(root / f"tenant-{tenant}")
    # Typed as ClientAPI, which lacks close(); the runtime Client has it (chromadb 1.x).
    client: Any = chromadb.PersistentClient(path=path, settings=offline_settings())
    try:
        _index_and_query(client, tenant)
    finally:
        if close:  # the fix
            client.close()


@contextmanager
def _session(close: bool) -> Iterator[Iteration]:
    offline_settings()  # telemetry off before chromadb is imported
    import chromadb  # noqa: F401  (pay the 2-3 s import here, not in the first iteration)

    count = 0
    with chroma_dir() as root:

        def iteration() -> None:
            nonlocal count
            count += 1
            serve_tenant(root, count, close=close)

        yield iteration


# ~50 ms and (leaky) ~4 MB and ~11 fds per iteration: few iterations in ``leakbench bench``.

SCENARIOS: list[Scenario] = [
    Scenario(
        name="chroma.leaky",
        leak_class="chroma",
        variant="leaky",
        detectors=("fds",),
        session=lambda: _session(close=False),
        description="a PersistentClient per tenant/use, never closed",
        leaks_memory=True,
        bench_iterations=20,
        time_max_iterations=40,
        instruction_iterations=5,  # ~75 M instructions, ~2 s each under callgrind
    ),
    Scenario(
        name="chroma.clean",
        leak_class="chroma",
        variant="clean",
        detectors=(),
        session=lambda: _session(close=True),
        description="client.close() after each use",
        bench_iterations=20,
        time_max_iterations=40,
        instruction_iterations=5,  # ~75 M instructions, ~2 s each under callgrind
    ),
]
