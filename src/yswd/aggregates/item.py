"""The feedback item: what someone said, and everything that happened to it.

An item walks raised -> referred -> responded -> done (or couldnt_do). Each
step is one event. The transition table below is the whole rule book: a
command not allowed from the current status raises ``TransitionNotAllowed``
and records nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import TransitionNotAllowed


class Status(StrEnum):
    RAISED = "raised"
    REFERRED = "referred"
    RESPONDED = "responded"
    DONE = "done"
    COULDNT_DO = "couldnt_do"


class Channel(StrEnum):
    COMMUNITY_MEETING = "community_meeting"
    DIARY_ROOM = "diary_room"
    GAP_BOX = "gap_box"
    CITIZENS_VIEW = "citizens_view"
    FORUM = "forum"
    STANDING_CONFERENCE = "standing_conference"
    COMPLAINT = "complaint"
    OTHER = "other"


OPEN = frozenset({Status.RAISED, Status.REFERRED, Status.RESPONDED})
CLOSED = frozenset({Status.DONE, Status.COULDNT_DO})

#: command -> (statuses it is allowed from, status it leads to; None keeps the status)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status | None]] = {
    "refer": (OPEN, Status.REFERRED),
    "respond": (OPEN, Status.RESPONDED),
    "complete": (OPEN, Status.DONE),
    "decline": (OPEN, Status.COULDNT_DO),
    "progress": (OPEN, None),
    "verify": (frozenset({Status.DONE}), None),
    "reopen": (CLOSED, Status.RAISED),
}

DEFAULT_TARGET_DAYS = 28


def item_aggregate_id(item_id: str) -> str:
    return f"item:{item_id}"


class Item(Aggregate):
    """One piece of feedback. Its attributes are its current state."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        forum_id: str
        unit_id: str
        channel: Channel
        raised_on: date
        title: str
        you_said: str
        original_you_said: str
        detail: str | None
        contributor: str | None
        themes: tuple[str, ...]
        status: Status
        published: bool
        referred_to: str | None
        due_on: date | None
        responses: list[dict[str, Any]]
        progress: list[dict[str, Any]]
        referrals: list[dict[str, Any]]
        we_did: str | None
        because: str | None
        instead: str | None
        verified: bool
        first_response_at: datetime | None
        closed_at: datetime | None

    # -- events -----------------------------------------------------------

    class Raised(Aggregate.Created):
        forum_id: str
        unit_id: str
        channel: str
        raised_on: date
        title: str
        you_said: str
        detail: str | None
        contributor: str | None
        themes: list[str]

        def apply(self, aggregate: Item) -> None:
            aggregate.forum_id = self.forum_id
            aggregate.unit_id = self.unit_id
            aggregate.channel = Channel(self.channel)
            aggregate.raised_on = self.raised_on
            aggregate.title = self.title
            aggregate.you_said = self.you_said
            aggregate.original_you_said = self.you_said
            aggregate.detail = self.detail
            aggregate.contributor = self.contributor
            aggregate.themes = tuple(self.themes)
            aggregate.status = Status.RAISED
            aggregate.published = False
            aggregate.referred_to = None
            aggregate.due_on = None
            aggregate.responses = []
            aggregate.progress = []
            aggregate.referrals = []
            aggregate.we_did = None
            aggregate.because = None
            aggregate.instead = None
            aggregate.verified = False
            aggregate.first_response_at = None
            aggregate.closed_at = None

    class Published(Aggregate.Event):
        you_said: str

        def apply(self, aggregate: Item) -> None:
            aggregate.you_said = self.you_said
            aggregate.published = True

    class Referred(Aggregate.Event):
        to_unit_id: str
        due_on: date | None
        note: str | None

        def apply(self, aggregate: Item) -> None:
            aggregate.status = Status.REFERRED
            aggregate.referred_to = self.to_unit_id
            aggregate.due_on = self.due_on
            aggregate.referrals.append(
                {
                    "to_unit_id": self.to_unit_id,
                    "due_on": self.due_on,
                    "note": self.note,
                    "recorded_at": self.timestamp,
                }
            )

    class ResponsePosted(Aggregate.Event):
        response: str

        def apply(self, aggregate: Item) -> None:
            aggregate.status = Status.RESPONDED
            aggregate.responses.append({"response": self.response, "recorded_at": self.timestamp})
            aggregate._mark_first_response(self.timestamp)

    class ProgressNoted(Aggregate.Event):
        note: str

        def apply(self, aggregate: Item) -> None:
            aggregate.progress.append({"note": self.note, "recorded_at": self.timestamp})

    class Completed(Aggregate.Event):
        we_did: str

        def apply(self, aggregate: Item) -> None:
            aggregate.status = Status.DONE
            aggregate.we_did = self.we_did
            aggregate.because = None
            aggregate.instead = None
            aggregate._mark_first_response(self.timestamp)
            aggregate.closed_at = self.timestamp

    class Declined(Aggregate.Event):
        because: str
        instead: str | None

        def apply(self, aggregate: Item) -> None:
            aggregate.status = Status.COULDNT_DO
            aggregate.because = self.because
            aggregate.instead = self.instead
            aggregate.we_did = None
            aggregate._mark_first_response(self.timestamp)
            aggregate.closed_at = self.timestamp

    class ChangeVerified(Aggregate.Event):
        """Someone checked that the change really happened."""

        note: str | None

        def apply(self, aggregate: Item) -> None:
            aggregate.verified = True

    class ChangeNotConfirmed(Aggregate.Event):
        """Someone checked, and the change had not happened: the item reopens."""

        note: str | None

        def apply(self, aggregate: Item) -> None:
            aggregate._reopen()

    class Reopened(Aggregate.Event):
        reason: str

        def apply(self, aggregate: Item) -> None:
            aggregate._reopen()

    # -- commands -----------------------------------------------------------

    @classmethod
    def raise_item(
        cls,
        item_id: str,
        *,
        forum_id: str,
        unit_id: str,
        channel: Channel,
        raised_on: date,
        title: str,
        you_said: str,
        detail: str | None,
        contributor: str | None,
        themes: Iterable[str],
        actor: str,
        now: datetime,
    ) -> Item:
        return cls._create(
            cls.Raised,
            id=item_aggregate_id(item_id),
            forum_id=forum_id,
            unit_id=unit_id,
            channel=channel.value,
            raised_on=raised_on,
            title=title,
            you_said=you_said,
            detail=detail,
            contributor=contributor,
            themes=list(themes),
            actor=actor,
            timestamp=now,
        )

    def publish(self, you_said: str | None, actor: str, now: datetime) -> None:
        """Approve the item for public boards, optionally with edited wording."""
        self._record(self.Published, actor, now, you_said=you_said or self.you_said)

    def refer(
        self, to_unit_id: str, due_on: date | None, note: str | None, actor: str, now: datetime
    ) -> None:
        self._check("refer")
        self._record(self.Referred, actor, now, to_unit_id=to_unit_id, due_on=due_on, note=note)

    def respond(self, response: str, actor: str, now: datetime) -> None:
        self._check("respond")
        self._record(self.ResponsePosted, actor, now, response=response)

    def note_progress(self, note: str, actor: str, now: datetime) -> None:
        self._check("progress")
        self._record(self.ProgressNoted, actor, now, note=note)

    def complete(self, we_did: str, actor: str, now: datetime) -> None:
        self._check("complete")
        self._record(self.Completed, actor, now, we_did=we_did)

    def decline(self, because: str, instead: str | None, actor: str, now: datetime) -> None:
        self._check("decline")
        self._record(self.Declined, actor, now, because=because, instead=instead)

    def verify(self, confirmed: bool, note: str | None, actor: str, now: datetime) -> None:
        self._check("verify")
        event = self.ChangeVerified if confirmed else self.ChangeNotConfirmed
        self._record(event, actor, now, note=note)

    def reopen(self, reason: str, actor: str, now: datetime) -> None:
        self._check("reopen")
        self._record(self.Reopened, actor, now, reason=reason)

    # -- queries ------------------------------------------------------------

    @property
    def item_id(self) -> str:
        return self.id.removeprefix("item:")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def target_on(self, target_days: int = DEFAULT_TARGET_DAYS) -> date:
        """The date a first response is due: ``due_on`` if given, else raised + N days."""
        return self.due_on or self.raised_on + timedelta(days=target_days)

    @staticmethod
    def allows(command: str, status: Status) -> bool:
        return status in TRANSITIONS[command][0]

    # -- internals ------------------------------------------------------------

    def _check(self, command: str) -> None:
        if not self.allows(command, self.status):
            raise TransitionNotAllowed(command, self.status.value)

    def _mark_first_response(self, at: datetime) -> None:
        if self.first_response_at is None:
            self.first_response_at = at

    def _reopen(self) -> None:
        self.status = Status.RAISED
        self.we_did = None
        self.because = None
        self.instead = None
        self.verified = False
        self.closed_at = None
