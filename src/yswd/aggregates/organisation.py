"""Units (a tree: region > provider > hospital or team > ward) and forums."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate


class ForumKind(StrEnum):
    COMMUNITY_MEETING = "community_meeting"
    DEVELOPMENT_BOARD = "development_board"
    PARTNERSHIP_BOARD = "partnership_board"
    SERVICE_USER_COUNCIL = "service_user_council"
    RECOVERY_OUTCOMES_GROUP = "recovery_outcomes_group"
    OTHER = "other"


def unit_aggregate_id(unit_id: str) -> str:
    return f"unit:{unit_id}"


def forum_aggregate_id(forum_id: str) -> str:
    return f"forum:{forum_id}"


class Unit(Aggregate):
    """A part of the organisation. Its ``path`` lists its ancestors, root first."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        name: str
        parent_id: str | None
        path: tuple[str, ...]

    class Created(Aggregate.Created):
        unit_id: str
        name: str
        parent_id: str | None
        path: list[str]

        def apply(self, aggregate: Unit) -> None:
            aggregate.name = self.name
            aggregate.parent_id = self.parent_id
            aggregate.path = tuple(self.path)

    @property
    def unit_id(self) -> str:
        return self.id.removeprefix("unit:")

    @classmethod
    def create(
        cls, unit_id: str, name: str, parent: Unit | None, actor: str, now: datetime
    ) -> Unit:
        path = [*parent.path, unit_id] if parent is not None else [unit_id]
        return cls._create(
            cls.Created,
            id=unit_aggregate_id(unit_id),
            unit_id=unit_id,
            name=name,
            parent_id=parent.unit_id if parent is not None else None,
            path=path,
            actor=actor,
            timestamp=now,
        )


class Forum(Aggregate):
    """A meeting or board where issues are raised, belonging to one unit."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        name: str
        unit_id: str
        kind: ForumKind
        contact_email: str | None

    class Created(Aggregate.Created):
        forum_id: str
        name: str
        unit_id: str
        kind: str

        def apply(self, aggregate: Forum) -> None:
            aggregate.name = self.name
            aggregate.unit_id = self.unit_id
            aggregate.kind = ForumKind(self.kind)
            aggregate.contact_email = None

    class ContactSet(Aggregate.Event):
        """Who is told by email when the forum's items move (``None``: nobody)."""

        contact_email: str | None

        def apply(self, aggregate: Forum) -> None:
            aggregate.contact_email = self.contact_email

    class DigestRequested(Aggregate.Event):
        """Someone asked for the feedback pack since ``since`` to be emailed to the
        contact; the mail relay sends it from the log, once."""

        since: date

        def apply(self, aggregate: Forum) -> None:
            pass

    @property
    def forum_id(self) -> str:
        return self.id.removeprefix("forum:")

    @classmethod
    def create(
        cls, forum_id: str, name: str, unit_id: str, kind: ForumKind, actor: str, now: datetime
    ) -> Forum:
        return cls._create(
            cls.Created,
            id=forum_aggregate_id(forum_id),
            forum_id=forum_id,
            name=name,
            unit_id=unit_id,
            kind=kind.value,
            actor=actor,
            timestamp=now,
        )

    def set_contact(self, contact_email: str | None, actor: str, now: datetime) -> None:
        """Record a new contact (``None`` removes it); the same one records nothing."""
        if contact_email != getattr(self, "contact_email", None):
            self._record(self.ContactSet, actor, now, contact_email=contact_email)

    def request_digest(self, since: date, actor: str, now: datetime) -> None:
        self._record(self.DigestRequested, actor, now, since=since)
