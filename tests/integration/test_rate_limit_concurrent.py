"""A rate limit holds when many requests of one client arrive at once, on every replica.

``DatabaseLimiter`` lets a request in when fewer than ``limit`` of its key got in
during the window. Counted by many threads at once (replicas' request threads, here
sixteen threads with their own connections), two requests must never both count
without the other: on PostgreSQL a transaction-scoped advisory lock per key orders
them, on SQLite the file's write lock does. Both run against the real database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from yswd.adapters.http.session_store import DatabaseLimiter, create_tables
from yswd.adapters.persistence import postgres_engine, read_model_engine
from yswd.aggregates.errors import RateLimited
from yswd.settings import Settings

from .servers import Postgres, postgres_or_skip

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
THREADS = 16
EACH = 4
LIMIT = 10


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = read_model_engine(Settings(data_dir=tmp_path))
    else:
        postgres: Postgres = request.getfixturevalue("postgres")
        made = postgres_engine(
            postgres.new_database(f"limits_{tmp_path.name[-20:].lower().replace('-', '_')}"),
            pool_size=THREADS,
        )
    create_tables(made)
    yield made
    made.dispose()


def test_sixteen_threads_at_once_get_exactly_the_limit_in(engine: Engine) -> None:
    limiter = DatabaseLimiter(engine, LIMIT, 3600, lambda: NOW, prefix="gap-box")
    start = threading.Barrier(THREADS)
    let_in: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        start.wait()
        for _ in range(EACH):
            try:
                limiter.acquire("10.0.0.1")
            except RateLimited as limited:
                assert limited.retry_after == 3600
                with lock:
                    refused.append(1)
            else:
                with lock:
                    let_in.append(1)

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(let_in) == LIMIT
    assert len(refused) == THREADS * EACH - LIMIT
    limiter.acquire("10.0.0.2")  # another address still has its own allowance
