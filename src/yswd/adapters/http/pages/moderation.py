"""The moderator's queue: items whose public wording is not yet approved, published one
at a time (through the item's publish form) or ticked and published together."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.labels import PUBLIC_STATUS_LABELS
from yswd.adapters.http.pages.common import FieldError, allowed, container_of, render
from yswd.adapters.http.pages.item_history import Names
from yswd.adapters.http.sessions import Session
from yswd.adapters.http.templating import uk_date
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError
from yswd.application.bulk import BulkRefused

router = APIRouter(prefix="/staff", include_in_schema=False)

#: the item just published from the queue (set by the publish form for the next page only)
PUBLISHED_COOKIE = "yswd_published"

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
    published_id: str | None = None,
) -> HTMLResponse:
    container = container_of(request)
    docs = container.staff_items.list_items(session.principal, order="newest")
    queue = [doc for doc in docs if not doc["published"]]
    titles = {doc["id"]: doc["title"] for doc in docs}
    names = Names(container)
    for doc in queue:
        doc["forum_name"] = names.forum(doc["forum_id"])
        doc["unit_name"] = names.unit(doc["unit_id"])
    # after publishing one item: where the public now sees it
    just_published = next((doc for doc in docs if doc["id"] == published_id), None)
    board = None
    if just_published is not None:
        board = {
            "href": f"/public/boards/{just_published['unit_id']}#item-{just_published['id']}",
            "name": names.unit(just_published["unit_id"]),
        }
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
            "board": board,
            "public_status_labels": PUBLIC_STATUS_LABELS,
            "uk_date_of": uk_date,
        },
        session,
        status_code=status_code,
    )


@router.get("/moderation", response_class=HTMLResponse)
def moderation(request: Request, session: Moderator, published: int | None = None) -> Response:
    just_published = request.cookies.get(PUBLISHED_COOKIE) if published == 1 else None
    page = moderation_page(
        request, session, [], None, {}, published=published or 0, published_id=just_published
    )
    page.delete_cookie(PUBLISHED_COOKIE, path="/staff/moderation")
    return page


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
