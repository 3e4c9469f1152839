"""``bench.pg_load`` copies an embedded store into PostgreSQL as the service would store it.

A small SQLite store is made through the application (``bench.generate``), copied
into a real PostgreSQL, and opened there: the copy holds the same events and keys,
the audit chain verifies (seals included, so the service secret came across),
a rebuild gives the same item rows as the SQLite store's read models, and the
next event stored gets the notification id after the copied ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench import pg_load
from bench.common import PG_ENV
from bench.generate import generate
from sqlalchemy import Engine, create_engine, select

from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import build
from yswd.projections.item_tables import items
from yswd.settings import Settings

from .servers import Postgres, postgres_or_skip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(PG_ENV, raising=False)  # the source is an embedded store
    store = tmp_path / "sqlite"
    made = generate(store, items=25, progress=False)
    assert made["events"] > 100
    return store


def item_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(items).order_by(items.c.item_id))
        return [dict(row._mapping) for row in rows]


def test_a_loaded_store_opens_verifies_and_rebuilds_the_same_items(
    postgres: Postgres, sqlite_store: Path, tmp_path: Path
) -> None:
    loaded = pg_load.load(sqlite_store, postgres.url)

    checked = pg_load.check(sqlite_store, postgres.url)
    assert checked["ok"], checked["differ"]
    assert checked["postgresql"]["events"] == loaded.events
    assert checked["postgresql"]["keys"] == loaded.keys > 0
    assert checked["sqlite_recorded_chain_head"] == checked["postgresql"]["chain_head"]

    container = build(
        Settings(data_dir=tmp_path / "pg-data", database_url=postgres.url, run_projections=False)
    )
    try:
        assert container.runner.rebuild() == loaded.events
        verified = container.audit.verify(SYSTEM)
        assert verified["ok"], verified
        assert verified["events_checked"] == loaded.events

        source = create_engine(f"sqlite:///{sqlite_store / 'yswd.sqlite3'}")
        try:
            expected = item_rows(source)
        finally:
            source.dispose()
        assert len(expected) == 25
        assert item_rows(container.engine) == expected

        # the sequence was set past the copied ids: the next event follows them
        container.app.create_unit(SYSTEM, "after-load", "A unit made after the load", None)
        assert container.app.recorder.max_notification_id() == loaded.last_id + 1
    finally:
        container.close()

    with pytest.raises(ValueError, match="already holds"):
        pg_load.load(sqlite_store, postgres.url)
