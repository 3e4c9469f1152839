"""Copy an embedded (SQLite) store's events and data keys into PostgreSQL.

The application writes ~400 events/s through ``bench.generate``, so a 1M-event
PostgreSQL store took ~40 minutes to make; this copies an existing SQLite store
in about a minute instead. The result is what the service would have stored
there itself: the same originator ids, versions, topics and state bytes under
the same notification ids (SQLite's ``rowid``), the sequence set past them, and
the key store's service secret and data keys, so every seal and sealed field
reads as before. Read models are not copied: a rebuild (or the runner) makes them.

The application creates its own tables first (a container built against the
database); the rows then go in with ``COPY``, a batch per transaction, streamed
from SQLite so memory stays bounded whatever the store's size.

    python -m bench.pg_load SQLITE_DIR DATABASE_URL [--check] [--check-only]

``--check`` then proves both stores hold the same data: counts, the highest
notification id, a SHA-256 over every event's (id, originator id, version,
topic, state) and the audit chain's head recomputed from each side (and
compared with the head the SQLite store's ``audit_chain`` read model recorded),
plus the keys' count, digest and the service secret.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from yswd.adapters.crypto.key_stores import KEY_SCHEMA, KEYS_FILE
from yswd.adapters.persistence import SQLITE_FILE
from yswd.bootstrap import build
from yswd.projections.audit_chain import GENESIS, chain_hash
from yswd.settings import Settings

#: rows per COPY (and per transaction): a few MB of state at a time
BATCH = 20_000
SERVICE_SECRET = "service"


@dataclass
class Loaded:
    """What one load copied, and how fast."""

    events: int
    keys: int
    last_id: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class Summary:
    """One store's contents in a few numbers: equal summaries mean equal data."""

    events: int
    last_id: int
    digest: str
    chain_head: str
    keys: int
    keys_digest: str
    secret_digest: str


# -- reading the SQLite store -----------------------------------------------------


def open_sqlite(path: Path) -> sqlite3.Connection:
    """The file read-only: a benchmark's source store is never written."""
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def sqlite_events(sqlite_dir: Path) -> Iterator[tuple[int, str, int, str, bytes]]:
    """Every stored event as (notification id, originator id, version, topic, state)."""
    conn = open_sqlite(sqlite_dir / SQLITE_FILE)
    try:
        rows = conn.execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            "FROM stored_events ORDER BY rowid"
        )
        while batch := rows.fetchmany(BATCH):
            yield from batch
    finally:
        conn.close()


def sqlite_keys(sqlite_dir: Path) -> tuple[bytes, Iterator[tuple[str, bytes]]]:
    """The service secret and the data keys (in key id order) of an embedded store."""
    conn = open_sqlite(sqlite_dir / KEYS_FILE)
    row = conn.execute("SELECT value FROM secrets WHERE name = ?", (SERVICE_SECRET,)).fetchone()
    if row is None:
        conn.close()
        raise ValueError(f"{sqlite_dir / KEYS_FILE} holds no service secret")

    def keys() -> Iterator[tuple[str, bytes]]:
        try:
            rows = conn.execute("SELECT key_id, key FROM data_keys ORDER BY key_id")
            while batch := rows.fetchmany(BATCH):
                yield from batch
        finally:
            conn.close()

    return bytes(row[0]), keys()


def recorded_chain_head(sqlite_dir: Path) -> str | None:
    """The last hash the SQLite store's own audit chain read model holds, if it has one."""
    conn = open_sqlite(sqlite_dir / SQLITE_FILE)
    try:
        row = conn.execute("SELECT hash FROM audit_chain ORDER BY position DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # no read models in this file
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


# -- the PostgreSQL side ----------------------------------------------------------


def create_tables(database_url: str) -> str:
    """Let the application make its tables (events, keys, read models); its events table.

    The container's own data folder is a throw-away one: the key store would
    otherwise import a ``keys.sqlite3`` it found there, one insert per key.
    """
    with tempfile.TemporaryDirectory(prefix="yswd-pg-load-") as scratch:
        container = build(
            Settings(
                data_dir=Path(scratch),
                database_url=database_url,
                admin_token=None,  # nothing may be written before the copy
                run_projections=False,
            )
        )
        try:
            recorder = container.app.recorder
            assert isinstance(recorder, PostgresApplicationRecorder), "not a PostgreSQL store"
            return recorder.events_table_name
        finally:
            container.close()


def pg_events(database_url: str, table: str) -> Iterator[tuple[int, str, int, str, bytes]]:
    """The PostgreSQL store's events, as :func:`sqlite_events` gives SQLite's."""
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state "
        "FROM {} ORDER BY notification_id"
    ).format(sql.Identifier(table))
    with psycopg.connect(database_url) as conn, conn.cursor(name="pg_load_scan") as cursor:
        cursor.itersize = BATCH
        cursor.execute(query)
        for id_, originator_id, version, topic, state in cursor:
            yield id_, originator_id, version, topic, bytes(state)


def pg_keys(database_url: str) -> tuple[bytes, Iterator[tuple[str, bytes]]]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            sql.SQL("SELECT value FROM {}.service_secrets WHERE name = %s").format(
                sql.Identifier(KEY_SCHEMA)
            ),
            (SERVICE_SECRET,),
        ).fetchone()
    if row is None:
        raise ValueError("the PostgreSQL key store holds no service secret")

    def keys() -> Iterator[tuple[str, bytes]]:
        query = sql.SQL(
            'SELECT key_id, key FROM {}.contributor_keys ORDER BY key_id COLLATE "C"'
        ).format(sql.Identifier(KEY_SCHEMA))
        with psycopg.connect(database_url) as conn, conn.cursor(name="pg_load_keys") as cursor:
            cursor.itersize = BATCH
            cursor.execute(query)
            for key_id, key in cursor:
                yield key_id, bytes(key)

    return bytes(row[0]), keys()


def stored_count(database_url: str, table: str | None = None) -> tuple[int, int]:
    """(events, highest notification id) in the database; (0, 0) before the tables exist."""
    with psycopg.connect(database_url) as conn:
        name = table or "yswd_events"
        exists = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
        if exists is None or exists[0] is None:
            return 0, 0
        row = conn.execute(
            sql.SQL("SELECT count(*), coalesce(max(notification_id), 0) FROM {}").format(
                sql.Identifier(name)
            )
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def copy_events(conn: psycopg.Connection[Any], table: str, sqlite_dir: Path) -> tuple[int, int]:
    """COPY every event, a batch per transaction; (count, highest id)."""
    statement = sql.SQL(
        "COPY {} (notification_id, originator_id, originator_version, topic, state) "
        "FROM STDIN (FORMAT BINARY)"
    ).format(sql.Identifier(table))
    count = last = 0
    for batch in batches(sqlite_events(sqlite_dir), BATCH):
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(["int8", "text", "int8", "text", "bytea"])
            for row in batch:
                copy.write_row(row)
        count += len(batch)
        last = batch[-1][0]
    # the next event the service stores gets the id after the copied ones
    conn.execute(
        "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s, %s)",
        (table, max(last, 1), last > 0),
    )
    return count, last


def copy_keys(conn: psycopg.Connection[Any], sqlite_dir: Path) -> int:
    """The embedded store's service secret in place of the new one, and every data key."""
    secret, keys = sqlite_keys(sqlite_dir)
    schema = sql.Identifier(KEY_SCHEMA)
    with conn.transaction():
        conn.execute(
            sql.SQL("UPDATE {}.service_secrets SET value = %s WHERE name = %s").format(schema),
            (secret, SERVICE_SECRET),
        )
    statement = sql.SQL("COPY {}.contributor_keys (key_id, key) FROM STDIN (FORMAT BINARY)").format(
        schema
    )
    count = 0
    for batch in batches(keys, BATCH):
        with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(["text", "bytea"])
            for row in batch:
                copy.write_row(row)
        count += len(batch)
    return count


def load(sqlite_dir: Path, database_url: str) -> Loaded:
    """Copy ``sqlite_dir``'s events and keys into the (empty) store at ``database_url``."""
    t0 = time.perf_counter()
    table = create_tables(database_url)
    already, _ = stored_count(database_url, table)
    if already:
        raise ValueError(f"{table} already holds {already:,} events; load into an empty database")
    # autocommit: each ``conn.transaction()`` below is a transaction of its own
    with psycopg.connect(database_url, autocommit=True) as conn:
        keys_held = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.contributor_keys").format(sql.Identifier(KEY_SCHEMA))
        ).fetchone()
        if keys_held is not None and keys_held[0]:
            raise ValueError("the key store already holds data keys; load into an empty database")
        events, last = copy_events(conn, table, sqlite_dir)
        keys = copy_keys(conn, sqlite_dir)
        # fresh statistics, or the first queries plan for an empty table
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
        conn.execute(sql.SQL("ANALYZE {}.contributor_keys").format(sql.Identifier(KEY_SCHEMA)))
    return Loaded(events, keys, last, time.perf_counter() - t0)


# -- proving the copy -------------------------------------------------------------


def summarise(
    events: Iterable[tuple[int, str, int, str, bytes]],
    secret: bytes,
    keys: Iterable[tuple[str, bytes]],
) -> Summary:
    """Counts and digests of one store, streamed (nothing is held but the hashes)."""
    digest = hashlib.sha256()
    head = GENESIS
    count = last = 0
    for id_, originator_id, version, topic, state in events:
        parts = (str(id_).encode(), originator_id.encode(), str(version).encode())
        for part in (*parts, topic.encode(), state):
            digest.update(len(part).to_bytes(8, "big") + part)
        stored = SimpleNamespace(
            originator_id=originator_id, originator_version=version, topic=topic, state=state
        )
        head = chain_hash(head, stored)
        count += 1
        last = id_
    keys_digest = hashlib.sha256()
    key_count = 0
    for key_id, key in keys:
        for part in (key_id.encode(), key):
            keys_digest.update(len(part).to_bytes(8, "big") + part)
        key_count += 1
    return Summary(
        events=count,
        last_id=last,
        digest=digest.hexdigest(),
        chain_head=head,
        keys=key_count,
        keys_digest=keys_digest.hexdigest(),
        secret_digest=hashlib.sha256(secret).hexdigest(),
    )


def check(sqlite_dir: Path, database_url: str, table: str = "yswd_events") -> dict[str, Any]:
    """Both stores summarised, and whether they agree (``ok``)."""
    t0 = time.perf_counter()
    secret, keys = sqlite_keys(sqlite_dir)
    source = summarise(sqlite_events(sqlite_dir), secret, keys)
    secret, keys = pg_keys(database_url)
    target = summarise(pg_events(database_url, table), secret, keys)
    recorded = recorded_chain_head(sqlite_dir)
    differ = [name for name, value in asdict(source).items() if asdict(target)[name] != value]
    if recorded is not None and recorded != target.chain_head:
        differ.append("recorded chain head")
    return {
        "ok": not differ,
        "differ": differ,
        "sqlite": asdict(source),
        "postgresql": asdict(target),
        "sqlite_recorded_chain_head": recorded,
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pg_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sqlite_dir", type=Path, help="an embedded store's data folder")
    parser.add_argument("database_url", help="an empty PostgreSQL database")
    parser.add_argument("--check", action="store_true", help="then compare both stores")
    parser.add_argument("--check-only", action="store_true", help="compare, do not load")
    args = parser.parse_args(argv)
    if not args.check_only:
        loaded = load(args.sqlite_dir, args.database_url)
        print(json.dumps({"run": "load", **asdict(loaded), "rate": round(loaded.rate)}), flush=True)
    if args.check or args.check_only:
        result = check(args.sqlite_dir, args.database_url)
        print(json.dumps({"run": "check", **result}), flush=True)
        if not result["ok"]:
            sys.exit(1)


if __name__ == "__main__":
    main()
