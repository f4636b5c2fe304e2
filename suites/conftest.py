"""Process-wide runtimes that libraries start once, started by session fixtures.

chromadb's Rust core starts a process-global runtime on its first client (a
tokio signal socketpair, two unix-socket fds, kept for the life of the process,
measured here). That is not a leak of whichever test happens to be first, so the
chroma scenarios request ``chroma_runtime``, a session-scoped fixture that opens
and closes one client: ``pytest --leaks`` adopts what session fixtures create.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fixtures.chroma_store import chroma_dir, offline_settings

# Session fixtures a scenario of this leak class needs before its first iteration.
RUNTIMES = {"chroma": "chroma_runtime"}


@pytest.fixture(scope="session")
def chroma_runtime() -> Iterator[None]:
    settings = offline_settings()
    import chromadb

    with chroma_dir() as root:
        client: Any = chromadb.PersistentClient(path=str(root), settings=settings)
        client.close()  # ClientAPI's type lacks close(); the runtime Client has it
    yield
