"""Response templates per unit (managers), read by staff in scope with their ancestors'."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from yswd.adapters.http.deps import ContainerDep, PrincipalDep, StaffWriteDep
from yswd.adapters.http.request_bodies import Body, LongText, Slug, Title
from yswd.aggregates.response_template import TemplateKind

router = APIRouter(prefix="/api/v1/units/{unit_id}/templates", tags=["response templates"])


class TemplateIn(Body):
    id: Slug  # type: ignore[valid-type]
    title: Title  # type: ignore[valid-type]
    text: LongText  # type: ignore[valid-type]
    kind: TemplateKind


@router.post("", status_code=201)
def add_template(unit_id: str, body: TemplateIn, staff: StaffWriteDep) -> dict[str, Any]:
    """A response a unit's staff start from; the units below it inherit it."""
    written = staff.container.templates.add(
        staff.principal, unit_id, body.id, title=body.title, text=body.text, kind=body.kind
    )
    staff.response.headers["Location"] = f"/api/v1/units/{unit_id}/templates"
    return staff.saved(written)


@router.get("")
def list_templates(
    unit_id: str,
    container: ContainerDep,
    principal: PrincipalDep,
    kind: TemplateKind | None = None,
    include_archived: bool = False,
) -> dict[str, Any]:
    """The unit's templates and those of the units above it (``inherited: true``)."""
    found = container.templates.for_unit(principal, unit_id, kind, include_archived)
    return {"unit_id": unit_id, "templates": found}


@router.post("/{template_id}/archive")
def archive_template(unit_id: str, template_id: str, staff: StaffWriteDep) -> dict[str, Any]:
    """Stop offering the template; ``include_archived=true`` still lists it."""
    return staff.saved(staff.container.templates.archive(staff.principal, unit_id, template_id))
