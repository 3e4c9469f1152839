"""Response templates: a unit's stock wording for responses, "we did" and "because".

Managers answer the same kinds of issues again and again; a template lets them
start from agreed, plain-English wording. All of one unit's templates live in
one aggregate (``templates:<unit id>``), so template ids are unique within the
unit and a unit's list is one read. A unit also sees its ancestors' templates.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import AlreadyExists, Conflict, NotFound


class TemplateKind(StrEnum):
    RESPONSE = "response"
    WE_DID = "we_did"
    BECAUSE = "because"


def templates_aggregate_id(unit_id: str) -> str:
    return f"templates:{unit_id}"


class ResponseTemplates(Aggregate):
    """The response templates of one unit, by template id (archived ones included)."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        unit_id: str
        templates: dict[str, dict[str, Any]]

    class Started(Aggregate.Created):
        unit_id: str

        def apply(self, aggregate: ResponseTemplates) -> None:
            aggregate.unit_id = self.unit_id
            aggregate.templates = {}

    class TemplateAdded(Aggregate.Event):
        template_id: str
        title: str
        text: str
        kind: str

        def apply(self, aggregate: ResponseTemplates) -> None:
            aggregate.templates[self.template_id] = {
                "id": self.template_id,
                "unit_id": aggregate.unit_id,
                "title": self.title,
                "text": self.text,
                "kind": self.kind,
                "archived": False,
                "created_at": self.timestamp,
                "archived_at": None,
            }

    class TemplateArchived(Aggregate.Event):
        template_id: str

        def apply(self, aggregate: ResponseTemplates) -> None:
            entry = aggregate.templates[self.template_id]
            entry["archived"] = True
            entry["archived_at"] = self.timestamp

    @classmethod
    def start(cls, unit_id: str, actor: str, now: datetime) -> ResponseTemplates:
        """An empty book for a unit (saved together with its first template)."""
        return cls._create(
            cls.Started,
            id=templates_aggregate_id(unit_id),
            unit_id=unit_id,
            actor=actor,
            timestamp=now,
        )

    def add(
        self,
        template_id: str,
        *,
        title: str,
        text: str,
        kind: TemplateKind,
        actor: str,
        now: datetime,
    ) -> None:
        if template_id in self.templates:
            raise AlreadyExists(
                f"Unit '{self.unit_id}' already has a template with id '{template_id}'."
            )
        self._record(
            self.TemplateAdded,
            actor,
            now,
            template_id=template_id,
            title=title,
            text=text,
            kind=kind.value,
        )

    def archive(self, template_id: str, actor: str, now: datetime) -> None:
        entry = self.templates.get(template_id)
        if entry is None:
            raise NotFound(f"Unit '{self.unit_id}' has no template '{template_id}'.")
        if entry["archived"]:
            raise Conflict(f"Template '{template_id}' is already archived.")
        self._record(self.TemplateArchived, actor, now, template_id=template_id)
