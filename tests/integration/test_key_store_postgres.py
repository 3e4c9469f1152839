"""The contributors' key store in PostgreSQL: one set of keys for every process.

Two containers (as two API replicas or a replica and a worker would be) share
one real PostgreSQL on loopback, each with its own, empty data folder.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from yswd.adapters.crypto import ERASED
from yswd.adapters.crypto.key_stores import KEYS_FILE, PostgresKeyStore
from yswd.adapters.persistence import postgres_engine
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.item_views import item_view
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.settings import Settings

from .servers import Postgres, postgres_or_skip

pytestmark = pytest.mark.integration

NAME = "Quorabelle Vantressing-Oak"
DETAIL = "Told the ward round about the broken shower on Friday"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture
def database(postgres: Postgres) -> Iterator[str]:
    """A fresh database per test, so keys and events never leak between tests."""
    name = f"keys_{uuid.uuid4().hex[:12]}"
    postgres.psql(f"CREATE DATABASE {name} OWNER {postgres.user}")
    yield postgres.url.rsplit("/", 1)[0] + "/" + name
    postgres.psql(f"DROP DATABASE {name} WITH (FORCE)")


def replica(database_url: str, folder: Path) -> Container:
    return build(Settings(database_url=database_url, data_dir=folder, run_projections=False))


def raise_item(container: Container, contributor: str | None) -> str:
    return container.app.raise_item(
        SYSTEM,
        forum_id="cm",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title="Shower",
        you_said="The shower on the ward is broken.",
        detail=DETAIL,
        contributor=contributor,
    ).value.item_id


def test_a_key_made_on_one_replica_reads_on_the_other_and_forget_erases_for_both(
    database: str, tmp_path: Path
) -> None:
    one = replica(database, tmp_path / "one")
    two = replica(database, tmp_path / "two")
    try:
        one.app.create_unit(SYSTEM, "ward", "Ward", None)
        one.app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.OTHER)
        named = raise_item(one, NAME)
        anonymous = raise_item(two, None)

        seen = item_view(two.app.get_item(SYSTEM, named))
        assert (seen["contributor"], seen["detail"]) == (NAME, DETAIL)
        assert item_view(one.app.get_item(SYSTEM, anonymous))["detail"] == DETAIL
        # nothing was written to either data folder: the keys are in PostgreSQL
        assert not (tmp_path / "one" / KEYS_FILE).exists()
        assert not (tmp_path / "two" / KEYS_FILE).exists()

        one.audit.forget(SYSTEM, NAME.lower())

        # the other replica, which had read the name a moment ago, cannot any more
        erased = item_view(two.app.get_item(SYSTEM, named))
        assert (erased["contributor"], erased["detail"]) == (ERASED, ERASED)
        history = two.audit.history(SYSTEM, named)
        assert history["events"][0]["data"]["contributor"] == ERASED
        # the item without a contributor keeps its own key, and its detail
        assert item_view(two.app.get_item(SYSTEM, anonymous))["detail"] == DETAIL
        # the rows' seals were made with the one shared secret
        two.runner.catch_up()  # as the worker would
        assert two.audit.verify(SYSTEM)["ok"] is True
    finally:
        one.close()
        two.close()


def test_replicas_creating_the_same_key_at_once_end_with_one_key(database: str) -> None:
    engines = [postgres_engine(database, pool_size=2, max_overflow=2) for _ in range(4)]
    stores = [PostgresKeyStore(engine) for engine in engines]
    try:
        assert len({store.secret() for store in stores}) == 1
        key_ids = [f"c:race-{n}" for n in range(40)]
        results: list[dict[str, bytes]] = [{} for _ in stores]
        start = threading.Barrier(len(stores))

        def create_all(index: int) -> None:
            start.wait()
            for key_id in key_ids:
                results[index][key_id] = stores[index].get_or_create(key_id)

        threads = [threading.Thread(target=create_all, args=(n,)) for n in range(len(stores))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for key_id in key_ids:
            assert len({result[key_id] for result in results}) == 1, key_id
            assert stores[0].get(key_id) == results[0][key_id]
        assert stores[1].destroy(key_ids[0]) is True
        assert stores[2].get(key_ids[0]) is None
        assert stores[3].destroy(key_ids[0]) is False
    finally:
        for store in stores:
            store.close()


def test_keys_from_an_earlier_sqlite_key_file_are_imported_once(
    database: str, tmp_path: Path
) -> None:
    """A deployment that kept keys.sqlite3 beside PostgreSQL keeps its events readable."""
    folder = tmp_path / "shared"
    old = build(Settings(data_dir=folder))  # embedded: keys in keys.sqlite3
    old.close()
    with sqlite3.connect(folder / KEYS_FILE) as conn:
        conn.execute("INSERT INTO data_keys (key_id, key) VALUES ('c:old', ?)", (b"k" * 32,))
        secret = bytes(conn.execute("SELECT value FROM secrets").fetchone()[0])

    first = PostgresKeyStore(postgres_engine(database), import_from=folder / KEYS_FILE)
    try:
        assert first.secret() == secret
        assert first.get("c:old") == b"k" * 32
    finally:
        first.close()
    # a second start does not import again (and keeps what PostgreSQL holds)
    with sqlite3.connect(folder / KEYS_FILE) as conn:
        conn.execute("DELETE FROM data_keys")
    again = PostgresKeyStore(postgres_engine(database), import_from=folder / KEYS_FILE)
    try:
        assert again.secret() == secret
        assert again.get("c:old") == b"k" * 32
    finally:
        again.close()


def test_a_worker_that_cached_the_item_does_not_write_the_name_back(
    database: str, tmp_path: Path
) -> None:
    """A replica erases; the worker had the item folded, decrypted, in its cache.

    The worker's next event on that item must not put the name back in the read model.
    """
    api = replica(database, tmp_path / "api")
    worker = replica(database, tmp_path / "worker")
    try:
        api.app.create_unit(SYSTEM, "ward", "Ward", None)
        api.app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.OTHER)
        item_id = raise_item(api, NAME)
        worker.runner.catch_up()  # the worker now holds the item in its cache
        api.audit.forget(SYSTEM, NAME)
        api.app.respond(SYSTEM, item_id, "The shower is mended.", None)
        worker.runner.catch_up()

        row = api.staff_items.list_items(SYSTEM, limit=10)[0]
        assert (row["contributor"], row["detail"]) == (ERASED, ERASED)
        assert row["responses"][0]["response"] == "The shower is mended."
        with worker.engine.connect() as conn:
            docs = conn.exec_driver_sql("SELECT doc, contributor FROM rm_items").all()
        assert all(NAME not in str(doc) for doc in docs)
    finally:
        worker.close()
        api.close()
