"""Response templates per unit: managers add and archive them; staff in scope read them.

A unit's list includes the templates of its ancestors (a trust-wide wording
shows on every ward), nearest unit first.
"""

from __future__ import annotations

from typing import Any

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import NotFound
from yswd.aggregates.response_template import (
    ResponseTemplates,
    TemplateKind,
    templates_aggregate_id,
)
from yswd.application.service import Yswd
from yswd.application.unit_of_work import Written

#: every template of a unit is in one aggregate, so two managers may race for it
BUSY = "The templates of this unit are changing too often; try again."


def template_view(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        **entry,
        "created_at": entry["created_at"].isoformat(),
        "archived_at": entry["archived_at"].isoformat() if entry["archived_at"] else None,
    }


class Templates:
    """The response template use cases."""

    def __init__(self, app: Yswd) -> None:
        self.app = app
        self.uow = app.uow

    def add(
        self,
        actor: Principal,
        unit_id: str,
        template_id: str,
        *,
        title: str,
        text: str,
        kind: TemplateKind,
    ) -> Written[dict[str, Any]]:
        actor.require(Action.MANAGE_TEMPLATES)
        self.app.unit_in_scope(actor, unit_id)
        books: list[ResponseTemplates] = []

        def attempt() -> list[Aggregate]:
            now = self.uow.clock()
            book = self._book(unit_id) or ResponseTemplates.start(unit_id, actor.user_id, now)
            book.add(template_id, title=title, text=text, kind=kind, actor=actor.user_id, now=now)
            books[:] = [book]
            return [book]

        position = self.uow.save_with_retries(f"Unit '{unit_id}'", attempt, busy=BUSY)
        return Written(template_view(books[0].templates[template_id]), position)

    def archive(self, actor: Principal, unit_id: str, template_id: str) -> Written[dict[str, Any]]:
        actor.require(Action.MANAGE_TEMPLATES)
        self.app.unit_in_scope(actor, unit_id)
        books: list[ResponseTemplates] = []

        def attempt() -> list[Aggregate]:
            book = self._book(unit_id)
            if book is None:
                raise NotFound(f"Unit '{unit_id}' has no template '{template_id}'.")
            book.archive(template_id, actor.user_id, self.uow.clock())
            books[:] = [book]
            return [book]

        position = self.uow.save_with_retries(f"Unit '{unit_id}'", attempt, busy=BUSY)
        return Written(template_view(books[0].templates[template_id]), position)

    def for_unit(
        self,
        actor: Principal,
        unit_id: str,
        kind: TemplateKind | None = None,
        include_archived: bool = False,
    ) -> list[dict[str, Any]]:
        """The unit's templates and its ancestors', nearest unit first, then by title."""
        actor.require(Action.READ_ITEMS)
        unit = self.app.unit_in_scope(actor, unit_id)
        found: list[dict[str, Any]] = []
        for depth, owner in enumerate(reversed(unit.path)):
            book = self._book(owner)
            if book is None:
                continue
            entries = sorted(
                book.templates.values(), key=lambda e: (e["title"].casefold(), e["id"])
            )
            for entry in entries:
                if entry["archived"] and not include_archived:
                    continue
                if kind is not None and entry["kind"] != kind.value:
                    continue
                found.append({**template_view(entry), "inherited": depth > 0})
        return found

    def _book(self, unit_id: str) -> ResponseTemplates | None:
        try:
            book: ResponseTemplates = self.uow.get(templates_aggregate_id(unit_id), "")
        except NotFound:
            return None
        return book
