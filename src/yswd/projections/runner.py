"""Feeds stored events to read models, in order, each event applied exactly once.

Events are read from the notification log in batches. A batch is applied to
every read model that has not seen it yet inside ONE database transaction,
and each model's tracking position is moved last, with a compare-and-set on
the old position. So either a whole batch lands with its position, or none of
it does; a crash just means the batch is read again. A second runner that
races this one fails its compare-and-set and rolls back instead of applying
anything twice.

The eventsourcing library's own ``ProjectionRunner`` needs a recorder that
can ``subscribe()``, which its SQLite recorder cannot, and it commits once per
event; this runner polls and batches instead, for either store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Notification
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, select, update

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

    # -- set-up ---------------------------------------------------------------

    def create_tables(self) -> None:
        tracking_metadata.create_all(self.engine)
        for model in self.read_models:
            model.metadata.create_all(self.engine)
        with write_transaction(self.engine) as conn:
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
        with write_transaction(self.engine) as conn:
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
                    raise ConcurrentRunner(f"read model {model.name} was moved by another runner")
        self._positions = {name: max(pos, last) for name, pos in positions.items()}
        return len(notifications)
