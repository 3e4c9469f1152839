"""The write gate: this process's writers to one SQLite file take turns in a lock.

See :class:`WriteGate`; :func:`write_gate` gives the one gate of each file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

#: how often a read-model batch checkpoints the WAL (at most)
CHECKPOINT_EVERY_SECONDS = 1.0

InsertEvents = Callable[..., Sequence[int] | None]


class WriteGate:
    """This process's writers to one SQLite file take turns here, not in SQLite's busy wait.

    SQLite has one write lock per database. The event store (eventsourcing's
    connection) and the read models (SQLAlchemy's) are two sets of connections to
    the same file, so a POST's commit and the background projector's batch used
    to meet on that lock, and the loser waited in SQLite's busy handler, which
    sleeps and polls (1, 2, 5 ... 25, 50, 100 ms): B2 measured commits of 700 ms
    behind a projector batch, and projector batches of 660 ms behind commits.
    Taking this (re-entrant) lock first hands the turn over the moment the writer
    before finishes. It only orders writers inside one process: other processes
    (the CLI, a worker) still meet in SQLite's busy handler, as before. A writer
    that waits longer than SQLite would (``timeout``) goes on without its turn and
    leaves it to SQLite, so the gate can delay a write but never fail one.

    Event writes (a POST waits for them) go first: a read-model batch lets the
    event writers already waiting have their turns, for up to ``after_writers``
    seconds, before it takes its own; then it waits like anyone else.
    """

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._lock = threading.RLock()
        self._checkpointed_at = time.monotonic()
        #: event writes waiting for their turn or in it
        self._writers = 0
        self._writers_changed = threading.Condition(threading.Lock())

    def checkpoint_due(self) -> bool:
        """Whether the WAL was last checkpointed ``CHECKPOINT_EVERY_SECONDS`` ago (and
        it is now this caller's to do)."""
        now = time.monotonic()
        if now - self._checkpointed_at < CHECKPOINT_EVERY_SECONDS:
            return False
        self._checkpointed_at = now
        return True

    @contextmanager
    def turn(self, after_writers: float = 0.0) -> Iterator[None]:
        """Hold the database's write turn for the block; with ``after_writers``, first
        let waiting event writes go, for at most that many seconds."""
        if after_writers > 0:
            self._let_writers_go(after_writers)
        held = self._lock.acquire(timeout=self.timeout)
        try:
            yield
        finally:
            if held:
                self._lock.release()

    def _let_writers_go(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._writers_changed:
            while self._writers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._writers_changed.wait(remaining)

    def gated(self, insert: InsertEvents) -> InsertEvents:
        """``insert`` (a recorder's ``insert_events``) run in its turn, ahead of read models."""

        def insert_in_turn(
            stored_events: Sequence[StoredEvent], **kwargs: Any
        ) -> Sequence[int] | None:
            with self._writers_changed:
                self._writers += 1
            try:
                with self.turn():
                    return insert(stored_events, **kwargs)
            finally:
                with self._writers_changed:
                    self._writers -= 1
                    if not self._writers:
                        self._writers_changed.notify_all()

        return insert_in_turn


_gates: dict[str, WriteGate] = {}
_gates_lock = threading.Lock()


def write_gate(database: str | None) -> WriteGate | None:
    """The :class:`WriteGate` of one SQLite file (None for an in-memory database)."""
    if not database or database == ":memory:" or "mode=memory" in database:
        return None
    gate = _gates.get(database)
    if gate is None:
        key = str(Path(database).resolve())
        with _gates_lock:
            gate = _gates.get(key)
            if gate is None:
                gate = _gates[key] = WriteGate()
            _gates[database] = gate
    return gate
