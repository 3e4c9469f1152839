"""What the read models and their runner need from outside, as Protocols.

The composition root fills them: the application object (an eventsourcing
``Application``) is the event log and the aggregate source, and
``yswd.adapters.persistence.ReadModelStore`` is the database. So this layer
depends on neither the application layer nor the adapters, and a test can hand
in anything with the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine

from yswd.aggregates.organisation import Unit


class NotificationReader(Protocol):
    """The event store's notification log, read in order."""

    def max_notification_id(self) -> int | None:
        """The position of the newest stored event (None when there is none)."""

    def select_notifications(self, start: int | None, limit: int) -> Sequence[Notification]:
        """Up to ``limit`` stored events from position ``start`` on, in order."""


class StoredRecord(NamedTuple):
    """One stored event as a bulk scan reads it: the same fields as a ``Notification``."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


class BulkEventSource(Protocol):
    """The event log as a rebuild reads it: plain rows, and states as plain dicts.

    A rebuild reads every stored event once, so it skips the library's
    per-event objects: one plain SQL scan per batch, and each state decoded once
    into the dict it was stored from (personal fields opened, with the keys kept
    for the length of the rebuild; a field whose key is gone reads as erased).
    Dates and instants stay in their stored form (``{"_type_": ..., "_data_":
    "<ISO text>"}``), which is what a read model writes anyway.
    """

    def stored_events(self, start: int, limit: int) -> Sequence[StoredRecord]:
        """Up to ``limit`` stored events from position ``start`` on, in order."""

    def plain_states(self, records: Sequence[StoredRecord]) -> list[dict[str, Any]]:
        """The states of ``records`` as plain dicts, in order (decoded together, so the
        keys they need are read together; an erasure among them forgets the kept keys)."""

    def close(self) -> None:
        """Let go of the scan's connection and of every kept key."""


class RunningRebuild(Protocol):
    """Read models being rebuilt in another process."""

    def wait(self) -> int:
        """Wait for it to end; the events it applied. Raises when it failed."""


class RebuildHelper(Protocol):
    """Rebuilds some read models in another process, beside the runner's own.

    The composition root gives one when there is a second core and a store that
    a second process can open. The other process replays the named models (whose
    rows and positions the runner has already reset) through the ordinary
    catch-up, so its batches commit with their tracking positions as any runner's
    do, and if it fails, the runner catches those models up itself.
    """

    def start(self, names: Sequence[str]) -> RunningRebuild:
        """Start replaying the read models ``names`` elsewhere."""


class PreparedAhead(Protocol):
    """A rebuild's batches worked out in another process, one batch ahead of the runner.

    The other process reads the log as the runner does (the same positions, the
    same batch size, so the same batches) and works out what the named models
    will write (``prepare_batch``/``prepare_plain_batch``); the runner writes it in
    its own batch transaction, with the tracking positions, as if it had worked
    it out itself.
    """

    #: the models it prepares
    names: list[str]

    def begin(self, positions: dict[str, int]) -> None:
        """Start from these positions (the models' own, after the rebuild's reset)."""

    def next(self, last: int, seen: dict[str, int]) -> dict[str, Any] | None:
        """What each model prepares for the batch up to ``last`` that the runner is
        about to write, the models having seen ``seen``; None when the other process
        worked out another batch, failed or has ended (the runner prepares it)."""

    def close(self) -> None:
        """Stop the other process (whatever it is doing) and wait for it."""


class PrepareHelper(Protocol):
    """Starts the process that prepares a rebuild's batches ahead of the runner.

    The composition root gives one when there is a second core: the runner then
    reads, decodes and folds on one core while it writes on the other.
    """

    def start(self, names: Sequence[str], batch_size: int) -> PreparedAhead:
        """Start (not yet reading) a process preparing the models ``names``."""


class EventDecoder(Protocol):
    """Turns a stored event back into its domain event (decrypting what it may)."""

    def to_domain_event(self, stored_event: Notification) -> Any:
        """The domain event of ``stored_event``."""


class EventLog(Protocol):
    """Where the runner reads events from: the log and the mapper that decodes it."""

    @property
    def recorder(self) -> NotificationReader: ...

    @property
    def mapper(self) -> EventDecoder: ...


class AggregateLoader(Protocol):
    """Loads one aggregate by its id, as of a version (the latest by default)."""

    def get(self, aggregate_id: str, *, version: int | None = None) -> Any:
        """Raises ``eventsourcing.application.AggregateNotFoundError`` when there is none."""


class AggregateSource(Protocol):
    """What a read model folding aggregates needs: their events, and the units' paths."""

    @property
    def repository(self) -> AggregateLoader: ...

    @property
    def target_days(self) -> int:
        """Days to a first response when an item has no ``due_on``."""

    def unit(self, unit_id: str) -> Unit:
        """A unit by its id (units never change once created)."""


class ReadModelDatabase(Protocol):
    """The database the read models live in, as the runner needs it."""

    @property
    def engine(self) -> Engine:
        """For reads: positions, dead letters and cached answers."""

    def write_transaction(self) -> AbstractContextManager[Connection]:
        """One write transaction: all of it commits, or none of it."""

    def batch_transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction for derived data, which may commit without its own fsync.

        Read models can always be applied again from the log, so a commit lost to
        a power cut loses its tracking position with it and costs only a re-read.
        """

    def is_outage(self, error: BaseException) -> bool:
        """True when the database itself failed (unreachable, locked), not a read model.

        An outage is retried later as a whole batch; any other error is the read
        model's, and its event may end up as a dead letter.
        """
