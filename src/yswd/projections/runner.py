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

Where the positions and dead letters are kept is ``projections/tracking``; what
the runner needs of the event log and of the database is ``projections/ports``,
which the composition root fills.

The eventsourcing library's own ``ProjectionRunner`` needs a recorder that
can ``subscribe()``, which its SQLite recorder cannot, and it commits once per
event; this runner polls and batches instead, for either store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from eventsourcing.persistence import Notification
from sqlalchemy import Connection

from yswd.projections import tracking
from yswd.projections.ahead import AheadProcesses, prepared_ahead
from yswd.projections.answers import AnswerCache
from yswd.projections.batches import (
    ModelFailed,
    ReadModel,
    feed,
    fewer_collections,
    followed,
    prepare,
    write,
)
from yswd.projections.feeds import Feeds, as_notification
from yswd.projections.ports import (
    BulkEventSource,
    EventLog,
    PrepareHelper,
    ReadModelDatabase,
    RebuildHelper,
    RunningRebuild,
)
from yswd.projections.tracking import ConcurrentRunner, StalePositions

log = logging.getLogger(__name__)

#: how often one catch-up starts again after finding another runner got there first
STALE_ROUNDS = 3
#: the background loop's events per transaction on SQLite, and its pause between
#: two (lets waiting writers in)
SQLITE_SLICE = 100
SLICE_PAUSE_SECONDS = 0.002
#: a rebuild of fewer events than this prepares its batches itself: the preparing
#: process's start-up (an interpreter and a container, about a second) would cost more
AHEAD_FROM_EVENTS = 20_000


class ProjectionRunner:
    """Keeps a set of read models up to date with the event store."""

    def __init__(
        self,
        app: EventLog,
        database: ReadModelDatabase,
        read_models: Sequence[ReadModel],
        batch_size: int = 500,
        rebuild_batch_size: int = 5000,
        background_batch_size: int | None = None,
        retries: int = 2,
        answers_version_sql: str | None = None,
        answers_unit_version_sql: str | None = None,
        bulk: BulkEventSource | None = None,
        helper: RebuildHelper | None = None,
        preparer: PrepareHelper | None = None,
    ) -> None:
        #: the event log (the application object, in practice)
        self.app = app
        self.database = database
        self.engine = database.engine
        self.read_models = list(read_models)
        self.batch_size = batch_size
        self.rebuild_batch_size = rebuild_batch_size
        #: the background loop's slices: on SQLite a batch holds the database's one
        #: write lock, and a 500-event batch kept POSTs waiting (B2's p99, the soak);
        #: PostgreSQL's writers do not wait for it, so there a slice is a whole batch
        if background_batch_size is None:
            sqlite = self.engine.dialect.name == "sqlite"
            background_batch_size = SQLITE_SLICE if sqlite else batch_size
        self.background_batch_size = background_batch_size
        #: how many times a failing batch is tried again before it is split up
        self.retries = retries
        #: what a rebuild reads the log through, when given: plain rows and plain
        #: states (models with ``apply_plain_batch`` fold those; see ``rebuild``)
        self.bulk = bulk
        #: where a rebuild replays its ``rebuilds_apart`` models, when given
        self.helper = helper
        #: what works out a rebuild's batches in another process, when given
        self.preparer = preparer
        #: those processes, one a model, during a rebuild
        self._ahead = AheadProcesses()
        #: the fewest events to replay for which a rebuild starts that process
        self.ahead_from_events = AHEAD_FROM_EVENTS
        #: what each model is given of a batch
        self._feeds = Feeds(app.mapper, bulk)
        self._lock = threading.Lock()
        self._caught_up = threading.Condition()
        self._positions: dict[str, int] = {}
        self.lock_key = tracking.advisory_key([model.name for model in self.read_models])
        #: batches this runner skipped because another runner held the group or
        #: moved a position first (for tests and metrics)
        self.backoffs = 0
        #: public answers, valid until ``answers_version_sql`` (default: every
        #: tracking position) answers something else
        self.answers = AnswerCache(
            self.engine,
            version_sql=answers_version_sql,
            unit_version_sql=answers_unit_version_sql,
        )

    # -- set-up ---------------------------------------------------------------

    def create_tables(self) -> None:
        with self.database.write_transaction() as conn:
            tracking.create_tables(conn, self.read_models)
        self._positions = self.positions()

    def positions(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return tracking.read_positions(conn, [model.name for model in self.read_models])

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
        with self.engine.connect() as conn:
            return tracking.dead_letters(conn, limit)

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
        """Poll every ``interval`` seconds, applying what is new in small slices.

        Between two slices the runner pauses a moment, so that a writer waiting
        for the write lock gets it before the next slice does.
        """
        while not stop.is_set():
            try:
                self._catch_up(self.background_batch_size, None, pause=SLICE_PAUSE_SECONDS)
            except Exception:
                log.exception("projection runner failed; retrying")
                stop.wait(1.0)
            stop.wait(interval)

    def rebuild(
        self, names: Sequence[str] | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Drop the named read models' rows (all by default) and replay every event.

        Their dead letters are cleared first, so the events they skipped are tried again.

        With a ``bulk`` source the replay reads the log with one plain query per
        batch and decodes each state once into a plain dict; a model with
        ``prepare_plain_batch`` folds those (``staff_items``) and the audit chain
        hashes the rows as stored, both before the batch's write transaction, and
        the rest get domain events as always.
        With a ``preparer`` too (and ``ahead_from_events`` to replay), the models
        that may be prepared ahead (``prepares_ahead``: staff items) are read,
        decoded and folded, each in a process of its own, a batch ahead, and their
        rows are written here in the runner's own batch transactions: the other
        core folds while this one writes. With a ``helper``, the models
        that may be rebuilt apart (the audit chain, on PostgreSQL) are replayed in
        another process at the same time, and the rest here. Batches, transactions
        and tracking positions are the same as a catch-up's, so a rebuild that
        crashes resumes from its last committed batch (through the ordinary
        catch-up, which continues from the rows written so far); so does one whose
        other process fails: the runner prepares what a preparing process did not,
        and its last step catches every model up, whoever got it where it is.
        """
        chosen = [m for m in self.read_models if names is None or m.name in names]
        batch = max(self.batch_size, self.rebuild_batch_size)
        bulk = self.bulk is not None
        apart = self._apart(chosen)
        # started before the reset: its start-up (a second interpreter) costs nothing then
        ahead = self._start_ahead([m for m in chosen if m not in apart], batch)
        try:
            with self._lock:
                self._reset(chosen)
            ahead.begin(self._positions)
            self._ahead = ahead
            with fewer_collections():
                if not apart:
                    return self._catch_up(batch, progress, bulk=bulk)
                running = self._start_apart(apart)
                here = self.part([m.name for m in self.read_models if m not in apart])
                here._ahead = ahead  # the same: a process stopped there is gone here
                try:
                    applied = here._catch_up(batch, progress, bulk=bulk)
                finally:
                    self._wait_apart(running)
                with self._lock:
                    self._positions = self.positions()
                # what the other process left (all of it, if it failed), and anything new
                return applied + self._catch_up(batch, progress, bulk=bulk)
        finally:
            ahead.stop()
            self._ahead = AheadProcesses()
            if self.bulk is not None:
                self.bulk.close()
            # built once over the whole table, not row by row during the replay; a
            # crash before this line leaves them to ``create_tables`` on the next start
            with self._lock, self.database.write_transaction() as conn:
                for model in chosen:
                    for index in getattr(model, "bulk_indexes", ()):
                        index.create(conn, checkfirst=True)

    def _reset(self, chosen: Sequence[ReadModel]) -> None:
        """Empty the chosen models for a rebuild, and start their positions again.

        On PostgreSQL a model's ``bulk_tables`` are emptied with ``TRUNCATE``
        (their files freed at commit) rather than a ``DELETE`` that leaves every
        row dead for the vacuum. On SQLite the model's own ``reset`` deletes, with
        ``secure_delete`` on, so an erased contributor's words are zeroed, not
        left in free pages.
        """
        with self.database.write_transaction() as conn:
            for model in chosen:
                tables = [t.name for t in getattr(model, "bulk_tables", ())]
                if tables and conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)}")
                model.reset(conn)
                tracking.start_again(conn, model.name)
                for index in getattr(model, "bulk_indexes", ()):
                    index.drop(conn, checkfirst=True)
        self._positions = self.positions()

    def part(self, names: Sequence[str]) -> ProjectionRunner:
        """A runner over the named read models only (the same objects), for a rebuild's parts."""
        return ProjectionRunner(
            self.app,
            self.database,
            [m for m in self.read_models if m.name in names],
            batch_size=self.batch_size,
            rebuild_batch_size=self.rebuild_batch_size,
            background_batch_size=self.background_batch_size,
            retries=self.retries,
            bulk=self.bulk,
        )

    def replay(self, progress: Callable[[int], None] | None = None) -> int:
        """Catch up as a rebuild does (bulk reads, large batches), without resetting anything.

        What a rebuild's other process runs, over the models it was given.
        """
        try:
            with fewer_collections():
                batch = max(self.batch_size, self.rebuild_batch_size)
                return self._catch_up(batch, progress, bulk=self.bulk is not None)
        finally:
            if self.bulk is not None:
                self.bulk.close()

    def prepared_ahead(
        self, positions: dict[str, int], batch_size: int
    ) -> Iterator[tuple[int, dict[str, int], dict[str, Any]]]:
        """What a rebuild's preparing process works out for this runner's models, from
        ``positions`` on (``ahead.prepared_ahead``; ``PreparedAhead`` hands it over)."""
        return prepared_ahead(self.database, self._feeds, self.read_models, positions, batch_size)

    def _apart(self, chosen: Sequence[ReadModel]) -> list[ReadModel]:
        """The chosen models to rebuild in another process: only if some stay here too."""
        if self.helper is None or self.bulk is None:
            return []
        apart = [m for m in chosen if getattr(m, "rebuilds_apart", False)]
        return apart if len(apart) < len(chosen) else []

    def _start_apart(self, models: Sequence[ReadModel]) -> RunningRebuild | None:
        assert self.helper is not None
        try:
            return self.helper.start([m.name for m in models])
        except Exception:
            log.exception("could not start the rebuild's other process; rebuilding here")
            return None

    def _start_ahead(self, chosen: Sequence[ReadModel], batch: int) -> AheadProcesses:
        """The processes preparing the chosen models ahead, if there can be any."""
        if self.preparer is None or self.bulk is None:
            return AheadProcesses()
        if self.head() < self.ahead_from_events:  # the whole log is replayed
            return AheadProcesses()
        return AheadProcesses.start(self.preparer, chosen, batch)

    @staticmethod
    def _wait_apart(running: RunningRebuild | None) -> None:
        if running is None:
            return
        try:
            running.wait()
        except Exception:
            log.exception("the rebuild's other process failed; catching its models up here")

    # -- internals ------------------------------------------------------------

    def _catch_up(
        self,
        batch_size: int,
        progress: Callable[[int], None] | None,
        pause: float = 0.0,
        bulk: bool = False,
    ) -> int:
        applied = 0
        with self._lock:
            if not self._positions:
                self._positions = self.positions()
            stale_rounds = 0
            while True:
                try:
                    count, complete = self._apply_next_batch(batch_size, bulk)
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
                if pause:
                    time.sleep(pause)
        if applied:
            with self._caught_up:
                self._caught_up.notify_all()
        return applied

    def _apply_next_batch(self, batch_size: int, bulk: bool = False) -> tuple[int, bool]:
        """Apply the next batch; returns (events applied, whether the batch was full)."""
        positions = dict(self._positions)
        start = min(positions.values(), default=0)
        notifications: Sequence[Any]  # Notification, or StoredRecord (same fields)
        bulk = bulk and self.bulk is not None
        if bulk and self.bulk is not None:
            notifications = self.bulk.stored_events(start + 1, batch_size)
        else:
            notifications = self.app.recorder.select_notifications(
                start=start + 1, limit=batch_size
            )
        if not notifications:
            return 0, False
        last = notifications[-1].id
        pending = [m for m in self.read_models if positions[m.name] < last]
        seen = {model.name: positions[model.name] for model in pending}
        # a rebuild's models prepared in another process are neither decoded nor folded here
        ahead = self._ahead.take(last, seen) if bulk else {}
        here = [m for m in pending if m.name not in ahead]
        if bulk:
            feed_of = self._feeds.bulk_feeds(here, positions, notifications)
        else:
            feed_of = self._feeds.stored(pending, positions, notifications)
        attempt = 0
        while True:
            try:
                # a rebuild works out what it can before taking the write lock; the
                # live loop does not: work it did outside the write gate competed with
                # the POSTs it should wait for (B2's 8-client p99: 20 -> 60 ms)
                prepared = prepare(self.database, here, seen, feed_of) if bulk else {}
                prepared.update((name, rows) for name, rows in ahead.items() if rows is not None)
                with self.database.batch_transaction() as conn:
                    tracking.lock_group(conn, self.lock_key)
                    tracking.require_positions(conn, seen)
                    for model in pending:
                        if model.name in prepared:
                            write(self.database, model, conn, prepared[model.name])
                        elif model.name not in ahead:
                            feed(self.database, model, conn, feed_of[model.name], bulk)
                    followed(self.database, pending, conn, seen, last)
                    tracking.move_positions(conn, seen, last)
                break
            except StalePositions:
                self._back_off("positions moved by another runner")
                raise
            except ConcurrentRunner as reason:
                # The transaction rolled back: nothing of this batch was applied.
                return self._back_off(reason), False
            except ModelFailed as failure:
                self._forget_caches()  # what was prepared for the batch is not stored
                if ahead:  # from here on everything is prepared here, this batch too
                    self._ahead.stop()
                    ahead, here = {}, pending
                    feed_of = self._feeds.bulk_feeds(pending, positions, notifications)
                attempt += 1
                log.warning(
                    "read model %s failed on a batch up to position %s (attempt %s): %s",
                    failure.model.name,
                    last,
                    attempt,
                    type(failure.error).__name__,
                )
                if attempt > self.retries:
                    self._apply_one_by_one(pending, positions, notifications, feed_of, bulk)
                    return len(notifications), len(notifications) >= batch_size
        self._positions = {name: max(pos, last) for name, pos in positions.items()}
        return len(notifications), len(notifications) >= batch_size

    def _apply_one_by_one(
        self,
        models: Sequence[ReadModel],
        positions: dict[str, int],
        notifications: Sequence[Any],
        feeds: dict[str, list[tuple[int, Any]]],
        plain: bool = False,
    ) -> None:
        """Split a failing batch: one transaction per event, dead-lettering what still fails."""
        by_position = {name: dict(feed) for name, feed in feeds.items()}  # per model
        positions = dict(positions)
        for notification in notifications:
            position = notification.id
            pending = [m for m in models if positions[m.name] < position]
            seen = {model.name: positions[model.name] for model in pending}
            failed: dict[str, ModelFailed] = {}
            while True:
                try:
                    with self.database.batch_transaction() as conn:
                        tracking.lock_group(conn, self.lock_key)
                        tracking.require_positions(conn, seen)
                        for model in pending:
                            if model.name in failed:
                                self._record_dead_letter(
                                    conn,
                                    model,
                                    as_notification(notification),
                                    failed[model.name].error,
                                )
                                continue
                            event = by_position[model.name].get(position)
                            if event is not None:
                                feed(self.database, model, conn, [(position, event)], plain)
                        followed(self.database, pending, conn, seen, position)
                        tracking.move_positions(conn, seen, position)
                    break
                except ConcurrentRunner as reason:
                    self._back_off(reason)
                    return
                except ModelFailed as failure:
                    failed[failure.model.name] = failure
            for model in pending:
                positions[model.name] = position
            self._positions = dict(positions)

    @staticmethod
    def _record_dead_letter(
        conn: Connection, model: ReadModel, notification: Notification, error: Exception
    ) -> None:
        log.error(
            "read model %s skipped the event at position %s (%s): %s",
            model.name,
            notification.id,
            notification.topic,
            type(error).__name__,
        )
        tracking.record_dead_letter(conn, model.name, notification, error)

    def _back_off(self, reason: Exception | str) -> int:
        """Another runner applied events: re-read where things stand.

        Events this process did not fold may have changed what a model keeps in
        memory (an erasure, say), so every model's cache is dropped too.
        """
        self.backoffs += 1
        log.debug("projection batch skipped: %s", reason)
        self._forget()
        return 0

    def _forget(self) -> None:
        """Read the positions again, and drop what every model keeps in memory."""
        self._positions = self.positions()
        self._forget_caches()

    def _forget_caches(self) -> None:
        for model in self.read_models:
            forget_cache = getattr(model, "forget_cache", None)
            if forget_cache is not None:
                forget_cache()
