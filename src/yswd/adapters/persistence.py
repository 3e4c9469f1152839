"""Where events and read models are stored: SQLite in a data folder, or PostgreSQL.

The embedded default keeps both in one SQLite file, in WAL mode with
``synchronous=FULL`` so that a commit is on disk before the service answers
201, and ``secure_delete`` so that erased bytes are overwritten.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType
from sqlalchemy import Connection, Engine, create_engine, event

from yswd.settings import Settings

SQLITE_FILE = "yswd.sqlite3"
#: seals contributors' personal fields under keys that erasure destroys
SHREDDING_MAPPER = "yswd.adapters.crypto:ShreddingMapper"
WRITE_OPTION = "yswd_write"
SQLITE_PRAGMAS = (
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA foreign_keys=ON",
)


class DurableSQLiteConnectionPool(SQLiteConnectionPool):
    """eventsourcing's pool, with each connection made durable and secure-deleting."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        raw: sqlite3.Connection = connection._sqlite_conn
        for pragma in SQLITE_PRAGMAS:
            raw.execute(pragma)
        return connection


class DurableSQLiteFactory(SQLiteFactory):
    """Selected with ``PERSISTENCE_MODULE=yswd.adapters.persistence:DurableSQLiteFactory``."""

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        stock = self.datastore
        self.datastore = SQLiteDatastore(
            db_name=stock.pool.db_name,
            lock_timeout=stock.pool.lock_timeout,
            single_row_tracking=stock.single_row_tracking,
            originator_id_type=stock.originator_id_type,
        )
        self.datastore.pool = DurableSQLiteConnectionPool(
            db_name=stock.pool.db_name, lock_timeout=stock.pool.lock_timeout
        )
        stock.close()


def sqlite_path(settings: Settings) -> Path:
    return settings.data_dir / SQLITE_FILE


def event_store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing settings for the configured store (and nothing from os.environ)."""
    env = {"ORIGINATOR_ID_TYPE": "text", "MAPPER_TOPIC": SHREDDING_MAPPER}
    if settings.database_url:
        url = urlsplit(settings.database_url)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=url.path.lstrip("/"),
            POSTGRES_HOST=url.hostname or "127.0.0.1",
            POSTGRES_PORT=str(url.port or 5432),
            POSTGRES_USER=unquote(url.username or ""),
            POSTGRES_PASSWORD=unquote(url.password or ""),
            POSTGRES_CONNECT_TIMEOUT="5",
            # a connection that died with the server is replaced, not handed out
            POSTGRES_PRE_PING="y",
            POSTGRES_LOCK_TIMEOUT="5",
            POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT="10",
            POSTGRES_POOL_SIZE="5",
            POSTGRES_MAX_OVERFLOW="10",
        )
        return env
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        PERSISTENCE_MODULE="yswd.adapters.persistence:DurableSQLiteFactory",
        SQLITE_DBNAME=str(sqlite_path(settings)),
        SQLITE_LOCK_TIMEOUT="10",
    )
    return env


def memory_env() -> dict[str, str]:
    """An in-memory store for fast unit tests."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.popo",
        "ORIGINATOR_ID_TYPE": "text",
        "MAPPER_TOPIC": SHREDDING_MAPPER,
    }


def read_model_engine(settings: Settings) -> Engine:
    """The SQLAlchemy engine for read models, in the same database as the events."""
    if settings.database_url:
        url = settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=5,
            connect_args={"connect_timeout": 5},
        )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{sqlite_path(settings)}",
        connect_args={"timeout": 10, "check_same_thread": False},
    )
    _make_sqlite_durable(engine)
    return engine


def memory_engine() -> Engine:
    """A private in-memory SQLite database for unit tests' read models."""
    from sqlalchemy.pool import StaticPool

    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    _make_sqlite_durable(engine)
    return engine


def _make_sqlite_durable(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's own BEGIN handling work with pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the lock up front (IMMEDIATE), so it never fails to
        # upgrade a read lock half way; readers take a snapshot (deferred).
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-model write transaction: all of it commits, or none of it."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            yield connection
