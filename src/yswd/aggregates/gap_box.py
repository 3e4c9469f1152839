"""The gap box: an online question the public can answer anonymously.

A moderator opens a box for a forum with a question and a window of dates.
While the window is open, anyone may leave a suggestion; each one becomes an
unpublished ``gap_box`` item in the box's forum (see ``yswd.application.gap_boxes``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import Conflict, InvalidInput


def gap_box_aggregate_id(box_id: str) -> str:
    return f"gapbox:{box_id}"


def suggestion_detail_prefix(box_id: str) -> str:
    """How the ``detail`` of every item left in the box ``box_id`` begins.

    This is the link from a suggestion to its box: a suggestion is saved as the
    item alone (a box with one event per suggestion was a hot aggregate that
    every suggestion in a burst conflicted on), and the box's suggestions are
    found again by this prefix among the ``gap_box`` items of its forum.
    """
    return f"Left in the gap box '{box_id}': "


class GapBoxClosed(Conflict):
    """A suggestion sent to a box outside its opening window (409)."""


class GapBox(Aggregate):
    """One question, asked of the public between ``opens_on`` and ``closes_on``."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        unit_id: str
        forum_id: str
        question: str
        opens_on: date
        closes_on: date
        item_ids: list[str]

    class Opened(Aggregate.Created):
        box_id: str
        unit_id: str
        forum_id: str
        question: str
        opens_on: date
        closes_on: date

        def apply(self, aggregate: GapBox) -> None:
            aggregate.unit_id = self.unit_id
            aggregate.forum_id = self.forum_id
            aggregate.question = self.question
            aggregate.opens_on = self.opens_on
            aggregate.closes_on = self.closes_on
            aggregate.item_ids = []

    class SuggestionReceived(Aggregate.Event):
        """A suggestion was left, and recorded as the item ``item_id``.

        Stores written before issue 19 hold one of these per suggestion; it is no
        longer recorded (see ``suggestion_detail_prefix``), but still replays.
        """

        item_id: str

        def apply(self, aggregate: GapBox) -> None:
            aggregate.item_ids.append(self.item_id)

    @property
    def box_id(self) -> str:
        return self.id.removeprefix("gapbox:")

    @classmethod
    def open(
        cls,
        box_id: str,
        *,
        unit_id: str,
        forum_id: str,
        question: str,
        opens_on: date,
        closes_on: date,
        actor: str,
        now: datetime,
    ) -> GapBox:
        """Set up a box. Its window runs from ``opens_on`` to ``closes_on``, both included."""
        if closes_on < opens_on:
            raise InvalidInput("closes_on cannot be before opens_on.")
        if not question.strip():
            raise InvalidInput("A gap box needs a question.")
        return cls._create(
            cls.Opened,
            id=gap_box_aggregate_id(box_id),
            box_id=box_id,
            unit_id=unit_id,
            forum_id=forum_id,
            question=question,
            opens_on=opens_on,
            closes_on=closes_on,
            actor=actor,
            timestamp=now,
        )

    def receive(self, item_id: str, today: date, actor: str, now: datetime) -> None:
        """Note that a suggestion became the item ``item_id``; only while the box is open.

        Not used by the application since issue 19 (see ``suggestion_detail_prefix``).
        """
        self.require_open(today)
        self._record(self.SuggestionReceived, actor, now, item_id=item_id)

    def suggestion_detail(self) -> str:
        """The ``detail`` of an item left in this box: the prefix, then the question."""
        return suggestion_detail_prefix(self.box_id) + self.question

    def is_open(self, today: date) -> bool:
        return self.opens_on <= today <= self.closes_on

    def require_open(self, today: date) -> None:
        if today < self.opens_on:
            raise GapBoxClosed(
                f"This gap box opens on {self.opens_on.isoformat()}; it is not taking "
                "suggestions yet."
            )
        if today > self.closes_on:
            raise GapBoxClosed(
                f"This gap box closed on {self.closes_on.isoformat()}; it no longer takes "
                "suggestions."
            )
