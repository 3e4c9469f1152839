"""Gap boxes: setting one up (moderators) and leaving a suggestion (the public).

A suggestion is recorded as an unpublished ``gap_box`` item in the box's forum,
raised by the public actor with no contributor, so it enters the same
you-said-we-did flow as anything said at a meeting. A moderator decides what,
if anything, is published.

A suggestion saves the new item and nothing else. Until issue 19 it also
appended a ``SuggestionReceived`` event to the box, so every suggestion to one
box in a burst conflicted with every other one, retried (up to 64 times,
reloading the box's growing history) and held event-store connections until
requests timed out with 503s. The box only needs its question and dates to
take a suggestion; which items were left in it is a read-model question
(``SuggestionIndex``), answered from the item rows by the item's ``detail``,
which names the box. A store written before keeps its ``SuggestionReceived``
events, and those items are still counted.
"""

from __future__ import annotations

from datetime import UTC, date
from typing import Any, Protocol

from yswd.aggregates.access import PUBLIC_ACTOR, Action, Principal
from yswd.aggregates.errors import AlreadyExists, InvalidInput
from yswd.aggregates.gap_box import GapBox, gap_box_aggregate_id
from yswd.aggregates.item import Channel, Item
from yswd.aggregates.item_views import item_view, public_view
from yswd.aggregates.text_rules import refused_kind
from yswd.application.ports import ReadModelSync
from yswd.application.service import Yswd
from yswd.application.unit_of_work import IdempotencyKey, Written

#: the longest item title made from a suggestion
TITLE_LENGTH = 80
SUGGESTION_MAX = 4000
QUESTION_MAX = 1000


class SuggestionLimiter(Protocol):
    """Admits or refuses one more suggestion from a client (raises ``RateLimited``)."""

    def acquire(self, client: str) -> None: ...


class SuggestionIndex(Protocol):
    """Which items were left in a gap box (the staff item rows, in practice)."""

    def gap_box_views(
        self, forum_id: str, box_id: str, *, published_only: bool
    ) -> list[dict[str, Any]]:
        """The staff views (``item_view``) of the ``gap_box`` items of ``forum_id`` left
        in ``box_id``, oldest first; with ``published_only``, those on public boards."""


#: the flag's reason when a person ticks the gap box's safety box
WORRIED = "The person ticked: I am worried about my safety or someone else's."


def title_from(suggestion: str, length: int = TITLE_LENGTH) -> str:
    """The first words of a suggestion, cut at a word boundary, as an item title."""
    words = " ".join(suggestion.split())
    if len(words) <= length:
        return words
    cut = words[: length - 1]
    space = cut.rfind(" ")
    if space >= length // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


class GapBoxes:
    """The gap box use cases, on top of the application's event store."""

    def __init__(
        self,
        app: Yswd,
        limiter: SuggestionLimiter | None = None,
        *,
        index: SuggestionIndex | None = None,
        read_models: ReadModelSync | None = None,
    ) -> None:
        self.app = app
        self.uow = app.uow
        self.limiter = limiter
        #: without an index only the suggestions recorded on the box (old stores) are found
        self.index = index
        #: embedded: brought up to date before the index is read
        self.read_models = read_models
        #: boxes as opened, by id (``opened``)
        self._opened: dict[str, GapBox] = {}

    def today(self) -> date:
        return self.uow.clock().astimezone(UTC).date()

    def create_box(
        self,
        actor: Principal,
        *,
        box_id: str,
        unit_id: str,
        forum_id: str,
        question: str,
        opens_on: date,
        closes_on: date,
        idempotency: IdempotencyKey | None = None,
    ) -> Written[GapBox]:
        """Open a box for a forum of ``unit_id`` (or of a unit below it)."""
        actor.require(Action.RUN_GAP_BOXES)
        replay = self.uow.replay(actor, idempotency)
        if replay is not None:
            return replay
        self.app.unit_in_scope(actor, unit_id)
        forum = self.app.forum(forum_id)
        if unit_id not in self.app.unit(forum.unit_id).path:
            raise InvalidInput(f"Forum '{forum_id}' does not belong to unit '{unit_id}'.")
        if len(question) > QUESTION_MAX:
            raise InvalidInput(f"The question must be at most {QUESTION_MAX} characters.")
        if self.uow.exists(gap_box_aggregate_id(box_id)):
            raise AlreadyExists(f"A gap box with id '{box_id}' already exists.")
        box = GapBox.open(
            box_id,
            unit_id=unit_id,
            forum_id=forum_id,
            question=question,
            opens_on=opens_on,
            closes_on=closes_on,
            actor=actor.user_id,
            now=self.uow.clock(),
        )
        return self.uow.save_new(actor, box, "gap box", idempotency)

    def box(self, box_id: str) -> GapBox:
        """A box by its id; ``NotFound`` when there is none."""
        box: GapBox = self.uow.get(gap_box_aggregate_id(box_id), f"There is no gap box '{box_id}'.")
        return box

    def opened(self, box_id: str) -> GapBox:
        """A box as it was opened: its question, forum and dates, which no event changes
        once it is open, so they are cached like units and forums (a burst of suggestions
        reads the box once, not once each). Which items were left in it is ``box``'s to say."""
        box = self._opened.get(box_id)
        if box is None:
            box = self.box(box_id)
            self._opened[box_id] = box
        return box

    def suggest(
        self, box_id: str, suggestion: str, client: str, worried: bool = False
    ) -> Written[Item]:
        """Record an anonymous suggestion as an unpublished item in the box's forum.

        ``worried`` (the person ticked "I am worried about my safety or someone
        else's") flags it for safeguarding in the same write.

        Refused with ``NotFound`` (no box), ``InvalidInput`` (empty or too long),
        ``GapBoxClosed`` (outside the window) or ``RateLimited`` (too many from
        ``client``). A refused suggestion writes nothing.
        """
        text = suggestion.strip()
        if not text:
            raise InvalidInput("Please write a suggestion.")
        if len(text) > SUGGESTION_MAX:
            raise InvalidInput(f"A suggestion must be at most {SUGGESTION_MAX} characters.")
        refused = refused_kind(text)
        if refused is not None:
            # a fixed sentence (no code point): the public gap box shows it, in Welsh too
            raise InvalidInput(f"A suggestion must not contain {refused}.")
        box = self.opened(box_id)
        box.require_open(self.today())
        if self.limiter is not None:
            self.limiter.acquire(client)
        today = self.today()
        forum = self.app.forum(box.forum_id)
        now = self.uow.clock()
        item = Item.raise_item(
            self.uow.ids(),
            forum_id=forum.forum_id,
            unit_id=forum.unit_id,
            channel=Channel.GAP_BOX,
            raised_on=today,
            title=title_from(text),
            you_said=text,
            detail=box.suggestion_detail(),
            contributor=None,
            themes=(),
            actor=PUBLIC_ACTOR,
            now=now,
        )
        if worried:
            item.flag_safeguarding(WORRIED, self.app.items.ack_due_at(now), PUBLIC_ACTOR, now)
        # a new item only: no other writer can have saved it first, so no retries
        return Written(item, self.uow.save(item))

    def suggestion_ids(self, box: GapBox, *, published_only: bool = False) -> list[str]:
        """The items left in ``box``, oldest first: recorded on the box, or found by the index."""
        found = [*box.item_ids, *self._indexed(box, published_only)]
        return list(dict.fromkeys(found))

    def results(self, box_id: str) -> tuple[GapBox, list[dict[str, Any]]]:
        """The box and the public view of each of its suggestions that was published.

        Read from the index's rows, one query however many were published. Only an
        item the index does not show as published but the box itself recorded (an
        old store's ``SuggestionReceived``) is loaded from the store, to be sure. The
        box is the one ``opened`` keeps: nothing records items on a box any more, and
        an item an older replica still recorded on it is found by the index too.
        """
        box = self.opened(box_id)
        indexed = self._indexed(box, published_only=True)
        published = []
        for item_id in dict.fromkeys([*box.item_ids, *indexed]):
            view = indexed.get(item_id)
            if view is None:
                item = self.app.load_item(item_id)
                if not item.on_public_boards:
                    continue
                view = item_view(item)
            published.append(public_view(view))
        return box, published

    def _indexed(self, box: GapBox, published_only: bool) -> dict[str, dict[str, Any]]:
        """The index's staff views of the items left in ``box``, by id, oldest first."""
        if self.index is None:
            return {}
        if self.read_models is not None:
            self.read_models.refresh_read_models()
        views = self.index.gap_box_views(box.forum_id, box.box_id, published_only=published_only)
        return {view["id"]: view for view in views}
