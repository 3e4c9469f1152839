"""A forum's pages: its open items with the feedback pack, the printable agenda, and
the minutes import (check first, then save)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    StaffSession,
    allowed,
    date_text,
    parse_date,
    refused,
    render,
    text,
)
from yswd.adapters.http.pages.inbox import open_items
from yswd.adapters.http.pages.item_history import Names
from yswd.adapters.http.pages.scope import forum_in_scope, forums_in_scope
from yswd.adapters.http.referral_names import referral_names
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.disclosure import ReadKind
from yswd.aggregates.errors import DomainError, Forbidden
from yswd.aggregates.item_views import shown_to
from yswd.aggregates.organisation import Forum
from yswd.projections.agenda import DEFAULT_SINCE_DAYS, build_agenda
from yswd.projections.feedback_pack import feedback_pack

router = APIRouter(prefix="/staff", include_in_schema=False)

#: the feedback pack looks back this far unless told otherwise
PACK_DAYS = 28
MINUTES_FORMATS = {"csv": "CSV (a header row, then one item a row)", "markdown": "Markdown list"}
#: the largest minutes text the form accepts (the body limit applies too)
MINUTES_MAX = 60_000
NOT_UTF8 = "\x00not utf-8"

MinutesTaker = Annotated[
    Session, Depends(allowed(Action.RAISE, "Your role cannot import minutes."))
]


@router.get("/forums", response_class=HTMLResponse)
def my_forums(request: Request, session: StaffSession, container: ContainerDep) -> Response:
    """The forums of the user's units, each with its items, feedback pack and agenda."""
    if not session.principal.may(Action.READ_ITEMS):
        return refused(request, session, Forbidden("Your role cannot read items."))
    forums = forums_in_scope(container, session.principal)
    names = Names(container)
    for forum in forums:
        forum["unit_name"] = names.unit(forum["unit_id"])
    since = (container.today() - timedelta(days=PACK_DAYS)).isoformat()
    return render(request, "forums.html", {"forums": forums, "since": since}, session)


@router.get("/forums/{forum_id}", response_class=HTMLResponse)
def forum_page(
    request: Request,
    forum_id: str,
    session: StaffSession,
    container: ContainerDep,
    since: str | None = None,
    logged: int | None = None,
) -> Response:
    forum = forum_in_scope(request, session, forum_id)
    since_raw = date_text(dict(request.query_params), "since")
    since_date = parse_date(since_raw) or container.today() - timedelta(days=PACK_DAYS)
    docs = container.staff_items.list_items(session.principal, forum_id=forum_id, order="due")
    return render(
        request,
        "forum.html",
        {
            "forum": forum,
            "open_items": open_items(container, docs),
            "pack": feedback_pack(container.engine, forum_id, since_date),
            "since": since_date.isoformat(),
            "logged": logged,
            "digest_sent": request.query_params.get("sent") == "1",
        },
        session,
    )


@router.post("/forums/{forum_id}/digest", response_class=HTMLResponse)
def send_digest_page(
    request: Request, forum_id: str, session: StaffSession, form: FormData, container: ContainerDep
) -> Response:
    """The digest button: email the feedback pack since the date to the forum's contact."""
    forum_in_scope(request, session, forum_id)
    since_date = parse_date(date_text(form, "since"))
    if since_date is None:
        return refused(request, session, Forbidden("Enter the date to send the pack from."))
    try:
        written = container.app.request_digest(session.principal, forum_id, since_date)
    except DomainError as error:
        return refused(request, session, error)
    if written.position is not None:
        container.note_write(written.position)
    target = f"/staff/forums/{quote(forum_id, safe='')}?since={since_date.isoformat()}&sent=1"
    return RedirectResponse(target + "#feedback-pack", status_code=303)


@router.get("/forums/{forum_id}/agenda", response_class=HTMLResponse)
def forum_agenda_page(
    request: Request,
    forum_id: str,
    session: StaffSession,
    container: ContainerDep,
    since: str | None = None,
) -> Response:
    """The printable agenda, for the signed-in user (the API's takes a Bearer token)."""
    forum = forum_in_scope(request, session, forum_id)
    today = container.today()
    since_date = parse_date(since or "") or today - timedelta(days=DEFAULT_SINCE_DAYS)
    sections = build_agenda(
        container.engine,
        forum_id=forum_id,
        forum_unit_id=forum.unit_id,
        today=today,
        since=since_date,
        scope=container.staff_items.scope_filter(session.principal),
    )
    body = {
        "forum": {"id": forum_id, "name": forum.name, "kind": forum.kind.value},
        "as_of": today.isoformat(),
        "since": since_date.isoformat(),
        **sections,
        "names": referral_names(container, sections),
    }
    back = {"layout": "staff/layout.html", "back_href": f"/staff/forums/{quote(forum_id, safe='')}"}
    return render(request, "agenda.html", {**body, **back}, session)


@router.get("/forums/{forum_id}/feedback-pack", response_class=HTMLResponse)
def feedback_pack_page(
    request: Request,
    forum_id: str,
    session: StaffSession,
    container: ContainerDep,
    since: str | None = None,
) -> Response:
    """The printable feedback pack for the signed-in user (the API's takes a Bearer token).

    Its reads of identifiable fields are recorded, as the API's are."""
    forum = forum_in_scope(request, session, forum_id)
    principal = session.principal
    since_date = parse_date(since or "") or container.today() - timedelta(days=PACK_DAYS)
    pack = [
        {**entry, "item": shown_to(principal, entry["item"])}
        for entry in feedback_pack(container.engine, forum_id, since_date)
    ]
    identifiable = [
        entry["item"]["id"]
        for entry in pack
        if entry["item"].get("contributor") or entry["item"].get("detail")
    ]
    try:
        container.app.record_read(principal, ReadKind.FEEDBACK_PACK, identifiable)
    except DomainError as error:
        return refused(request, session, error)
    body = {
        "forum": {"id": forum_id, "name": forum.name},
        "since": since_date.isoformat(),
        "items": pack,
        "layout": "staff/layout.html",
        "back_href": f"/staff/forums/{quote(forum_id, safe='')}",
    }
    return render(request, "feedback_pack.html", body, session)


# -- the minutes import --------------------------------------------------------------------


def minutes_page(
    request: Request,
    session: Session,
    forum: Forum,
    *,
    values: dict[str, str],
    errors: list[FieldError],
    result: dict[str, Any] | None = None,
    checked: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "minutes.html",
        {
            "forum": forum,
            "values": values,
            "errors": errors,
            "result": result,
            "checked": checked,
            "formats": list(MINUTES_FORMATS.items()),
        },
        session,
        status_code=status_code,
    )


@router.get("/forums/{forum_id}/minutes", response_class=HTMLResponse)
def minutes_form(request: Request, forum_id: str, session: MinutesTaker) -> Response:
    forum = forum_in_scope(request, session, forum_id)
    return minutes_page(request, session, forum, values={"format": "csv"}, errors=[])


async def minutes_upload(request: Request) -> str | None:
    """The text of an uploaded minutes file (``file``), if one was sent."""
    if request.method != "POST":
        return None
    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return None
    raw = await upload.read(MINUTES_MAX + 1)
    if not raw:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return NOT_UTF8


def minutes_errors(fmt: str, minutes: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if fmt not in MINUTES_FORMATS:
        errors.append(FieldError("format", "Choose the format of the minutes"))
    if minutes == NOT_UTF8:
        errors.append(FieldError("file", "The file must be UTF-8 text (save it as CSV UTF-8)"))
    elif not minutes.strip():
        errors.append(FieldError("minutes", "Paste the minutes, or choose a file"))
    elif len(minutes) > MINUTES_MAX:
        errors.append(
            FieldError("minutes", f"The minutes must be {MINUTES_MAX} characters or fewer")
        )
    return errors


@router.post("/forums/{forum_id}/minutes", response_class=HTMLResponse)
def import_minutes_page(
    request: Request,
    forum_id: str,
    session: MinutesTaker,
    form: FormData,
    uploaded: Annotated[str | None, Depends(minutes_upload)],
    container: ContainerDep,
) -> Response:
    forum = forum_in_scope(request, session, forum_id)
    fmt = text(form, "format")
    minutes = uploaded if uploaded is not None else form.get("minutes", "")
    values = {"format": fmt, "minutes": minutes if uploaded is None else ""}
    errors = minutes_errors(fmt, minutes)
    if errors:
        return minutes_page(request, session, forum, values=values, errors=errors, status_code=422)
    if uploaded is not None:
        values["minutes"] = minutes  # keep the file's text, so "Save all" sends the same
    dry_run = text(form, "intent") != "save"
    try:
        answer = container.minutes.run(
            session.principal, forum_id, minutes, fmt, dry_run=dry_run
        )
    except Forbidden as error:
        return refused(request, session, error)
    except DomainError as error:
        errors.append(FieldError("minutes", error.message))
        return minutes_page(
            request, session, forum, values=values, errors=errors, status_code=status_for(error)
        )
    if answer.position is not None:
        container.after_write(answer.position)
    if answer.status_code >= 400:
        errors.append(FieldError("minutes", answer.body.get("detail", "The minutes have errors")))
    return minutes_page(
        request,
        session,
        forum,
        values=values,
        errors=errors,
        result={**answer.body, "replayed": answer.replayed},
        checked=dry_run,
        status_code=answer.status_code if answer.status_code >= 400 else 200,
    )
