"""Base event classes for aggregates whose ids are strings.

Every event records the acting user's id (``actor``) and the instant it was
recorded (``timestamp``, passed in by the caller).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import (
    BaseAggregate,
    CanInitAggregate,
    CanMutateAggregate,
    MetaDomainEvent,
)


class DomainEvent(CanMutateAggregate[str], metaclass=MetaDomainEvent):
    """A fact about one aggregate, recorded by ``actor`` at ``timestamp``."""

    originator_id: str
    originator_version: int
    timestamp: datetime
    actor: str


class CreatedEvent(DomainEvent, CanInitAggregate[str]):
    """The first event of an aggregate."""

    originator_topic: str


class Aggregate(BaseAggregate[str]):
    """An aggregate with a string id chosen by the application layer."""

    class Event(DomainEvent):
        """Base of every event of a yswd aggregate."""

    class Created(Event, CreatedEvent):
        """Base of every aggregate's first event."""

    def __init__(self, **_: Any) -> None:
        """State is assigned by the created event's ``apply``."""

    def _record(
        self, event_class: type[DomainEvent], actor: str, now: datetime, **fields: Any
    ) -> None:
        """Trigger ``event_class`` with the caller's clock and identity."""
        self.trigger_event(event_class, actor=actor, timestamp=now, **fields)
