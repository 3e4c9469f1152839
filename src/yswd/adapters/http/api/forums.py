"""A forum's agenda (JSON and a printable page) and the minutes import."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from yswd.adapters.http.deps import POSITION_HEADER, ContainerDep, PrincipalDep, StaffWriteDep
from yswd.adapters.http.referral_names import referral_names
from yswd.adapters.http.request_bodies import DigestIn
from yswd.adapters.http.templating import templates
from yswd.aggregates.access import Action
from yswd.aggregates.errors import InvalidInput
from yswd.projections.agenda import DEFAULT_SINCE_DAYS, build_agenda

router = APIRouter(prefix="/api/v1/forums", tags=["forums"])

MEDIA_FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
}


@router.get("/{forum_id}/agenda", response_model=None)
def forum_agenda(
    forum_id: str,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    since: Annotated[
        date | None, Query(description="the last meeting's date; closed items since then")
    ] = None,
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> dict[str, Any] | HTMLResponse:
    """What this forum must consider at its next meeting."""
    principal.require(Action.READ_ITEMS)
    forum = container.app.forum_in_scope(principal, forum_id)
    today = container.today()
    since = since or today - timedelta(days=DEFAULT_SINCE_DAYS)
    sections = build_agenda(
        container.engine,
        forum_id=forum_id,
        forum_unit_id=forum.unit_id,
        today=today,
        since=since,
        scope=container.staff_items.scope_filter(principal),
    )
    body = {
        "forum": {"id": forum_id, "name": forum.name, "kind": forum.kind.value},
        "as_of": today.isoformat(),
        "since": since.isoformat(),
        **sections,
    }
    if format == "html":
        body["names"] = referral_names(container, sections)
        return templates().TemplateResponse(request, "agenda/agenda.html", body)
    return body


@router.post("/{forum_id}/digest", status_code=202)
def send_digest(forum_id: str, body: DigestIn, staff: StaffWriteDep) -> dict[str, Any]:
    """Email the feedback pack since ``since`` to the forum's contact (sent from the log)."""
    staff.saved(staff.app.request_digest(staff.principal, forum_id, body.since))
    return {"forum_id": forum_id, "since": body.since.isoformat(), "status": "queued"}


MINUTES_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "text/markdown": {"schema": {"type": "string"}},
        },
    }
}


@router.post("/{forum_id}/minutes", response_model=None, openapi_extra=MINUTES_BODY)
async def import_minutes(
    forum_id: str,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    dry_run: bool = True,
) -> Response:
    """Validate (``dry_run=true``, the default) or commit a meeting's items in one go."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = MEDIA_FORMATS.get(media)
    if fmt is None:
        return JSONResponse(
            {"detail": "Send the minutes as text/csv or text/markdown."}, status_code=415
        )
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("The minutes must be UTF-8 text.") from None
    answer = await run_in_threadpool(
        container.minutes.run, principal, forum_id, text, fmt, dry_run=dry_run
    )
    response = JSONResponse(answer.body, status_code=answer.status_code)
    if answer.position is not None:
        response.headers[POSITION_HEADER] = str(answer.position)
        await run_in_threadpool(container.after_write, answer.position)
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
