"""The moderator's queue: items whose public wording is not yet approved, published one
at a time (through the item's publish form) or ticked and published together."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.pages.common import FieldError, allowed, container_of, render
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError
from yswd.application.bulk import BulkRefused

router = APIRouter(prefix="/staff", include_in_schema=False)

Moderator = Annotated[Session, Depends(allowed(Action.PUBLISH, "Your role cannot publish items."))]


def moderation_page(
    request: Request,
    session: Session,
    errors: list[FieldError],
    failed_id: str | None,
    values: dict[str, str],
    published: int = 0,
    wording: list[dict[str, Any]] | None = None,
    checked: str | None = None,
    bulk_results: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    docs = container_of(request).staff_items.list_items(session.principal, order="newest")
    queue = [doc for doc in docs if not doc["published"]]
    titles = {doc["id"]: doc["title"] for doc in docs}
    return render(
        request,
        "moderation.html",
        {
            "items": queue,
            "errors": errors,
            "failed_id": failed_id,
            "values": values,
            "published": published,
            "wording_warnings": wording or [],
            "checked": checked,
            "bulk_results": bulk_results or [],
            "title_of": lambda item_id: titles.get(item_id, item_id),
        },
        session,
        status_code=status_code,
    )


@router.get("/moderation", response_class=HTMLResponse)
def moderation(request: Request, session: Moderator, published: int | None = None) -> Response:
    return moderation_page(request, session, [], None, {}, published=published or 0)


async def form_item_ids(request: Request) -> list[str]:
    """Every ticked ``item_ids`` box of the posted form."""
    if request.method != "POST":
        return []
    form = await request.form()
    return [value.strip() for value in form.getlist("item_ids") if isinstance(value, str)]


@router.post("/moderation/publish", response_class=HTMLResponse)
def bulk_publish_page(
    request: Request,
    session: Moderator,
    item_ids: Annotated[list[str], Depends(form_item_ids)],
    container: ContainerDep,
) -> Response:
    if not item_ids:
        error = FieldError("bulk", "Tick at least one item to publish")
        return moderation_page(request, session, [error], None, {}, status_code=422)
    try:
        outcome = container.bulk.publish(session.principal, item_ids)
    except BulkRefused as refusal:
        return moderation_page(
            request,
            session,
            [FieldError("bulk", refusal.message)],
            None,
            {},
            bulk_results=refusal.results,
            status_code=409,
        )
    except DomainError as error:
        return moderation_page(
            request,
            session,
            [FieldError("bulk", error.message)],
            None,
            {},
            status_code=status_for(error),
        )
    if outcome.position is not None:
        container.after_write(outcome.position)
    return RedirectResponse(f"/staff/moderation?published={len(outcome.results)}", status_code=303)
