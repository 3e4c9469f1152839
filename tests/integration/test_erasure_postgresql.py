"""Crypto-shredding on a real PostgreSQL server.

After ``forget`` no table holds the contributor's name or private detail in a
form SQL can read back, and a fresh process rebuilding every read model from
the events finds only ``[erased]``. PostgreSQL keeps dead row versions until
they are vacuumed, so a byte scan of its files is only meaningful after the
operator's ``VACUUM (FULL, ANALYZE)`` and a ``CHECKPOINT`` (see
docs/erasure-postgresql.md); the last test does exactly that and then scans
the database's table and index files. The WAL (``pg_wal``) and backups are
the operator's to expire.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from yswd.adapters.crypto import ERASED
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.item_views import item_view, public_view
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.settings import Settings

from .servers import Postgres, postgres_or_skip

GONE_NAME = "Zebedee Quixotica-Marwood"
GONE_DETAIL = "Xylophone-keeper told me about the locked garden on Tuesday"
KEPT_NAME = "Philippa Oddlyunique"
KEPT_DETAIL = "Vermilion notebook story about the kettle"
GONE_NEEDLES = (GONE_NAME, GONE_DETAIL, "Zebedee", "Xylophone-keeper")

_databases = itertools.count(1)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture
def settings(postgres: Postgres, tmp_path: Path) -> Settings:
    name = f"yswd_erasure_{next(_databases)}"
    url = postgres.new_database(name)
    return Settings(
        database_url=url, data_dir=tmp_path / "data", run_projections=True, admin_token="erase"
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build(settings)
    yield built
    built.close()


def needles(text: str) -> set[bytes]:
    return {
        text.encode(),
        text.lower().encode(),
        text.upper().encode(),
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
    }


def _as_bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def tables_holding(url: str, text: str) -> list[str]:
    """Every table (the event store, read models, key store, anything else) whose rows,
    read back with SQL, contain ``text`` in any letter case, as text or as bytes."""
    wanted = needles(text)
    hits = []
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            (schema, table)
            for schema, table in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE'"
                " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
        ]
        assert tables
        for schema, table in tables:
            query = f'SELECT * FROM "{schema}"."{table}"'
            for row in conn.execute(query):  # type: ignore[call-overload]
                blob = b"\0".join(_as_bytes(value) for value in row)
                if any(n in blob for n in wanted):
                    hits.append(f"{schema}.{table}")
                    break
    return hits


def raise_item(container: Container, name: str | None, detail: str, title: str) -> str:
    return container.app.raise_item(
        SYSTEM,
        forum_id="cm",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title=title,
        you_said=f"{title}: please sort it out.",
        detail=detail,
        contributor=name,
    ).value.item_id


def seed(container: Container) -> dict[str, str]:
    app = container.app
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    ids = {
        "gone_1": raise_item(container, GONE_NAME, GONE_DETAIL, "Garden"),
        "gone_2": raise_item(container, GONE_NAME.upper(), GONE_DETAIL + " again", "Again"),
        "kept": raise_item(container, KEPT_NAME, KEPT_DETAIL, "Kettle"),
        "anonymous": raise_item(container, None, "no name here", "Windows"),
    }
    app.publish(SYSTEM, ids["gone_1"], "The garden is locked too often.", None)
    app.respond(SYSTEM, ids["gone_1"], "We will keep it open in the afternoons.", None)
    container.runner.catch_up()
    return ids


def view(container: Container, item_id: str) -> dict[str, Any]:
    return item_view(container.app.get_item(SYSTEM, item_id))


def test_after_forget_no_table_gives_back_the_name_or_detail(
    container: Container, settings: Settings
) -> None:
    url = settings.database_url
    assert url is not None
    ids = seed(container)
    public_before = public_view(view(container, ids["gone_1"]))
    events_before = len(container.audit.history(SYSTEM, ids["gone_1"])["events"])
    # the scan can see plaintext: the staff read model held it before
    assert tables_holding(url, GONE_NAME)
    assert tables_holding(url, KEPT_NAME)
    # the event store itself only ever held ciphertext
    assert all(not t.endswith("_events") for t in tables_holding(url, GONE_NAME))

    answer = container.audit.forget(SYSTEM, "zebedee  quixotica-marwood")
    assert answer == {"contributor_erased": True, "items_affected": 2}
    for needle in GONE_NEEDLES:
        assert tables_holding(url, needle) == [], needle

    container.close()
    reopened = build(settings)  # a new process: no key cached anywhere
    try:
        reopened.runner.rebuild()  # every read model again, from the events alone
        for needle in GONE_NEEDLES:
            assert tables_holding(url, needle) == [], needle
        history = reopened.audit.history(SYSTEM, ids["gone_1"])
        assert len(history["events"]) == events_before
        assert history["events"][0]["data"]["contributor"] == ERASED
        assert history["events"][0]["data"]["detail"] == ERASED
        assert history["state"]["contributor"] == ERASED
        assert view(reopened, ids["gone_2"])["detail"] == ERASED
        assert public_view(view(reopened, ids["gone_1"])) == public_before
        kept = view(reopened, ids["kept"])
        assert (kept["contributor"], kept["detail"]) == (KEPT_NAME, KEPT_DETAIL)
        assert view(reopened, ids["anonymous"])["detail"] == "no name here"
        verified = reopened.audit.verify(SYSTEM)
        assert verified["ok"] is True, verified
    finally:
        reopened.close()
    assert tables_holding(url, KEPT_NAME)


def test_after_vacuum_full_no_database_file_holds_the_name(
    container: Container, settings: Settings, postgres: Postgres
) -> None:
    """The operator's step from docs/erasure-postgresql.md, then a byte scan of the files."""
    seed(container)
    container.audit.forget(SYSTEM, GONE_NAME)
    container.close()
    database = (settings.database_url or "").rsplit("/", 1)[1]
    postgres.psql("VACUUM (FULL, ANALYZE)", database=database)
    postgres.psql("CHECKPOINT", database=database)
    (oid,) = postgres.psql(f"SELECT oid FROM pg_database WHERE datname = '{database}'").split()
    folder = postgres.data_dir / "base" / oid
    wanted = set().union(*(needles(n) for n in GONE_NEEDLES))
    hits = [
        path.name
        for path in sorted(folder.rglob("*"))
        if path.is_file() and any(n in path.read_bytes() for n in wanted)
    ]
    assert hits == []
    kept = needles(KEPT_NAME)
    assert any(
        any(n in path.read_bytes() for n in kept) for path in folder.rglob("*") if path.is_file()
    )
