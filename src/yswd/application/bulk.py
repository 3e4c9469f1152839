"""Bulk publish and bulk refer: many items, all or nothing.

Every item is loaded and checked first (exists, in the caller's scope, the
transition is allowed). If any item would be refused, nothing is written and
the caller gets every item's reason (``BulkRefused``, answered 409). Otherwise
all the changes are saved in ONE ``save``, one transaction: a batch is never
half applied. If another writer changes one of the items meanwhile, the whole
batch is checked again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from yswd.aggregates.item import Item
from yswd.application.items import EARLIEST_DATE, LATEST_DATE
from yswd.application.service import Yswd

#: the most items one bulk request may name
MAX_BULK_ITEMS = 200
BUSY = "These items are changing too often; try again."

ItemChange = Callable[[Item, datetime], str | None]


@dataclass
class BulkResult:
    """Per-item outcomes, in the order asked, and the log position of the one save."""

    results: list[dict[str, Any]] = field(default_factory=list)
    position: int | None = None


class BulkRefused(Conflict):
    """At least one item would be refused, so nothing was changed (409)."""

    def __init__(self, results: list[dict[str, Any]]) -> None:
        refused = sum(1 for result in results if result["status"] != 200)
        super().__init__(
            f"{refused} of {len(results)} items cannot be changed, so nothing was changed."
        )
        self.results = results


def _status_of(error: DomainError) -> int:
    for error_type, status in ((Forbidden, 403), (NotFound, 404), (Conflict, 409)):
        if isinstance(error, error_type):
            return status
    return 422


class BulkActions:
    """Publish or refer many items at once."""

    def __init__(self, app: Yswd) -> None:
        self.app = app
        self.uow = app.uow

    def publish(self, actor: Principal, item_ids: Sequence[str]) -> BulkResult:
        """Publish each item with its current wording. One already public is left as it is."""
        actor.require(Action.PUBLISH)

        def publish(item: Item, now: datetime) -> str | None:
            if item.published:
                return "Already published."
            item.publish(None, actor.user_id, now)
            return None

        return self._apply(actor, item_ids, publish)

    def refer(
        self,
        actor: Principal,
        item_ids: Sequence[str],
        to_unit_id: str,
        due_on: date | None,
        note: str | None,
    ) -> BulkResult:
        actor.require(Action.REFER)
        self.app.unit(to_unit_id)  # 404 for the whole request
        if due_on is not None and not EARLIEST_DATE <= due_on <= LATEST_DATE:
            raise InvalidInput(f"due_on must be between {EARLIEST_DATE} and {LATEST_DATE}.")

        def refer(item: Item, now: datetime) -> str | None:
            if item.restricted and not actor.sees_safeguarding:  # as if it did not exist
                raise NotFound(f"There is no item '{item.item_id}'.")
            if due_on is not None and due_on < item.raised_on:
                raise InvalidInput("due_on cannot be before the date the item was raised.")
            item.refer(to_unit_id, due_on, note, actor.user_id, now)
            return None

        return self._apply(actor, item_ids, refer)

    def _apply(self, actor: Principal, item_ids: Sequence[str], change: ItemChange) -> BulkResult:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            raise InvalidInput("Name at least one item.")
        if len(ids) > MAX_BULK_ITEMS:
            raise InvalidInput(f"Name at most {MAX_BULK_ITEMS} items at once.")
        outcomes: list[list[dict[str, Any]]] = []

        def attempt() -> list[Item]:
            results, changed = self._check_all(actor, ids, change)
            if any(result["status"] != 200 for result in results):
                for result in results:
                    if result["status"] == 200:
                        result.pop("version", None)
                        result["detail"] = (
                            "Could be changed, but was not: other items were refused."
                        )
                raise BulkRefused(results)
            outcomes[:] = [results]
            return changed  # one save; if an item moved on meanwhile, all are checked again

        position = self.uow.save_with_retries("These items", attempt, busy=BUSY)
        return BulkResult(outcomes[0], position)

    def _check_all(
        self, actor: Principal, ids: list[str], change: ItemChange
    ) -> tuple[list[dict[str, Any]], list[Item]]:
        results: list[dict[str, Any]] = []
        changed: list[Item] = []
        now = self.uow.clock()
        for item_id in ids:
            try:
                item = self.app.load_item(item_id)
                self.app.require_item_in_scope(actor, item)
                detail = change(item, now)
            except DomainError as error:
                results.append(
                    {"item_id": item_id, "status": _status_of(error), "detail": error.message}
                )
                continue
            result: dict[str, Any] = {"item_id": item_id, "status": 200, "version": item.version}
            if detail:
                result["detail"] = detail
            if item.pending_events:
                changed.append(item)
            results.append(result)
        return results, changed
