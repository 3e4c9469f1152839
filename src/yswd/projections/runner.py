"""Feeds stored events to read models, in order, each event applied exactly once.

Events are read from the notification log in batches. A batch is applied to
every read model that has not seen it yet inside ONE database transaction,
and each model's tracking position is moved last, with a compare-and-set on
the old position. So either a whole batch lands with its position, or none of
it does; a crash just means the batch is read again. A second runner that
races this one fails its compare-and-set and rolls back instead of applying
anything twice, and backs off quietly until its next poll.

Several workers may run the same read models. On PostgreSQL each batch
transaction first takes a transaction-scoped advisory lock keyed on the
runner's group (the names of its read models), with ``pg_try_advisory_xact_lock``,
so only one worker applies a batch at a time and the others skip that poll
instead of queueing behind it. On SQLite the write transaction (``BEGIN
IMMEDIATE``) already serialises runners. Either way the compare-and-set on
``projection_tracking`` stays the final guard.

Positions are kept in memory between batches: the compare-and-set makes that
safe (a stale position fails it, rolls back, and the positions are read again).
A batch that comes back shorter than asked for ends a catch-up without a
second read of the log.

One bad event must not stop a board. When a read model raises for a batch,
the batch is retried a bounded number of times; then it is applied again event
by event, and an event that still fails for a model is recorded in
``projection_dead_letters`` (read model, position, topic, error class and
message; never the event's data) and skipped for that model only. The other
read models, and later events, carry on. A rebuild of the model clears its
dead letters and tries those events again. A database that cannot be reached
is not a bad event: that error propagates and the whole batch is retried later.

The eventsourcing library's own ``ProjectionRunner`` needs a recorder that
can ``subscribe()``, which its SQLite recorder cannot, and it commits once per
event; this runner polls and batches instead, for either store.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from eventsourcing.persistence import Notification
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from yswd.adapters.persistence import WRITE_OPTION, write_transaction
from yswd.application.service import Yswd
from yswd.projections.staff_items import driver_sql

log = logging.getLogger(__name__)

T = TypeVar("T")

tracking_metadata = MetaData()
projection_tracking = Table(
    "projection_tracking",
    tracking_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
)
projection_dead_letters = Table(
    "projection_dead_letters",
    tracking_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("position", Integer, nullable=False),
    Column("topic", String(300), nullable=False),
    Column("error_class", String(200), nullable=False),
    Column("error", Text, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("name", "position", name="uq_projection_dead_letters"),
)

#: longest error message kept in a dead letter
ERROR_CHARS = 300
#: how often one catch-up starts again after finding another runner got there first
STALE_ROUNDS = 3


class ReadModel(Protocol):
    """What the runner needs of a read model.

    A model may also define ``apply_batch(conn, events)`` (a list of
    ``(position, event)`` pairs in order), which the runner prefers to
    ``apply``; ``topic_prefixes``, a tuple of topic prefixes it cares about
    (events with other topics are neither decoded nor given to it); and
    ``bulk_indexes``, secondary indexes its writes never read through, which a
    rebuild drops first and builds again at the end.
    """

    name: str
    metadata: MetaData
    #: True: ``apply`` gets the stored Notification (raw bytes, e.g. for hashing)
    #: instead of the decoded domain event
    wants_stored_form: bool

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        """Apply one event. Called inside the batch's transaction."""

    def reset(self, conn: Connection) -> None:
        """Delete every row, before a rebuild."""


class ConcurrentRunner(RuntimeError):
    """Another runner moved a read model's position while this one was applying."""


class StalePositions(ConcurrentRunner):
    """Another runner applied events since this one last looked: its view is stale."""


class ModelFailed(RuntimeError):
    """A read model raised while applying events (not a database outage)."""

    def __init__(self, model: ReadModel, error: Exception) -> None:
        super().__init__(f"read model {model.name} failed: {type(error).__name__}")
        self.model = model
        self.error = error


#: advisory lock key serialising table creation across processes
SCHEMA_LOCK_KEY = 0x7973_7764_0000_0001  # "yswd" + 1


def advisory_key(names: Sequence[str]) -> int:
    """A stable signed 64-bit key for a group of read models (PostgreSQL's bigint)."""
    digest = hashlib.sha256(("yswd-projections:" + ",".join(sorted(names))).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def is_outage(error: BaseException) -> bool:
    """True when the database itself failed (unreachable, locked), not the read model."""
    if isinstance(error, OperationalError):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


@contextmanager
def batch_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-model write transaction that commits without its own fsync on SQLite.

    Read models are derived data: a commit lost to a power cut loses its tracking
    position with it, and the batch is simply applied again from the log. So on
    SQLite (WAL) the runner's transactions use ``synchronous=NORMAL``; the events
    themselves stay ``FULL``, and the next event commit makes these durable too.
    The connection is put back to ``FULL`` before it returns to the pool.
    """
    if engine.dialect.name != "sqlite":
        with write_transaction(engine) as conn:
            yield conn
        return
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        raw.execute("PRAGMA synchronous=NORMAL")
        try:
            connection = connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection
        finally:
            if not raw.in_transaction:
                raw.execute("PRAGMA synchronous=FULL")


class AnswerCache:
    """Answers computed from read models, kept until the data they come from changes.

    Each lookup first runs ``version_sql`` (one small query; by default every read
    model's tracking position), and an answer stored under another version is
    computed again. Reading the version first means a stored answer is never
    older than its key. Used for public reads that every visitor asks for
    (boards, metrics); those pass the item rows' change counter, so an audited
    staff read or a new user does not throw their answers away.
    """

    def __init__(self, engine: Engine, size: int = 512, version_sql: str | None = None) -> None:
        self.engine = engine
        self.size = size
        self._sql = version_sql or "SELECT name, position FROM projection_tracking ORDER BY name"
        self._entries: OrderedDict[Hashable, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def positions(self) -> tuple[Any, ...]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(self._sql).all()
        return tuple(tuple(row) for row in rows)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        positions = self.positions()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == positions:
                self._entries.move_to_end(key)
                self.hits += 1
                return cast(T, found[1])
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = (positions, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value


class ProjectionRunner:
    """Keeps a set of read models up to date with the event store."""

    def __init__(
        self,
        app: Yswd,
        engine: Engine,
        read_models: Sequence[ReadModel],
        batch_size: int = 500,
        rebuild_batch_size: int = 5000,
        retries: int = 2,
        answers_version_sql: str | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.read_models = list(read_models)
        self.batch_size = batch_size
        self.rebuild_batch_size = rebuild_batch_size
        #: how many times a failing batch is tried again before it is split up
        self.retries = retries
        self._lock = threading.Lock()
        self._caught_up = threading.Condition()
        self._positions: dict[str, int] = {}
        self.lock_key = advisory_key([model.name for model in self.read_models])
        #: batches this runner skipped because another runner held the group or
        #: moved a position first (for tests and metrics)
        self.backoffs = 0
        #: public answers, valid until ``answers_version_sql`` (default: every
        #: tracking position) answers something else
        self.answers = AnswerCache(engine, version_sql=answers_version_sql)

    # -- set-up ---------------------------------------------------------------

    def create_tables(self) -> None:
        with write_transaction(self.engine) as conn:
            # DDL inside the write transaction: on SQLite a deferred one fails
            # at once with "database is locked" while another process writes;
            # on PostgreSQL workers starting together queue on a lock instead
            # of racing to CREATE the same tables
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            tracking_metadata.create_all(conn)
            for model in self.read_models:
                model.metadata.create_all(conn)
                # create_all skips tables that exist: an index added in a later
                # version is created here for a store made by an earlier one
                for table in model.metadata.sorted_tables:
                    for index in table.indexes:
                        index.create(conn, checkfirst=True)
            known = set(conn.scalars(select(projection_tracking.c.name)))
            for model in self.read_models:
                if model.name not in known:
                    conn.execute(projection_tracking.insert().values(name=model.name, position=0))
        self._positions = self.positions()

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(projection_tracking.c.name, projection_tracking.c.position))
            found = {name: position for name, position in rows}
        return {model.name: found.get(model.name, 0) for model in self.read_models}

    def head(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def lag(self) -> dict[str, dict[str, int]]:
        head = self.head()
        return {
            name: {"position": position, "head": head, "lag": head - position}
            for name, position in self.positions().items()
        }

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Events a read model could not apply and skipped, oldest first."""
        table = projection_dead_letters
        query = (
            select(
                table.c.name,
                table.c.position,
                table.c.topic,
                table.c.error_class,
                table.c.error,
                table.c.recorded_at,
            )
            .order_by(table.c.position, table.c.name)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "read_model": name,
                "position": position,
                "topic": topic,
                "error_class": error_class,
                "error": error,
                "recorded_at": recorded_at,
            }
            for name, position, topic, error_class, error, recorded_at in rows
        ]

    # -- running --------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event stored so far. Returns how many events were applied."""
        return self._catch_up(self.batch_size, progress)

    def applied(self) -> int:
        """The position every read model has applied, as this runner last saw it."""
        return min(self._positions.values(), default=0)

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Block until every read model has applied ``position``; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.applied() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._caught_up:
                self._caught_up.wait(min(remaining, 0.05))
            if not self._lock.locked():
                self._positions = self.positions()
        return True

    def run_forever(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            try:
                self.catch_up()
            except Exception:
                log.exception("projection runner failed; retrying")
                stop.wait(1.0)
            stop.wait(interval)

    def rebuild(
        self, names: Sequence[str] | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Drop the named read models' rows (all by default) and replay every event.

        Their dead letters are cleared first, so the events they skipped are tried again.
        """
        chosen = [m for m in self.read_models if names is None or m.name in names]
        with self._lock:
            with write_transaction(self.engine) as conn:
                for model in chosen:
                    model.reset(conn)
                    conn.execute(
                        update(projection_tracking)
                        .where(projection_tracking.c.name == model.name)
                        .values(position=0)
                    )
                    conn.execute(
                        delete(projection_dead_letters).where(
                            projection_dead_letters.c.name == model.name
                        )
                    )
                    for index in getattr(model, "bulk_indexes", ()):
                        index.drop(conn, checkfirst=True)
            self._positions = self.positions()
        try:
            return self._catch_up(max(self.batch_size, self.rebuild_batch_size), progress)
        finally:
            # built once over the whole table, not row by row during the replay; a
            # crash before this line leaves them to ``create_tables`` on the next start
            with self._lock, write_transaction(self.engine) as conn:
                for model in chosen:
                    for index in getattr(model, "bulk_indexes", ()):
                        index.create(conn, checkfirst=True)

    # -- internals ------------------------------------------------------------

    def _catch_up(self, batch_size: int, progress: Callable[[int], None] | None) -> int:
        applied = 0
        with self._lock:
            if not self._positions:
                self._positions = self.positions()
            stale_rounds = 0
            while True:
                try:
                    count, complete = self._apply_next_batch(batch_size)
                except StalePositions:
                    stale_rounds += 1  # positions were re-read: go on from there
                    if stale_rounds > STALE_ROUNDS:
                        break
                    continue
                if count:
                    applied += count
                    if progress is not None:
                        progress(count)
                if count == 0 or not complete:
                    break
        if applied:
            with self._caught_up:
                self._caught_up.notify_all()
        return applied

    def _apply_next_batch(self, batch_size: int) -> tuple[int, bool]:
        """Apply the next batch; returns (events applied, whether the batch was full)."""
        positions = dict(self._positions)
        start = min(positions.values(), default=0)
        notifications: Sequence[Notification] = self.app.recorder.select_notifications(
            start=start + 1, limit=batch_size
        )
        if not notifications:
            return 0, False
        last = notifications[-1].id
        pending = [m for m in self.read_models if positions[m.name] < last]
        feeds = self._feeds(pending, positions, notifications)
        attempt = 0
        while True:
            try:
                with batch_transaction(self.engine) as conn:
                    self._lock_group(conn)
                    self._require_positions(conn, pending, positions)
                    for model in pending:
                        self._feed(model, conn, feeds[model.name])
                    self._move(conn, pending, positions, last)
                break
            except StalePositions:
                self._back_off("positions moved by another runner")
                raise
            except ConcurrentRunner as reason:
                # The transaction rolled back: nothing of this batch was applied.
                return self._back_off(reason), False
            except ModelFailed as failure:
                attempt += 1
                log.warning(
                    "read model %s failed on a batch up to position %s (attempt %s): %s",
                    failure.model.name,
                    last,
                    attempt,
                    type(failure.error).__name__,
                )
                if attempt > self.retries:
                    self._apply_one_by_one(pending, positions, notifications, feeds)
                    return len(notifications), len(notifications) >= batch_size
        self._positions = {name: max(pos, last) for name, pos in positions.items()}
        return len(notifications), len(notifications) >= batch_size

    def _feeds(
        self,
        models: Sequence[ReadModel],
        positions: dict[str, int],
        notifications: Sequence[Notification],
    ) -> dict[str, list[tuple[int, Any]]]:
        """Each model's (position, event) pairs, decoding only what some model wants."""
        decoded: dict[int, Any] = {}
        mapper = self.app.mapper
        feeds: dict[str, list[tuple[int, Any]]] = {}
        for model in models:
            seen = positions[model.name]
            prefixes = getattr(model, "topic_prefixes", None)
            chosen = [
                n
                for n in notifications
                if n.id > seen and (prefixes is None or n.topic.startswith(prefixes))
            ]
            if getattr(model, "wants_stored_form", False):
                feeds[model.name] = [(n.id, n) for n in chosen]
                continue
            feed = []
            for n in chosen:
                event = decoded.get(n.id)
                if event is None:
                    event = decoded[n.id] = mapper.to_domain_event(n)
                feed.append((n.id, event))
            feeds[model.name] = feed
        return feeds

    @staticmethod
    def _feed(model: ReadModel, conn: Connection, feed: Sequence[tuple[int, Any]]) -> None:
        if not feed:
            return
        try:
            apply_batch = getattr(model, "apply_batch", None)
            if apply_batch is not None:
                apply_batch(conn, feed)
            else:
                for position, event in feed:
                    model.apply(conn, event, position)
        except Exception as error:
            if is_outage(error):
                raise
            raise ModelFailed(model, error) from error

    def _move(
        self,
        conn: Connection,
        models: Sequence[ReadModel],
        positions: dict[str, int],
        last: int,
    ) -> None:
        """Compare-and-set every model's position from what it had seen to ``last``."""
        groups: dict[int, list[str]] = {}
        for model in models:
            groups.setdefault(positions[model.name], []).append(model.name)
        for seen, names in groups.items():
            sql = driver_sql(
                conn,
                "UPDATE projection_tracking SET position = ? WHERE position = ? "
                f"AND name IN ({', '.join('?' for _ in names)})",
            )
            moved = conn.exec_driver_sql(sql, (last, seen, *names))
            if moved.rowcount != len(names):
                raise ConcurrentRunner(f"read models {names} were moved by another runner")

    def _require_positions(
        self, conn: Connection, models: Sequence[ReadModel], positions: dict[str, int]
    ) -> None:
        """Refuse a batch planned from positions that another runner has since moved.

        Inside the write transaction (serialised on SQLite, under the advisory lock
        on PostgreSQL) this is exact: a batch is never applied twice, and a model's
        failure is never mistaken for a bad event when it was only a stale view.
        """
        names = [model.name for model in models]
        sql = driver_sql(
            conn,
            "SELECT name, position FROM projection_tracking "
            f"WHERE name IN ({', '.join('?' for _ in names)})",
        )
        stored: dict[str, int] = {
            name: position for name, position in conn.exec_driver_sql(sql, tuple(names)).all()
        }
        if any(stored.get(name, 0) != positions[name] for name in names):
            raise StalePositions(f"read models {names} were moved by another runner")

    def _apply_one_by_one(
        self,
        models: Sequence[ReadModel],
        positions: dict[str, int],
        notifications: Sequence[Notification],
        feeds: dict[str, list[tuple[int, Any]]],
    ) -> None:
        """Split a failing batch: one transaction per event, dead-lettering what still fails."""
        by_position = {name: dict(feed) for name, feed in feeds.items()}  # per model
        positions = dict(positions)
        for notification in notifications:
            position = notification.id
            pending = [m for m in models if positions[m.name] < position]
            failed: dict[str, ModelFailed] = {}
            while True:
                try:
                    with batch_transaction(self.engine) as conn:
                        self._lock_group(conn)
                        self._require_positions(conn, pending, positions)
                        for model in pending:
                            if model.name in failed:
                                self._record_dead_letter(
                                    conn, model, notification, failed[model.name].error
                                )
                                continue
                            event = by_position[model.name].get(position)
                            if event is not None:
                                self._feed(model, conn, [(position, event)])
                        self._move(conn, pending, positions, position)
                    break
                except ConcurrentRunner as reason:
                    self._back_off(reason)
                    return
                except ModelFailed as failure:
                    failed[failure.model.name] = failure
            for model in pending:
                positions[model.name] = position
            self._positions = dict(positions)

    def _record_dead_letter(
        self, conn: Connection, model: ReadModel, notification: Notification, error: Exception
    ) -> None:
        log.error(
            "read model %s skipped the event at position %s (%s): %s",
            model.name,
            notification.id,
            notification.topic,
            type(error).__name__,
        )
        conn.execute(
            projection_dead_letters.insert().values(
                name=model.name,
                position=notification.id,
                topic=notification.topic[:300],
                error_class=f"{type(error).__module__}.{type(error).__qualname__}"[:200],
                error=str(error)[:ERROR_CHARS],
                recorded_at=datetime.now(UTC).isoformat(),
            )
        )

    def _back_off(self, reason: Exception | str) -> int:
        """Another runner applied events: re-read where things stand.

        Events this process did not fold may have changed what a model keeps in
        memory (an erasure, say), so every model's cache is dropped too.
        """
        self.backoffs += 1
        log.debug("projection batch skipped: %s", reason)
        self._positions = self.positions()
        for model in self.read_models:
            forget_cache = getattr(model, "forget_cache", None)
            if forget_cache is not None:
                forget_cache()
        return 0

    def _lock_group(self, conn: Connection) -> None:
        """Take this group's advisory lock for the transaction (PostgreSQL only)."""
        if conn.dialect.name != "postgresql":
            return
        taken = conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": self.lock_key}
        ).scalar()
        if not taken:
            raise ConcurrentRunner("another runner holds this group's advisory lock")
