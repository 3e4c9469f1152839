"""Response templates per unit: managers add and archive them; staff in scope read them.

A unit's list includes the templates of its ancestors (a trust-wide wording
shows on every ward), nearest unit first.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import IntegrityError

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import Forbidden, NotFound, VersionConflict
from yswd.aggregates.organisation import Unit
from yswd.aggregates.response_template import (
    ResponseTemplates,
    TemplateKind,
    templates_aggregate_id,
)
from yswd.application.service import MAX_RETRIES, Written, Yswd


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
        self._unit_in_scope(actor, unit_id)
        for _ in range(MAX_RETRIES):
            now = self.app.clock()
            book = self._book(unit_id) or ResponseTemplates.start(unit_id, actor.user_id, now)
            book.add(template_id, title=title, text=text, kind=kind, actor=actor.user_id, now=now)
            try:
                recordings = self.app.save(book)
            except IntegrityError:  # another template for this unit was saved first
                continue
            position = recordings[-1].notification.id if recordings else None
            return Written(template_view(book.templates[template_id]), position)
        raise VersionConflict("The templates of this unit are changing too often; try again.")

    def archive(self, actor: Principal, unit_id: str, template_id: str) -> Written[dict[str, Any]]:
        actor.require(Action.MANAGE_TEMPLATES)
        self._unit_in_scope(actor, unit_id)
        for _ in range(MAX_RETRIES):
            book = self._book(unit_id)
            if book is None:
                raise NotFound(f"Unit '{unit_id}' has no template '{template_id}'.")
            book.archive(template_id, actor.user_id, self.app.clock())
            try:
                recordings = self.app.save(book)
            except IntegrityError:
                continue
            position = recordings[-1].notification.id if recordings else None
            return Written(template_view(book.templates[template_id]), position)
        raise VersionConflict("The templates of this unit are changing too often; try again.")

    def for_unit(
        self,
        actor: Principal,
        unit_id: str,
        kind: TemplateKind | None = None,
        include_archived: bool = False,
    ) -> list[dict[str, Any]]:
        """The unit's templates and its ancestors', nearest unit first, then by title."""
        actor.require(Action.READ_ITEMS)
        unit = self._unit_in_scope(actor, unit_id)
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

    def _unit_in_scope(self, actor: Principal, unit_id: str) -> Unit:
        unit = self.app.unit(unit_id)
        if not actor.covers(unit.path):
            raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
        return unit

    def _book(self, unit_id: str) -> ResponseTemplates | None:
        try:
            book: ResponseTemplates = self.app._get(templates_aggregate_id(unit_id), "")
        except NotFound:
            return None
        return book
