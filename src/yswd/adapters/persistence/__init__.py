"""Where events and read models are stored: SQLite in a data folder, or PostgreSQL.

The embedded default keeps both in one SQLite file, in WAL mode with
``synchronous=FULL`` so that a commit is on disk before the service answers
201, and ``secure_delete`` so that erased bytes are overwritten.

PostgreSQL outages must not hang requests. eventsourcing's recorder retries a
failed operation up to ten times, each time waiting for a pooled connection,
which took more than 20 s with the server down. So every web request runs under
a :class:`DatabaseDeadline` (set by the HTTP edge): once a request has failed to
get a connection and its deadline has passed, the next try raises
:class:`DatabaseUnavailable` at once, which the retry loop does not catch and
the HTTP edge answers with 503 and ``Retry-After``. A healthy request is never
cut short, however long it takes. Connections also carry libpq's
``connect_timeout`` and TCP keepalives, so an unreachable host fails in seconds.
Background work (the worker) has no deadline and keeps the library's retries.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from eventsourcing.persistence import ApplicationRecorder, PersistenceError
from eventsourcing.postgres import ConnectionPool, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import Environment, EnvType
from psycopg_pool import PoolTimeout
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from yswd.adapters.persistence.group_commit import group_commits
from yswd.adapters.persistence.sqlite_gate import WriteGate, write_gate
from yswd.settings import Settings

log = logging.getLogger(__name__)

SQLITE_FILE = "yswd.sqlite3"
#: seals contributors' personal fields under keys that erasure destroys
SHREDDING_MAPPER = "yswd.adapters.crypto:ShreddingMapper"
WRITE_OPTION = "yswd_write"
#: SQLite checkpoints its WAL inside the COMMIT that takes the WAL past this many
#: pages (default 1,000), and that COMMIT returns only when the checkpoint's copy
#: and fsync are done: B2 saw a group of POSTs wait a whole second for one. So the
#: read models' batches checkpoint instead, after their commit and outside the
#: write gate (:func:`batch_transaction`); this larger threshold is the safety net
#: for a store whose read models are projected nowhere.
WAL_AUTOCHECKPOINT_PAGES = 10_000
SQLITE_PRAGMAS = (
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}",
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

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        gate = write_gate(self.datastore.pool.db_name)
        if gate is not None:
            recorder.insert_events = gate.gated(recorder.insert_events)  # type: ignore[method-assign]
        return group_commits(recorder, self.env)


#: seconds libpq waits for a TCP connection and the server's first answer
CONNECT_TIMEOUT_SECONDS = 3
#: libpq options for every PostgreSQL connection: fail in seconds when the host
#: cannot be reached, and notice a dead peer on an idle or busy connection
LIBPQ_OPTIONS: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 3,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
#: how long the event store's pool keeps retrying a lost connection in the
#: background before it starts afresh on the next request (psycopg_pool backs
#: off exponentially, so a long window means a slow recovery after an outage)
POOL_RECONNECT_WINDOW_SECONDS = 8.0


class DatabaseUnavailable(PersistenceError):
    """The database could not be reached within the request's deadline.

    Not an ``OperationalError``, so eventsourcing's retry loop lets it through.
    """


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection was in use past the request's deadline: overload, not an outage.

    The database answers; this process just has more requests in flight than
    connections. The HTTP edge says so (503, "busy") instead of "cannot reach".
    """

    #: read by the HTTP edge, which may not import this adapter
    overloaded = True


class DatabaseDeadline:
    """How long one request may spend waiting for an unreachable database."""

    def __init__(self, seconds: float) -> None:
        self.expires_at = time.monotonic() + seconds
        #: set once a connection could not be had; only then is the deadline enforced
        self.failed = False

    def remaining(self) -> float:
        return self.expires_at - time.monotonic()


_deadline: ContextVar[DatabaseDeadline | None] = ContextVar("yswd_db_deadline", default=None)


@contextmanager
def database_deadline(seconds: float) -> Iterator[DatabaseDeadline]:
    """Run the block (and threads it hands work to) under one deadline."""
    deadline = DatabaseDeadline(seconds)
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


class DeadlinePool(ConnectionPool):  # type: ignore[type-arg]
    """eventsourcing's pool, but a caller under a deadline never waits past it."""

    def getconn(self, timeout: float | None = None) -> Any:
        deadline = _deadline.get()
        if deadline is None:
            return super().getconn(timeout)
        remaining = deadline.remaining()
        if deadline.failed and remaining <= 0:
            raise DatabaseUnavailable("the database did not answer within the deadline")
        # a pooled connection is handed out at once; only waiting is bounded
        wait = min(timeout if timeout is not None else self.timeout, max(remaining, 0.25))
        try:
            return super().getconn(wait)
        except PoolTimeout:
            deadline.failed = True
            if self.exhausted():
                # the server answers, every connection is busy with other requests:
                # waiting again (the library's retries) would only lengthen the queue
                raise DatabaseBusy("every database connection was busy") from None
            raise

    def exhausted(self) -> bool:
        """Every connection the pool may open is open and handed out."""
        stats = self.get_stats()
        return stats.get("pool_size", 0) >= self.max_size and stats.get("pool_available", 0) == 0


class ResilientPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL module with bounded waits (see the module docstring).

    Selected with ``PERSISTENCE_MODULE=yswd.adapters.persistence:ResilientPostgresFactory``.
    """

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        pool = self.datastore.pool
        # the pool is not open yet (eventsourcing opens it on first use): give its
        # connections libpq's timeouts, and make it honour request deadlines
        assert isinstance(pool.kwargs, dict)
        pool.kwargs.update(LIBPQ_OPTIONS)
        pool.reconnect_timeout = POOL_RECONNECT_WINDOW_SECONDS
        pool.__class__ = DeadlinePool  # type: ignore[assignment]

    def application_recorder(self) -> ApplicationRecorder:
        return group_commits(super().application_recorder(), self.env)


def sqlite_path(settings: Settings) -> Path:
    return settings.data_dir / SQLITE_FILE


def event_store_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing settings for the configured store (and nothing from os.environ)."""
    env = {"ORIGINATOR_ID_TYPE": "text", "MAPPER_TOPIC": SHREDDING_MAPPER}
    if settings.database_url:
        url = urlsplit(settings.database_url)
        env.update(
            PERSISTENCE_MODULE="yswd.adapters.persistence:ResilientPostgresFactory",
            POSTGRES_DBNAME=url.path.lstrip("/"),
            POSTGRES_HOST=url.hostname or "127.0.0.1",
            POSTGRES_PORT=str(url.port or 5432),
            POSTGRES_USER=unquote(url.username or ""),
            POSTGRES_PASSWORD=unquote(url.password or ""),
            # despite its name, eventsourcing's longest wait for a pooled connection;
            # libpq's own connect_timeout is LIBPQ_OPTIONS, and web requests wait
            # no longer than their DatabaseDeadline
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


def postgres_engine(database_url: str, *, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """A SQLAlchemy engine on PostgreSQL that fails in seconds when the server is gone."""
    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    return create_engine(
        url,
        pool_pre_ping=True,  # a connection that died with the server is replaced
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        connect_args=dict(LIBPQ_OPTIONS),
        hide_parameters=True,  # an error's text must not quote personal values
    )


def key_store_engine(settings: Settings) -> Engine | None:
    """Scaled out, the contributors' keys live in PostgreSQL too (own small pool)."""
    if not settings.database_url:
        return None
    return postgres_engine(settings.database_url, pool_size=2, max_overflow=4)


def read_model_engine(settings: Settings) -> Engine:
    """The SQLAlchemy engine for read models, in the same database as the events."""
    if settings.database_url:
        return postgres_engine(settings.database_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{sqlite_path(settings)}",
        connect_args={"timeout": 10, "check_same_thread": False},
        hide_parameters=True,
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


def engine_gate(engine: Engine) -> WriteGate | None:
    """The write gate of a SQLite engine's file, shared with the event store's writes."""
    if engine.dialect.name != "sqlite":
        return None
    return write_gate(engine.url.database)


#: how long a read-model batch lets waiting event writes go first (``WriteGate``)
BATCH_YIELDS_SECONDS = 0.02


@contextmanager
def _turn(engine: Engine, after_writers: float = 0.0) -> Iterator[None]:
    gate = engine_gate(engine)
    if gate is None:
        yield
        return
    with gate.turn(after_writers):
        yield


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-model write transaction: all of it commits, or none of it."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with _turn(engine), connection.begin():
            yield connection


@contextmanager
def batch_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-model write transaction that commits without its own fsync on SQLite.

    Read models are derived data: a commit lost to a power cut loses its tracking
    position with it, and the batch is simply applied again from the log. So on
    SQLite (WAL) the runner's transactions use ``synchronous=NORMAL``; the events
    themselves stay ``FULL``, and the next event commit makes these durable too.
    The connection is put back to ``FULL`` before it returns to the pool.

    After the commit, out of the write gate, a batch checkpoints the WAL now and
    then (see ``WAL_AUTOCHECKPOINT_PAGES``): a passive checkpoint takes no lock
    that a writer waits for, and it is the projector's time it costs, not a POST's.
    """
    if engine.dialect.name != "sqlite":
        with write_transaction(engine) as conn:
            yield conn
        return
    gate = engine_gate(engine)
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA synchronous=NORMAL")
        try:
            connection = connection.execution_options(**{WRITE_OPTION: True})
            with _turn(engine, BATCH_YIELDS_SECONDS), connection.begin():
                yield connection
        finally:
            if not raw.in_transaction:
                raw.execute("PRAGMA synchronous=FULL")
        if gate is not None and gate.checkpoint_due():
            _checkpoint(raw)


def _checkpoint(raw: Any) -> None:
    """A passive WAL checkpoint: copies what no reader still needs, waits for nobody."""
    try:
        raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as error:  # the next batch tries again; SQLite's own net stays
        log.debug("WAL checkpoint skipped: %s", error)


def is_outage(error: BaseException) -> bool:
    """True when the database itself failed (unreachable, locked), not the read model."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


class ReadModelStore:
    """The read models' database for the projection runner (``projections.ports``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write_transaction(self) -> AbstractContextManager[Connection]:
        return write_transaction(self.engine)

    def batch_transaction(self) -> AbstractContextManager[Connection]:
        return batch_transaction(self.engine)

    def is_outage(self, error: BaseException) -> bool:
        return is_outage(error)


class SQLiteWriteAheadLog:
    """The read models' SQLite WAL (``yswd.application.ports.WriteAheadLog``).

    After an erasure, old copies of the pages that held a name may linger in the
    ``-wal`` file; truncating it folds them into the database file. PostgreSQL's
    WAL is the operator's (docs/erasure-postgresql.md), so there it does nothing.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def truncate(self) -> None:
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.connect() as conn:
            for _ in range(50):
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
                if busy is None or busy[0] == 0:
                    return
                time.sleep(0.05)  # a reader holds an old snapshot; it will finish soon
        log.error("the SQLite WAL could not be truncated after an erasure; run it again")
