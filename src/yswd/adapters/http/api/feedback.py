"""The forum feedback pack (JSON and a printable page) and the commissioners' CSV export."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from yswd.adapters.http.deps import ContainerDep, PrincipalDep
from yswd.adapters.http.templating import templates
from yswd.aggregates.access import Action
from yswd.aggregates.disclosure import ReadKind
from yswd.aggregates.item_views import shown_to
from yswd.projections.feedback_pack import feedback_pack, items_csv
from yswd.projections.staff_item_queries import is_restricted

router = APIRouter(prefix="/api/v1", tags=["feedback"])


@router.get("/forums/{forum_id}/feedback", response_model=None)
def forum_feedback(
    forum_id: str,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    since: Annotated[date, Query(description="the last meeting's date, YYYY-MM-DD")],
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> dict[str, Any] | HTMLResponse:
    """What came back since ``since`` on items raised in this forum, to read out."""
    principal.require(Action.READ_ITEMS)
    forum = container.app.forum_in_scope(principal, forum_id)
    pack = [
        {**entry, "item": shown_to(principal, entry["item"])}
        for entry in feedback_pack(container.engine, forum_id, since)
    ]
    identifiable = [
        entry["item"]["id"]
        for entry in pack
        if entry["item"].get("contributor") or entry["item"].get("detail")
    ]
    container.app.record_read(principal, ReadKind.FEEDBACK_PACK, identifiable)
    body = {
        "forum": {"id": forum_id, "name": forum.name},
        "since": since.isoformat(),
        "items": pack,
    }
    if format == "html":
        return templates().TemplateResponse(request, "feedback_pack.html", body)
    return body


@router.get("/exports/items.csv")
def export_items(
    container: ContainerDep,
    principal: PrincipalDep,
    unit_id: str | None = None,
) -> Response:
    """Lifecycle figures for commissioners; no contributor or detail, so not an audited read."""
    principal.require(Action.READ_ITEMS)
    if unit_id is not None:
        container.app.unit(unit_id)  # an unknown unit is 404, not an empty file
    docs = container.staff_items.list_items(principal, unit_id=unit_id, limit=1_000_000)
    docs = [doc for doc in docs if not is_restricted(doc)]  # never a flagged item
    return Response(
        items_csv(docs),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="items.csv"'},
    )
