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

The eventsourcing library's own ``ProjectionRunner`` needs a recorder that
can ``subscribe()``, which its SQLite recorder cannot, and it commits once per
event; this runner polls and batches instead, for either store.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Notification
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    select,
    text,
    update,
)

from yswd.adapters.persistence import write_transaction
from yswd.application import Yswd

log = logging.getLogger(__name__)

tracking_metadata = MetaData()
projection_tracking = Table(
    "projection_tracking",
    tracking_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
)


class ReadModel(Protocol):
    """What the runner needs of a read model."""

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


#: advisory lock key serialising table creation across processes
SCHEMA_LOCK_KEY = 0x7973_7764_0000_0001  # "yswd" + 1


def advisory_key(names: Sequence[str]) -> int:
    """A stable signed 64-bit key for a group of read models (PostgreSQL's bigint)."""
    digest = hashlib.sha256(("yswd-projections:" + ",".join(sorted(names))).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ProjectionRunner:
    """Keeps a set of read models up to date with the event store."""

    def __init__(
        self,
        app: Yswd,
        engine: Engine,
        read_models: Sequence[ReadModel],
        batch_size: int = 500,
    ) -> None:
        self.app = app
        self.engine = engine
        self.read_models = list(read_models)
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._caught_up = threading.Condition()
        self._positions: dict[str, int] = {}
        self.lock_key = advisory_key([model.name for model in self.read_models])
        #: batches this runner skipped because another runner held the group or
        #: moved a position first (for tests and metrics)
        self.backoffs = 0

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

    # -- running --------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event stored so far. Returns how many events were applied."""
        applied = 0
        with self._lock:
            while True:
                count = self._apply_next_batch()
                if count == 0:
                    break
                applied += count
                if progress is not None:
                    progress(count)
        if applied:
            with self._caught_up:
                self._caught_up.notify_all()
        return applied

    def wait_for(self, position: int, timeout: float = 5.0) -> bool:
        """Block until every read model has applied ``position``; False on timeout."""
        deadline = time.monotonic() + timeout
        while min(self._positions.values(), default=0) < position:
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
        """Drop the named read models' rows (all by default) and replay every event."""
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
            self._positions = self.positions()
        return self.catch_up(progress)

    # -- internals ------------------------------------------------------------

    def _apply_next_batch(self) -> int:
        positions = self.positions()
        start = min(positions.values(), default=0)
        notifications: Sequence[Notification] = self.app.recorder.select_notifications(
            start=start + 1, limit=self.batch_size
        )
        if not notifications:
            self._positions = positions
            return 0
        events = [(n.id, self.app.mapper.to_domain_event(n)) for n in notifications]
        stored = [(n.id, n) for n in notifications]
        last = notifications[-1].id
        try:
            with write_transaction(self.engine) as conn:
                if not self._lock_group(conn):
                    raise ConcurrentRunner("another runner holds this group's advisory lock")
                for model in self.read_models:
                    seen = positions[model.name]
                    if seen >= last:
                        continue
                    feed = stored if getattr(model, "wants_stored_form", False) else events
                    for position, event in feed:
                        if position > seen:
                            model.apply(conn, event, position)
                    moved = conn.execute(
                        update(projection_tracking)
                        .where(projection_tracking.c.name == model.name)
                        .where(projection_tracking.c.position == seen)
                        .values(position=last)
                    )
                    if moved.rowcount != 1:
                        raise ConcurrentRunner(
                            f"read model {model.name} was moved by another runner"
                        )
        except ConcurrentRunner as reason:
            # The transaction rolled back: nothing of this batch was applied.
            self.backoffs += 1
            log.debug("projection batch skipped: %s", reason)
            self._positions = self.positions()
            return 0
        self._positions = {name: max(pos, last) for name, pos in positions.items()}
        return len(notifications)

    def _lock_group(self, conn: Connection) -> bool:
        """Take this group's advisory lock for the transaction (PostgreSQL only)."""
        if conn.dialect.name != "postgresql":
            return True
        return bool(
            conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": self.lock_key}
            ).scalar()
        )
