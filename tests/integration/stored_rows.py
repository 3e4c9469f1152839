"""For the audit tests: a store on SQLite or a real PostgreSQL, and its event rows edited
behind the service's back with plain SQL, as someone holding the database could.

``store_settings`` gives the settings for one store; ``StoredRows`` reads and
edits the stored event rows by their log position (SQLite's ``rowid``,
PostgreSQL's ``notification_id``).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from yswd.adapters.persistence import SQLITE_FILE
from yswd.bootstrap import Container
from yswd.settings import Settings

from .servers import Postgres

STORES = ["sqlite", "postgresql"]
_databases = itertools.count(1)


def store_settings(request: pytest.FixtureRequest, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings for ``request.param``'s store; PostgreSQL gets a fresh database."""
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data", **overrides)
    server: Postgres = request.getfixturevalue("postgres")
    name = f"yswd_audit_{next(_databases)}"
    server.psql(f"CREATE DATABASE {name} OWNER {server.user}")
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    # the read models (the chain among them) run in this process, as in the embedded mode
    return Settings(database_url=url, data_dir=tmp_path / "data", run_projections=True, **overrides)


class StoredRows:
    """The stored event rows of one container's store, by log position."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.table = container.app.recorder.events_table_name
        self.url = container.settings.database_url
        self.position = "notification_id" if self.url else "rowid"

    def _sql(self, sql: str) -> str:
        sql = sql.replace("{table}", self.table).replace("{position}", self.position)
        return sql.replace("?", "%s") if self.url else sql

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        if self.url:
            with psycopg.connect(self.url, autocommit=True) as conn:
                return list(conn.execute(self._sql(sql), args).fetchall())
        db = sqlite3.connect(self.container.settings.data_dir / SQLITE_FILE)
        try:
            return list(db.execute(self._sql(sql), args).fetchall())
        finally:
            db.close()

    def execute(self, sql: str, *args: object) -> None:
        if self.url:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(self._sql(sql), args)
            return
        db = sqlite3.connect(self.container.settings.data_dir / SQLITE_FILE)
        try:
            with db:
                db.execute(self._sql(sql), args)
        finally:
            db.close()

    def rows(self) -> list[tuple[int, str, int]]:
        """(position, originator id, version) of every stored event, in log order."""
        return [
            (int(p), str(o), int(v))
            for p, o, v in self.query(
                "SELECT {position}, originator_id, originator_version FROM {table}"
                " ORDER BY {position}"
            )
        ]

    def stored(self) -> Iterator[tuple[int, str, int, str, bytes]]:
        """(position, originator id, version, topic, state) of every stored event."""
        for p, o, v, t, s in self.query(
            "SELECT {position}, originator_id, originator_version, topic, state FROM {table}"
            " ORDER BY {position}"
        ):
            yield int(p), str(o), int(v), str(t), bytes(s)

    def state(self, position: int) -> bytes:
        ((state,),) = self.query("SELECT state FROM {table} WHERE {position} = ?", position)
        return bytes(state)

    def set_state(self, position: int, state: bytes) -> None:
        self.execute("UPDATE {table} SET state = ? WHERE {position} = ?", state, position)

    def set_topic(self, position: int, topic: str) -> None:
        self.execute("UPDATE {table} SET topic = ? WHERE {position} = ?", topic, position)

    def delete(self, position: int) -> None:
        self.execute("DELETE FROM {table} WHERE {position} = ?", position)

    def swap_states(self, first: int, second: int) -> None:
        self.execute(
            "UPDATE {table} SET state = CASE {position}"
            " WHEN ? THEN (SELECT state FROM {table} WHERE {position} = ?)"
            " ELSE (SELECT state FROM {table} WHERE {position} = ?) END"
            " WHERE {position} IN (?, ?)",
            first,
            second,
            first,
            first,
            second,
        )

    def insert_copy(self, source: int, originator_id: str) -> None:
        """A forged row at the end of the log: a copy of ``source`` under another id."""
        self.execute(
            "INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " SELECT ?, 1, topic, state FROM {table} WHERE {position} = ?",
            originator_id,
            source,
        )
