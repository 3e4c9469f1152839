"""Items: raising them and moving them on, raised -> referred -> responded -> done.

Every command checks the actor's role and scope, then loads, changes and saves
the item through the unit of work. With ``expected_version`` (If-Match) a stale
item is refused; without it, losing a race to another writer reloads the item
and checks every rule again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import Forbidden, InvalidInput, NotFound
from yswd.aggregates.item import FLAGGED_AT_RAISE, Channel, Item, item_aggregate_id
from yswd.application.organisation import UnitsAndForums
from yswd.application.unit_of_work import (
    IdempotencyKey,
    UnitOfWork,
    Written,
    require_version,
)

#: dates outside this window are typing mistakes, and would overflow date arithmetic
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)

ItemChange = Callable[[Item, datetime], None]

#: a reveal's written reason is at least this long (characters)
MIN_REVEAL_REASON = 20


def require_plausible(name: str, value: date) -> None:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidInput(f"{name} must be between {EARLIEST_DATE} and {LATEST_DATE}.")


class Items:
    """The item commands, and which items an actor may see."""

    def __init__(
        self, uow: UnitOfWork, organisation: UnitsAndForums, safeguarding_ack_hours: int = 24
    ) -> None:
        self.uow = uow
        self.organisation = organisation
        self.safeguarding_ack_hours = safeguarding_ack_hours

    # -- loading and scope --------------------------------------------------------------

    def load_item(self, item_id: str, version: int | None = None) -> Item:
        """An item as stored, with no scope check and no read recorded."""
        item: Item = self.uow.get(
            item_aggregate_id(item_id), f"There is no item '{item_id}'.", version
        )
        return item

    def item_in_scope(self, actor: Principal, item: Item) -> bool:
        unit = self.organisation.unit
        if actor.covers(unit(item.unit_id).path):
            return True
        return item.referred_to is not None and actor.covers(unit(item.referred_to).path)

    def require_item_in_scope(self, actor: Principal, item: Item) -> None:
        if not self.item_in_scope(actor, item):
            raise Forbidden(f"Item '{item.item_id}' is outside your scope.")

    def require_visible(self, actor: Principal, item: Item) -> None:
        """An item under a safeguarding restriction does not exist for most staff (404).

        Only safeguarding leads, auditors and admins in scope may read it.
        """
        if item.restricted and not actor.sees_safeguarding:
            raise NotFound(f"There is no item '{item.item_id}'.")

    def require_readable(self, actor: Principal, item: Item) -> None:
        """In scope and not hidden by a safeguarding restriction."""
        self.require_visible(actor, item)
        self.require_item_in_scope(actor, item)

    def ack_due_at(self, flagged_at: datetime) -> datetime:
        return flagged_at + timedelta(hours=self.safeguarding_ack_hours)

    # -- creating -----------------------------------------------------------------------

    def raise_item(
        self,
        actor: Principal,
        *,
        forum_id: str,
        channel: Channel,
        raised_on: date,
        title: str,
        you_said: str,
        detail: str | None = None,
        contributor: str | None = None,
        themes: Iterable[str] = (),
        idempotency: IdempotencyKey | None = None,
        safeguarding: bool = False,
    ) -> Written[Item]:
        """Raise an item; with ``safeguarding`` it is flagged in the same write."""
        actor.require(Action.RAISE)
        if safeguarding:
            actor.require(Action.FLAG_SAFEGUARDING)
        replay = self.uow.replay(actor, idempotency)
        if replay is not None:
            return replay
        require_plausible("raised_on", raised_on)
        forum = self.organisation.forum_in_scope(actor, forum_id)
        now = self.uow.clock()
        item = Item.raise_item(
            self.uow.ids(),
            forum_id=forum_id,
            unit_id=forum.unit_id,
            channel=channel,
            raised_on=raised_on,
            title=title,
            you_said=you_said,
            detail=detail,
            contributor=contributor,
            themes=themes,
            actor=actor.user_id,
            now=now,
        )
        if safeguarding:
            item.flag_safeguarding(FLAGGED_AT_RAISE, self.ack_due_at(now), actor.user_id, now)
        return self.uow.save_new(actor, item, "item", idempotency)

    # -- moving them on -----------------------------------------------------------------

    def publish(
        self, actor: Principal, item_id: str, you_said: str | None, expected_version: int | None
    ) -> Written[Item]:
        """Show the item on the public board, in ``you_said`` if the wording was approved."""

        def publish(item: Item, now: datetime) -> None:
            item.publish(you_said, actor.user_id, now)

        return self._change_item(actor, item_id, Action.PUBLISH, expected_version, publish)

    def refer(
        self,
        actor: Principal,
        item_id: str,
        to_unit_id: str | None,
        due_on: date | None,
        note: str | None,
        expected_version: int | None,
        to_forum_id: str | None = None,
    ) -> Written[Item]:
        """Refer to a unit, or to a forum (e.g. Development Board -> Partnership Board).

        With ``to_forum_id`` the item is referred to that forum's own unit (so its
        staff have it in scope); a ``to_unit_id`` sent with it must be that unit or
        one of its ancestors. Without ``to_unit_id`` it is taken from the forum.
        """
        actor.require(Action.REFER)  # a role that may not refer learns nothing about units
        unit = self.organisation.unit
        if to_forum_id is not None:
            forum = self.organisation.forum(to_forum_id)  # 404 for a forum that does not exist
            if to_unit_id is not None:
                unit(to_unit_id)
                if to_unit_id not in unit(forum.unit_id).path:
                    raise InvalidInput(
                        f"Forum '{to_forum_id}' does not belong to unit '{to_unit_id}'."
                    )
            to_unit_id = forum.unit_id
        elif to_unit_id is None:
            raise InvalidInput("Send 'to_unit_id' or 'to_forum_id'.")
        unit(to_unit_id)  # 404 for a unit that does not exist
        target_unit = to_unit_id

        if due_on is not None:
            require_plausible("due_on", due_on)

        def refer(item: Item, now: datetime) -> None:
            if due_on is not None and due_on < item.raised_on:
                raise InvalidInput("due_on cannot be before the date the item was raised.")
            item.refer(target_unit, due_on, note, actor.user_id, now, to_forum_id=to_forum_id)

        return self._change_item(actor, item_id, Action.REFER, expected_version, refer)

    def respond(
        self, actor: Principal, item_id: str, response: str, expected_version: int | None
    ) -> Written[Item]:
        """A response from the unit the item was referred to; the first stops the clock."""

        def respond(item: Item, now: datetime) -> None:
            item.respond(response, actor.user_id, now)

        return self._change_item(actor, item_id, Action.RESPOND, expected_version, respond)

    def note_progress(
        self,
        actor: Principal,
        item_id: str,
        note: str,
        expected_version: int | None,
        kind: str = "progress",
    ) -> Written[Item]:
        """A progress note; ``kind="lack_of_progress"`` says why there has been none."""

        def note_progress(item: Item, now: datetime) -> None:
            item.note_progress(note, actor.user_id, now, kind)

        return self._change_item(actor, item_id, Action.PROGRESS, expected_version, note_progress)

    def link_repeat(
        self, actor: Principal, item_id: str, original_id: str, expected_version: int | None
    ) -> Written[Item]:
        """Link ``item_id`` as a repeat of ``original_id``; both items are saved together."""
        actor.require(Action.PROGRESS)

        def attempt() -> list[Item]:
            item = self.load_item(item_id)
            self.require_readable(actor, item)
            original = self.load_item(original_id)
            self.require_readable(actor, original)
            require_version(item, expected_version, f"Item '{item_id}'")
            item.link_as_repeat_of(original, actor.user_id, self.uow.clock())
            return [item, original]

        return self._save_item(item_id, expected_version, attempt)

    def complete(
        self, actor: Principal, item_id: str, we_did: str, expected_version: int | None
    ) -> Written[Item]:
        """Done: ``we_did`` is what the board shows people came of it."""

        def complete(item: Item, now: datetime) -> None:
            item.complete(we_did, actor.user_id, now)

        return self._change_item(actor, item_id, Action.COMPLETE, expected_version, complete)

    def decline(
        self,
        actor: Principal,
        item_id: str,
        because: str,
        instead: str | None,
        expected_version: int | None,
    ) -> Written[Item]:
        """We couldn't do this ``because``, perhaps with what was done ``instead``."""

        def decline(item: Item, now: datetime) -> None:
            item.decline(because, instead, actor.user_id, now)

        return self._change_item(actor, item_id, Action.DECLINE, expected_version, decline)

    def verify(
        self,
        actor: Principal,
        item_id: str,
        confirmed: bool,
        note: str | None,
        expected_version: int | None,
    ) -> Written[Item]:
        """The forum says whether the change really happened."""

        def verify(item: Item, now: datetime) -> None:
            item.verify(confirmed, note, actor.user_id, now)

        return self._change_item(actor, item_id, Action.VERIFY, expected_version, verify)

    def reopen(
        self, actor: Principal, item_id: str, reason: str, expected_version: int | None
    ) -> Written[Item]:
        """Back to work: what was done or declined did not settle it."""

        def reopen(item: Item, now: datetime) -> None:
            item.reopen(reason, actor.user_id, now)

        return self._change_item(actor, item_id, Action.REOPEN, expected_version, reopen)

    # -- safeguarding and identity ---------------------------------------------------

    def flag_safeguarding(
        self, actor: Principal, item_id: str, reason: str, expected_version: int | None
    ) -> Written[Item]:
        """Take the item out of every ordinary answer; it reaches the safeguarding queue."""

        def flag(item: Item, now: datetime) -> None:
            item.flag_safeguarding(reason, self.ack_due_at(now), actor.user_id, now)

        return self._change_item(actor, item_id, Action.FLAG_SAFEGUARDING, expected_version, flag)

    def acknowledge_safeguarding(
        self, actor: Principal, item_id: str, note: str, expected_version: int | None
    ) -> Written[Item]:
        """A safeguarding lead has picked the concern up: the acknowledgement clock stops."""

        def acknowledge(item: Item, now: datetime) -> None:
            item.acknowledge_safeguarding(note, actor.user_id, now)

        return self._change_item(
            actor, item_id, Action.WORK_SAFEGUARDING, expected_version, acknowledge
        )

    def close_safeguarding(
        self,
        actor: Principal,
        item_id: str,
        outcome: str,
        return_to_workflow: bool,
        expected_version: int | None,
    ) -> Written[Item]:
        """Close the flag: back to the workflow as it was, or restricted for good."""

        def close(item: Item, now: datetime) -> None:
            item.close_safeguarding(outcome, return_to_workflow, actor.user_id, now)

        return self._change_item(actor, item_id, Action.WORK_SAFEGUARDING, expected_version, close)

    def reveal_contributor(self, actor: Principal, item_id: str, reason: str) -> Written[str]:
        """Break glass: show a manager who raised the item, recording who, when and why."""
        if len(reason.strip()) < MIN_REVEAL_REASON:
            raise InvalidInput(
                f"Give a reason of at least {MIN_REVEAL_REASON} characters: "
                "auditors and the advocate will read it."
            )
        revealed: list[str] = []

        def reveal(item: Item, now: datetime) -> None:
            revealed[:] = [item.reveal_contributor(reason.strip(), actor.user_id, now)]

        written = self._change_item(actor, item_id, Action.REVEAL_CONTRIBUTOR, None, reveal)
        return Written(revealed[0], written.position)

    def _change_item(
        self,
        actor: Principal,
        item_id: str,
        action: Action,
        expected_version: int | None,
        change: ItemChange,
    ) -> Written[Item]:
        """Load, check, change and save one item, with optimistic concurrency."""
        actor.require(action)

        def attempt() -> list[Item]:
            item = self.load_item(item_id)
            if action is not Action.PUBLISH:  # publishing a flagged item is a 409
                self.require_visible(actor, item)
            self.require_item_in_scope(actor, item)
            require_version(item, expected_version, f"Item '{item_id}'")
            change(item, self.uow.clock())
            return [item]

        return self._save_item(item_id, expected_version, attempt)

    def _save_item(
        self, item_id: str, expected_version: int | None, attempt: Callable[[], list[Item]]
    ) -> Written[Item]:
        """Save the items ``attempt`` changed, the first being the one the command answers.

        With ``expected_version`` a stale item is refused; without it, a race lost to
        another writer runs ``attempt`` again on the item as it now is.
        """
        changed: list[Item] = []

        def tracked() -> list[Aggregate]:
            changed[:] = attempt()
            return list(changed)

        what = f"Item '{item_id}'"
        position = self.uow.save_with_retries(what, tracked, fenced=expected_version is not None)
        return Written(changed[0], position)
