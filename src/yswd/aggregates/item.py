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
from yswd.aggregates.errors import Conflict, InvalidInput, TransitionNotAllowed


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

#: the kinds of progress note: an ordinary update, or why there has been no progress
PROGRESS_KINDS = ("progress", "lack_of_progress")


#: the reason recorded when an item is flagged as it is raised
FLAGGED_AT_RAISE = "Flagged as a possible safeguarding concern when it was raised."


class QuietEvent(Aggregate.Event):
    """An event about who may see an item, not about the item's own progress.

    It leaves ``modified_on`` (the item's ``updated_at``) as it was, so that a
    safeguarding flag closed back to the workflow, or a reveal, leaves the item
    exactly as it was on the boards, in lists and in their order.
    """

    def mutate(self, aggregate: Any) -> Any:
        before = aggregate.modified_on if aggregate is not None else None
        mutated = super().mutate(aggregate)
        if mutated is not None and before is not None:
            mutated.modified_on = before
        return mutated


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
        referred_to_forum: str | None
        repeat_of: str | None
        repeats: list[dict[str, Any]]
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

    #: a safeguarding flag, when there is or was one: flagged_at, ack_due_at, reason,
    #: acknowledged_at, note, closed_at, outcome, returned_to_workflow (class defaults:
    #: items raised before flags existed replay without them)
    safeguarding: dict[str, Any] | None = None
    #: each reveal of the contributor to someone who may not see it: user_id, reason, at
    reveals: tuple[dict[str, Any], ...] = ()

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
            aggregate.referred_to_forum = None
            aggregate.repeat_of = None
            aggregate.repeats = []
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
        """Sent to a unit, and (version 2) optionally to one of its forums."""

        class_version = 2

        to_unit_id: str
        to_forum_id: str | None
        due_on: date | None
        note: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["to_forum_id"] = None

        def apply(self, aggregate: Item) -> None:
            from_unit, from_forum = aggregate.current_place
            aggregate.status = Status.REFERRED
            aggregate.referred_to = self.to_unit_id
            aggregate.referred_to_forum = self.to_forum_id
            aggregate.due_on = self.due_on
            aggregate.referrals.append(
                {
                    "to_unit_id": self.to_unit_id,
                    "to_forum_id": self.to_forum_id,
                    "from_unit_id": from_unit,
                    "from_forum_id": from_forum,
                    "referred_by": self.actor,
                    "due_on": self.due_on,
                    "note": self.note,
                    "recorded_at": self.timestamp,
                    "answered_at": None,
                }
            )

    class ResponsePosted(Aggregate.Event):
        response: str

        def apply(self, aggregate: Item) -> None:
            aggregate.status = Status.RESPONDED
            aggregate.responses.append({"response": self.response, "recorded_at": self.timestamp})
            aggregate._mark_first_response(self.timestamp)
            aggregate._mark_referral_answered(self.timestamp)

    class ProgressNoted(Aggregate.Event):
        note: str

        def apply(self, aggregate: Item) -> None:
            aggregate.progress.append({"note": self.note, "recorded_at": self.timestamp})

    class LackOfProgressNoted(Aggregate.Event):
        """Why there has been a lack of progress (seed 004, Appendix III)."""

        note: str

        def apply(self, aggregate: Item) -> None:
            aggregate.progress.append(
                {"note": self.note, "recorded_at": self.timestamp, "kind": "lack_of_progress"}
            )

    class RepeatLinked(Aggregate.Event):
        """This item repeats an earlier one (the same issue raised again)."""

        original_id: str

        def apply(self, aggregate: Item) -> None:
            aggregate.repeat_of = self.original_id

    class RepeatRecorded(Aggregate.Event):
        """A later item was linked as a repeat of this one."""

        repeat_id: str

        def apply(self, aggregate: Item) -> None:
            aggregate.repeats.append({"item_id": self.repeat_id, "recorded_at": self.timestamp})

    class Completed(Aggregate.Event):
        we_did: str

        def apply(self, aggregate: Item) -> None:
            aggregate.status = Status.DONE
            aggregate.we_did = self.we_did
            aggregate.because = None
            aggregate.instead = None
            aggregate._mark_first_response(self.timestamp)
            aggregate._mark_referral_answered(self.timestamp)
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
            aggregate._mark_referral_answered(self.timestamp)
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

    class SafeguardingFlagged(QuietEvent):
        """A possible safeguarding concern: the item leaves every ordinary answer."""

        reason: str
        ack_due_at: datetime

        def apply(self, aggregate: Item) -> None:
            aggregate.safeguarding = {
                "flagged_at": self.timestamp,
                "flagged_by": self.actor,
                "reason": self.reason,
                "ack_due_at": self.ack_due_at,
                "acknowledged_at": None,
                "acknowledged_by": None,
                "note": None,
                "closed_at": None,
                "closed_by": None,
                "outcome": None,
                "returned_to_workflow": None,
            }

    class SafeguardingAcknowledged(QuietEvent):
        """A safeguarding lead has picked the concern up."""

        note: str

        def apply(self, aggregate: Item) -> None:
            assert aggregate.safeguarding is not None
            aggregate.safeguarding = {
                **aggregate.safeguarding,
                "acknowledged_at": self.timestamp,
                "acknowledged_by": self.actor,
                "note": self.note,
            }

    class SafeguardingClosed(QuietEvent):
        """The lead closed the concern: back to the workflow, or restricted for good."""

        outcome: str
        return_to_workflow: bool

        def apply(self, aggregate: Item) -> None:
            assert aggregate.safeguarding is not None
            aggregate.safeguarding = {
                **aggregate.safeguarding,
                "closed_at": self.timestamp,
                "closed_by": self.actor,
                "outcome": self.outcome,
                "returned_to_workflow": self.return_to_workflow,
            }

    class ContributorRevealed(QuietEvent):
        """Break glass: who raised the item was shown to someone who may not see it."""

        reason: str

        def apply(self, aggregate: Item) -> None:
            entry = {"user_id": self.actor, "reason": self.reason, "at": self.timestamp}
            aggregate.reveals = (*aggregate.reveals, entry)

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
        if self.restricted:
            raise Conflict("This item is under a safeguarding flag: it cannot be published.")
        self._record(self.Published, actor, now, you_said=you_said or self.you_said)

    def refer(
        self,
        to_unit_id: str,
        due_on: date | None,
        note: str | None,
        actor: str,
        now: datetime,
        to_forum_id: str | None = None,
    ) -> None:
        """Send the item on. Sending it back where it came from needs a progress report."""
        self._check("refer")
        if self.is_referral_back(to_unit_id, to_forum_id) and not (note and note.strip()):
            raise InvalidInput(
                "Referring an item back to where it was referred from needs a progress "
                "report: send it as 'note'."
            )
        self._record(
            self.Referred,
            actor,
            now,
            to_unit_id=to_unit_id,
            to_forum_id=to_forum_id,
            due_on=due_on,
            note=note,
        )

    def respond(self, response: str, actor: str, now: datetime) -> None:
        self._check("respond")
        self._record(self.ResponsePosted, actor, now, response=response)

    def note_progress(self, note: str, actor: str, now: datetime, kind: str = "progress") -> None:
        self._check("progress")
        if kind not in PROGRESS_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(PROGRESS_KINDS)}.")
        event = self.LackOfProgressNoted if kind == "lack_of_progress" else self.ProgressNoted
        self._record(event, actor, now, note=note)

    def link_as_repeat_of(self, original: Item, actor: str, now: datetime) -> None:
        """Record that this item repeats ``original``, on both items (save them together).

        Repeats form stars, not chains: the original must not itself be a repeat,
        and an item that others repeat cannot become a repeat.
        """
        if original.id == self.id:
            raise InvalidInput("An item cannot be a repeat of itself.")
        if original.repeat_of == self.item_id:
            raise Conflict(f"Item '{original.item_id}' is already a repeat of this item.")
        if self.repeat_of is not None:
            raise Conflict(f"This item is already linked as a repeat of '{self.repeat_of}'.")
        if original.repeat_of is not None:
            raise Conflict(
                f"Item '{original.item_id}' is itself a repeat of '{original.repeat_of}': "
                "link to that one instead."
            )
        if self.repeats:
            raise Conflict("Other items are linked as repeats of this one; it cannot be a repeat.")
        self._record(self.RepeatLinked, actor, now, original_id=original.item_id)
        original._record(original.RepeatRecorded, actor, now, repeat_id=self.item_id)

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

    def flag_safeguarding(
        self, reason: str, ack_due_at: datetime, actor: str, now: datetime
    ) -> None:
        """Take the item out of every ordinary answer until a safeguarding lead closes it."""
        if self.safeguarding_open:
            raise Conflict("This item already has an open safeguarding flag.")
        if self.restricted:
            raise Conflict("This item is restricted for good after a safeguarding flag.")
        self._record(self.SafeguardingFlagged, actor, now, reason=reason, ack_due_at=ack_due_at)

    def acknowledge_safeguarding(self, note: str, actor: str, now: datetime) -> None:
        if not self.safeguarding_open:
            raise Conflict("This item has no open safeguarding flag.")
        assert self.safeguarding is not None
        if self.safeguarding["acknowledged_at"] is not None:
            raise Conflict("This safeguarding flag has already been acknowledged.")
        self._record(self.SafeguardingAcknowledged, actor, now, note=note)

    def close_safeguarding(
        self, outcome: str, return_to_workflow: bool, actor: str, now: datetime
    ) -> None:
        if not self.safeguarding_open:
            raise Conflict("This item has no open safeguarding flag.")
        self._record(
            self.SafeguardingClosed,
            actor,
            now,
            outcome=outcome,
            return_to_workflow=return_to_workflow,
        )

    def reveal_contributor(self, reason: str, actor: str, now: datetime) -> str:
        """Record the reveal and return who raised the item."""
        if self.contributor is None:
            raise Conflict("Nobody is recorded as having raised this item.")
        self._record(self.ContributorRevealed, actor, now, reason=reason)
        return self.contributor

    # -- queries ------------------------------------------------------------

    @property
    def safeguarding_open(self) -> bool:
        return self.safeguarding is not None and self.safeguarding["closed_at"] is None

    @property
    def restricted(self) -> bool:
        """Under an open flag, or closed without a return to the workflow (for good)."""
        flag = self.safeguarding
        return flag is not None and (flag["closed_at"] is None or not flag["returned_to_workflow"])

    @property
    def on_public_boards(self) -> bool:
        """Published, and not under a safeguarding restriction."""
        return self.published and not self.restricted

    def ack_overdue(self, now: datetime) -> bool:
        """An open flag nobody has acknowledged by its acknowledgement time."""
        flag = self.safeguarding
        return (
            self.safeguarding_open
            and flag is not None
            and flag["acknowledged_at"] is None
            and flag["ack_due_at"] < now
        )

    @property
    def item_id(self) -> str:
        return self.id.removeprefix("item:")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def target_on(self, target_days: int = DEFAULT_TARGET_DAYS) -> date:
        """The date a first response is due: ``due_on`` if given, else raised + N days."""
        return self.due_on or self.raised_on + timedelta(days=target_days)

    @property
    def current_place(self) -> tuple[str, str | None]:
        """(unit, forum) where the item is now: where it was last referred, else raised."""
        if self.referred_to is not None and self.referrals:
            return self.referred_to, self.referred_to_forum
        return self.unit_id, self.forum_id

    def is_referral_back(self, to_unit_id: str, to_forum_id: str | None) -> bool:
        """Whether an earlier referral came *from* this unit (and forum, if named)."""
        return any(
            step["from_unit_id"] == to_unit_id
            and (to_forum_id is None or step["from_forum_id"] in (None, to_forum_id))
            for step in self.referrals
        )

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

    def _mark_referral_answered(self, at: datetime) -> None:
        """The latest referral step's clock stops at its first response or close."""
        if self.referrals and self.referrals[-1]["answered_at"] is None:
            self.referrals[-1]["answered_at"] = at

    def _reopen(self) -> None:
        self.status = Status.RAISED
        self.we_did = None
        self.because = None
        self.instead = None
        self.verified = False
        self.closed_at = None
