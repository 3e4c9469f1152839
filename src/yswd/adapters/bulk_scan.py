"""The event log read in bulk, for rebuilds (``yswd.projections.ports.BulkEventSource``).

eventsourcing's ``select_notifications`` builds a ``Notification`` per row
through its recorder, and its mapper a domain event per state; a rebuild reads
every row once and needs neither. So this reads the events table with one plain
SQL query per batch on a connection of its own (SQLite: read-only, so it can
never write the store; PostgreSQL: a psycopg connection in autocommit, each
batch its own snapshot), and hands each state to a decoder
(``yswd.adapters.crypto.PlainStates``, given by the composition root) that
turns it into a plain dict. The in-memory store is read through its recorder.

The query is the library's own: rows in notification order from ``start`` on,
``LIMIT`` per batch (SQLite's ``rowid`` is its notification id).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import psycopg

from yswd.projections.ports import NotificationReader, StoredRecord


class StateDecoder(Protocol):
    """Turns stored states into plain dicts (``crypto.PlainStates``)."""

    def decode(
        self, topics: Sequence[str], originator_ids: Sequence[str], states: Sequence[bytes]
    ) -> list[dict[str, Any]]: ...

    def forget_keys(self) -> None: ...


class _Decoding:
    def __init__(self, decoder: StateDecoder) -> None:
        self.decoder = decoder

    def plain_states(self, records: Sequence[StoredRecord]) -> list[dict[str, Any]]:
        """The records' states, decoded as columns (``zip`` turns the rows round in C)."""
        if not records:
            return []
        _, originator_ids, _, topics, states = zip(*records, strict=True)
        return self.decoder.decode(topics, originator_ids, states)


class SQLiteEventScan(_Decoding):
    """The SQLite events table, read through a read-only connection."""

    def __init__(self, path: Path, table: str, decoder: StateDecoder) -> None:
        super().__init__(decoder)
        self.path = path
        self._query = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT ?"
        )
        self._conn: sqlite3.Connection | None = None

    def stored_events(self, start: int, limit: int) -> Sequence[StoredRecord]:
        if self._conn is None:
            self._conn = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout=10000")
        rows = self._conn.execute(self._query, (start, limit)).fetchall()
        return list(map(_as_record, rows))

    def close(self) -> None:
        self.decoder.forget_keys()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresEventScan(_Decoding):
    """The PostgreSQL events table, read with psycopg (no SQLAlchemy, no pool)."""

    def __init__(self, database_url: str, table: str, decoder: StateDecoder) -> None:
        super().__init__(decoder)
        self.database_url = database_url
        self._query = (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {table} WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
        )
        self._conn: psycopg.Connection[Any] | None = None

    def stored_events(self, start: int, limit: int) -> Sequence[StoredRecord]:
        if self._conn is None:
            self._conn = psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)
        try:
            rows = self._conn.execute(self._query, (start, limit)).fetchall()
        except psycopg.OperationalError:
            self.close()  # the next batch connects afresh
            raise
        return list(map(_as_record, rows))

    def close(self) -> None:
        self.decoder.forget_keys()
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class RecorderScan(_Decoding):
    """Any recorder (the in-memory store): its notifications, as records."""

    def __init__(self, recorder: NotificationReader, decoder: StateDecoder) -> None:
        super().__init__(decoder)
        self.recorder = recorder

    def stored_events(self, start: int, limit: int) -> Sequence[StoredRecord]:
        return [
            StoredRecord(n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
            for n in self.recorder.select_notifications(start=start, limit=limit)
        ]

    def close(self) -> None:
        self.decoder.forget_keys()


#: a row of the query, ``(id, originator_id, originator_version, topic, state)``, as
#: its record: ``tuple.__new__`` straight, so ``map`` builds records with no Python
#: call per row (``StoredRecord(*row)`` in a row factory was a third of the scan)
_as_record: Callable[[tuple[Any, ...]], StoredRecord] = partial(tuple.__new__, StoredRecord)
