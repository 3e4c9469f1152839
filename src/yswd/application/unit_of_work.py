"""The one unit of work: how every use case loads aggregates and saves their changes.

- ``save``: the given aggregates' new events in one transaction; answers the log
  position of the last one (what ``?min_position=`` waits for).
- ``save_with_retries``: load, check, change and save, and when another writer
  got there first run it all again on fresh state (a short random pause first,
  so that racing writers spread out); with If-Match (``fenced``) refuse instead.
- ``save_new`` and ``replay``: a new resource and its Idempotency-Key record in
  one transaction; the same request sent again gets the first answer.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import OriginatorVersionError
from eventsourcing.persistence import IntegrityError, Recording

from yswd.aggregates.access import Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import (
    AlreadyExists,
    DamagedHistory,
    InvalidInput,
    NotFound,
    VersionConflict,
)
from yswd.aggregates.idempotency import IdempotentRequest
from yswd.application.ports import Clock, IdFactory

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

#: how often a command without If-Match is retried when another writer got there first
#: (each round at least one writer wins, so this bounds the writers that may pile up)
MAX_RETRIES = 64
#: no aggregate id is longer; longer ones are unknown without asking the store
MAX_ID_LENGTH = 300


def utc_now() -> datetime:
    """The clock of a running service."""
    return datetime.now(UTC)


def new_id() -> str:
    """A random, URL-safe id with 64 bits of entropy."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class Written(Generic[T]):
    """What a command produced, and where in the event log it was written.

    ``position`` lets a client wait for read models to catch up (read your
    writes); ``replayed`` is true when an Idempotency-Key returned an earlier answer.
    """

    value: T
    position: int | None
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's Idempotency-Key and a fingerprint of the request it came with."""

    key: str
    fingerprint: str

    def record_id(self, actor: Principal) -> str:
        return hashlib.sha256(f"{actor.user_id}\0{self.key}".encode()).hexdigest()


def log_position(recordings: Sequence[Recording[Any]]) -> int | None:
    """The log position of the last event a save recorded (None when it recorded none)."""
    return recordings[-1].notification.id if recordings else None


def require_version(aggregate: Aggregate, expected: int | None, what: str) -> None:
    """If-Match: refuse when the aggregate has moved on from the version the caller saw."""
    if expected is not None and aggregate.version != expected:
        raise VersionConflict(f"{what} is at version {aggregate.version}, not {expected}.")


class UnitOfWork:
    """Loads and saves aggregates for every use case, on one event store.

    It also holds the clock and the id factory the commands use, so that the
    time and the ids of a command come from one place (tests fix both).
    """

    def __init__(self, store: Application[str], *, clock: Clock, ids: IdFactory) -> None:
        self.store = store
        self.clock = clock
        self.ids = ids

    # -- loading ----------------------------------------------------------------------

    def get(self, aggregate_id: str, missing: str, version: int | None = None) -> Any:
        """An aggregate (as of ``version``); ``NotFound`` with ``missing`` when there is none."""
        if len(aggregate_id) > MAX_ID_LENGTH or "\x00" in aggregate_id:
            raise NotFound(missing[:200])  # no such id is ever made; PostgreSQL refuses NUL
        try:
            return self.store.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(missing) from None
        except OriginatorVersionError:
            # a stored event is missing from the middle of the stream (deleted behind
            # the service's back): the aggregate cannot be rebuilt, nor written to
            raise DamagedHistory(
                "Its stored history is damaged (an event is missing), so it cannot be "
                "read or changed. An auditor can see what is left in its history and "
                "in the audit check."
            ) from None

    def exists(self, aggregate_id: str) -> bool:
        return bool(self.store.recorder.select_events(aggregate_id, limit=1))

    # -- saving -----------------------------------------------------------------------

    def save(self, *aggregates: Aggregate) -> int | None:
        """Save the aggregates' new events in one transaction; the last one's position.

        Raises ``IntegrityError`` when another writer saved one of them first.
        """
        return log_position(self.store.save(*aggregates))

    def save_with_retries(
        self,
        what: str,
        attempt: Callable[[], Sequence[Aggregate]],
        *,
        fenced: bool = False,
        busy: str | None = None,
    ) -> int | None:
        """Run ``attempt`` (load, check, change) and save what it returns, atomically.

        When another writer got there first, the whole attempt runs again on fresh
        state, so every rule is re-checked. ``fenced`` (the caller sent If-Match)
        refuses instead of retrying. An attempt that returns nothing saves nothing
        (None). ``busy`` is the refusal when every round lost. Returns the log
        position of the last event.
        """
        for round_ in range(MAX_RETRIES):
            if round_:
                time.sleep(random.uniform(0, min(0.002 * round_, 0.05)))  # spread retries out
            aggregates = attempt()
            if not aggregates:
                return None
            try:
                return self.save(*aggregates)
            except IntegrityError:
                if fenced:
                    raise VersionConflict(
                        f"{what} changed while this request was handled."
                    ) from None
        raise VersionConflict(busy or f"{what} is changing too often; try again.")

    # -- idempotency --------------------------------------------------------------------

    def replay(self, actor: Principal, idempotency: IdempotencyKey | None) -> Written[Any] | None:
        """The first answer to a request repeated with the same Idempotency-Key, if any."""
        if idempotency is None:
            return None
        try:
            record: IdempotentRequest = self.store.repository.get(
                f"idem:{idempotency.record_id(actor)}"
            )
        except AggregateNotFoundError:
            return None
        if record.fingerprint != idempotency.fingerprint:
            raise InvalidInput("This Idempotency-Key was already used with a different request.")
        resource: Aggregate = self.store.repository.get(
            record.resource_id, version=record.resource_version
        )
        return Written(resource, None, replayed=True)

    def save_new(
        self,
        actor: Principal,
        aggregate: A,
        kind: str,
        idempotency: IdempotencyKey | None,
        also: tuple[Aggregate, ...] = (),
    ) -> Written[A]:
        """Save a new aggregate, with its idempotency record, in one transaction.

        When its id is taken, a racing request with the same Idempotency-Key gets
        that request's answer; anyone else ``AlreadyExists``.
        """
        extra: list[Aggregate] = list(also)
        if idempotency is not None:
            extra.append(
                IdempotentRequest.record(
                    idempotency.record_id(actor),
                    idempotency.fingerprint,
                    kind,
                    aggregate.id,
                    aggregate.version,
                    actor.user_id,
                    self.clock(),
                )
            )
        try:
            position = self.save(aggregate, *extra)
        except IntegrityError:
            replay = self.replay(actor, idempotency)
            if replay is not None:
                return replay
            raise AlreadyExists(
                f"The {kind} id '{aggregate.id.split(':', 1)[1]}' is taken."
            ) from None
        return Written(aggregate, position)
