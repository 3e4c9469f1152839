"""Staff web pages: server-rendered, usable without JavaScript.

Every page goes through the same application layer as the JSON API, so the
same rules (roles, scopes, transitions) apply. Domain refusals are shown on the
form as an error summary, never as a server error.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd import audit
from yswd.access import Action, Principal
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.sessions import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    Session,
    clear_cookie,
    csrf_ok,
    current_session,
    set_cookie,
    store_for,
)
from yswd.adapters.http.templating import templates
from yswd.aggregates.errors import DomainError, Forbidden, NotFound, VersionConflict
from yswd.aggregates.item import Channel, Item, Status
from yswd.application import Written
from yswd.bootstrap import Container
from yswd.projections.feedback_pack import feedback_pack
from yswd.views import item_view

router = APIRouter(prefix="/staff", include_in_schema=False)

#: how many item rows the meeting log offers at once
MEETING_ROWS = 5
#: the feedback pack looks back this far unless told otherwise
PACK_DAYS = 28

CHANNEL_LABELS = {
    Channel.COMMUNITY_MEETING: "Community meeting",
    Channel.DIARY_ROOM: "Diary room",
    Channel.GAP_BOX: "Gap box",
    Channel.CITIZENS_VIEW: "Citizens' view",
    Channel.FORUM: "Forum",
    Channel.STANDING_CONFERENCE: "Standing conference",
    Channel.COMPLAINT: "Complaint",
    Channel.OTHER: "Other",
}

STATUS_LABELS = {
    Status.RAISED: "Raised",
    Status.REFERRED: "Referred",
    Status.RESPONDED: "Responded",
    Status.DONE: "Done",
    Status.COULDNT_DO: "Could not do",
}

#: the item forms: command name -> (the action it needs, button text)
ITEM_FORMS: dict[str, tuple[Action, str]] = {
    "refer": (Action.REFER, "Refer"),
    "respond": (Action.RESPOND, "Post response"),
    "progress": (Action.PROGRESS, "Add progress"),
    "complete": (Action.COMPLETE, "Mark as done"),
    "decline": (Action.DECLINE, "Mark as could not do"),
    "verify": (Action.VERIFY, "Record check"),
    "reopen": (Action.REOPEN, "Reopen"),
}

CLOSED_STATUSES = frozenset({Status.DONE.value, Status.COULDNT_DO.value})

EVENT_LABELS = {
    "item_raised": "Raised",
    "item_published": "Published",
    "item_referred": "Referred",
    "response_posted": "Response posted",
    "progress_noted": "Progress noted",
    "item_completed": "Marked as done",
    "item_declined": "Marked as could not do",
    "change_verified": "Change checked: it happened",
    "change_not_confirmed": "Change checked: it had not happened",
    "item_reopened": "Reopened",
}

FRIENDLY_CONFLICT = (
    "Someone else changed this item while you were looking at it. "
    "The page now shows the latest version: check it and try again."
)


@dataclass
class FieldError:
    field: str
    message: str


# -- plumbing -------------------------------------------------------------------


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as plain strings (files are ignored)."""
    if request.method != "POST":
        return {}
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormData = Annotated[dict[str, str], Depends(form_data)]


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    session: Session | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal = session.principal if session else None
    base: dict[str, Any] = {
        "request": request,
        "principal": principal,
        "csrf_token": session.csrf_token if session else None,
        "role_label": principal.role.value.capitalize() if principal else None,
        "may": (lambda action: principal.may(action)) if principal else (lambda _: False),
        "Action": Action,
        "status_label": lambda value: STATUS_LABELS.get(Status(value), value),
        "channel_label": lambda value: CHANNEL_LABELS.get(Channel(value), value),
    }
    errors: list[FieldError] = context.get("errors") or []
    base["error_for"] = {error.field: error.message for error in errors}
    response = templates().TemplateResponse(
        request, f"staff/{name}", {**base, **context}, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET":
        target = "/staff"
    return RedirectResponse(f"/staff/sign-in?next={quote(target, safe='')}", status_code=303)


def problem_page(
    request: Request, session: Session | None, status_code: int, title: str, message: str
) -> HTMLResponse:
    return render(
        request,
        "problem.html",
        {"title": title, "message": message},
        session,
        status_code=status_code,
    )


def refused(request: Request, session: Session | None, error: DomainError) -> HTMLResponse:
    status = status_for(error)
    titles = {403: "You cannot see this page", 404: "Page not found"}
    return problem_page(
        request, session, status, titles.get(status, "Something went wrong"), error.message
    )


def guarded(request: Request, form: dict[str, str] | None = None) -> Session | Response:
    """The signed-in session, or the response to send instead.

    Not signed in: a redirect to sign-in. A POST without the session's CSRF
    token: 403 and nothing is changed.
    """
    session = current_session(request)
    if session is None:
        return to_sign_in(request)
    if request.method == "POST" and not csrf_ok(session, (form or {}).get("csrf_token")):
        return problem_page(
            request,
            session,
            403,
            "This form has expired",
            "The form was not sent from this service, or your session changed. "
            "Go back, reload the page and try again.",
        )
    return session


def guarded_for(request: Request, action: Action, refusal: str) -> Session | Response:
    """The signed-in session, if its role may do ``action``; else the page to show instead."""
    session = guarded(request)
    if isinstance(session, Session) and not session.principal.may(action):
        return refused(request, session, Forbidden(refusal))
    return session


def after_write(container: Container, written: Written[Any]) -> None:
    container.after_write(written.position)


def text(form: dict[str, str], key: str) -> str:
    return form.get(key, "").strip()


def optional(form: dict[str, str], key: str) -> str | None:
    return text(form, key) or None


def parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def safe_next(raw: str | None) -> str:
    """Only local staff pages are allowed as a place to go after sign-in."""
    if raw and raw.startswith("/staff") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/staff"


# -- sign in and out ------------------------------------------------------------


def sign_in_page(
    request: Request, next_page: str, errors: list[FieldError], status_code: int = 200
) -> HTMLResponse:
    store = store_for(request)
    nonce = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        {
            "errors": errors,
            "next": next_page,
            "sign_in_csrf": store.sign_in_token(nonce),
        },
        status_code=status_code,
    )
    set_cookie(request, response, SIGN_IN_COOKIE, nonce, "/staff/sign-in")
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str | None = None) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return sign_in_page(request, safe_next(next), [])


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, form: FormData) -> Response:
    store = store_for(request)
    next_page = safe_next(form.get("next"))
    if not store.check_sign_in_token(request.cookies.get(SIGN_IN_COOKIE), form.get("csrf_token")):
        return problem_page(
            request,
            None,
            403,
            "This form has expired",
            "The sign-in form was not sent from this service. Reload the page and try again.",
        )
    token = text(form, "token")
    if not token:
        return sign_in_page(
            request, next_page, [FieldError("token", "Enter your access token")], 422
        )
    try:
        principal = _container(request).app.authenticate(token)
    except DomainError:
        return sign_in_page(
            request,
            next_page,
            [FieldError("token", "That access token is not right. Check it and try again")],
            401,
        )
    _, cookie = store.open(principal)
    response = RedirectResponse(next_page, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, cookie, "/")
    clear_cookie(request, response, SIGN_IN_COOKIE, "/staff/sign-in")
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: FormData) -> Response:
    session = guarded(request, form)
    if not isinstance(session, Session):
        return session
    store_for(request).close(session)
    response = RedirectResponse("/staff/sign-in", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE, "/")
    return response


# -- home -----------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request) -> Response:
    session = guarded(request)
    if not isinstance(session, Session):
        return session
    return render(request, "home.html", {}, session)


# -- secretary: log a meeting ----------------------------------------------------


def empty_rows() -> list[dict[str, str]]:
    return [row_values({}, n) for n in range(1, MEETING_ROWS + 1)]


def row_values(form: dict[str, str], n: int) -> dict[str, str]:
    return {
        "n": str(n),
        "title": text(form, f"title_{n}"),
        "you_said": text(form, f"you_said_{n}"),
        "channel": text(form, f"channel_{n}") or Channel.COMMUNITY_MEETING.value,
        "themes": text(form, f"themes_{n}"),
        "contributor": text(form, f"contributor_{n}"),
        "detail": text(form, f"detail_{n}"),
    }


def row_is_empty(row: dict[str, str]) -> bool:
    return not any(row[key] for key in ("title", "you_said", "themes", "contributor", "detail"))


def meeting_page(
    request: Request,
    session: Session,
    *,
    forum_id: str,
    meeting_date: str,
    rows: list[dict[str, str]],
    errors: list[FieldError],
    saved: list[dict[str, Any]],
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "meeting.html",
        {
            "forum_id": forum_id,
            "meeting_date": meeting_date,
            "rows": rows,
            "errors": errors,
            "saved": saved,
            "channels": [(c.value, CHANNEL_LABELS[c]) for c in Channel],
        },
        session,
        status_code=status_code,
    )


@router.get("/meetings/new", response_class=HTMLResponse)
def meeting_form(request: Request, forum: str | None = None) -> Response:
    session = guarded_for(request, Action.RAISE, "Your role cannot log meetings.")
    if not isinstance(session, Session):
        return session
    today = _container(request).today().isoformat()
    return meeting_page(
        request,
        session,
        forum_id=forum or "",
        meeting_date=today,
        rows=empty_rows(),
        errors=[],
        saved=[],
    )


@router.post("/meetings/new", response_class=HTMLResponse)
def log_meeting(request: Request, form: FormData) -> Response:
    session = guarded(request, form)
    if not isinstance(session, Session):
        return session
    principal = session.principal
    if not principal.may(Action.RAISE):
        return refused(request, session, Forbidden("Your role cannot log meetings."))
    container = _container(request)
    forum_id = text(form, "forum_id")
    raw_date = text(form, "meeting_date")
    rows = [row_values(form, n) for n in range(1, MEETING_ROWS + 1)]
    errors: list[FieldError] = []

    if not forum_id:
        errors.append(FieldError("forum_id", "Enter the forum id"))
    else:
        try:
            forum = container.app.forum(forum_id)
            if not principal.covers(container.app.unit(forum.unit_id).path):
                errors.append(FieldError("forum_id", f"Forum '{forum_id}' is outside your scope"))
        except DomainError as error:
            errors.append(FieldError("forum_id", error.message))
    meeting_date = parse_date(raw_date)
    if meeting_date is None:
        errors.append(FieldError("meeting_date", "Enter the meeting date, for example 2026-11-02"))
    filled = [row for row in rows if not row_is_empty(row)]
    if not filled:
        errors.append(FieldError("title_1", "Enter at least one item"))
    for row in filled:
        n = row["n"]
        if not row["title"]:
            errors.append(FieldError(f"title_{n}", f"Item {n}: enter a title"))
        if not row["you_said"]:
            errors.append(FieldError(f"you_said_{n}", f"Item {n}: enter what people said"))
        if row["channel"] not in {c.value for c in Channel}:
            errors.append(FieldError(f"channel_{n}", f"Item {n}: choose a channel from the list"))
    if errors or meeting_date is None:
        return meeting_page(
            request,
            session,
            forum_id=forum_id,
            meeting_date=raw_date,
            rows=rows,
            errors=errors,
            saved=[],
            status_code=422,
        )

    saved: list[dict[str, Any]] = []
    left: list[dict[str, str]] = []
    for row in filled:
        themes = [theme.strip() for theme in row["themes"].split(",") if theme.strip()]
        try:
            written = container.app.raise_item(
                principal,
                forum_id=forum_id,
                channel=Channel(row["channel"]),
                raised_on=meeting_date,
                title=row["title"],
                you_said=row["you_said"],
                detail=row["detail"] or None,
                contributor=row["contributor"] or None,
                themes=themes,
            )
        except DomainError as error:
            errors.append(FieldError(f"title_{row['n']}", f"Item {row['n']}: {error.message}"))
            left.append(row)
            continue
        after_write(container, written)
        saved.append({"id": written.value.item_id, "title": written.value.title})
    if errors:
        # the rows that were saved are gone from the form; the others stay to be fixed
        return meeting_page(
            request,
            session,
            forum_id=forum_id,
            meeting_date=raw_date,
            rows=left + [row_values({}, n) for n in range(len(left) + 1, MEETING_ROWS + 1)],
            errors=errors,
            saved=saved,
            status_code=422,
        )
    return RedirectResponse(
        f"/staff/forums/{quote(forum_id, safe='')}?logged={len(saved)}", status_code=303
    )


@router.get("/forums/{forum_id}", response_class=HTMLResponse)
def forum_page(
    request: Request, forum_id: str, since: str | None = None, logged: int | None = None
) -> Response:
    session = guarded(request)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    principal = session.principal
    try:
        principal.require(Action.READ_ITEMS)
        forum = container.app.forum(forum_id)
        if not principal.covers(container.app.unit(forum.unit_id).path):
            raise Forbidden(f"Forum '{forum_id}' is outside your scope.")
    except DomainError as error:
        return refused(request, session, error)
    since_date = parse_date(since or "") or container.today() - timedelta(days=PACK_DAYS)
    docs = container.staff_items.list_items(principal, forum_id=forum_id, order="due")
    open_items = with_answer_due(
        container, [doc for doc in docs if doc["status"] not in CLOSED_STATUSES]
    )
    pack = feedback_pack(container.engine, forum_id, since_date)
    return render(
        request,
        "forum.html",
        {
            "forum": forum,
            "open_items": open_items,
            "pack": pack,
            "since": since_date.isoformat(),
            "logged": logged,
        },
        session,
    )


# -- manager inbox ----------------------------------------------------------------


def with_answer_due(container: Container, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds the date each item needs an answer by: its due date, or the target from raising."""
    days = timedelta(days=container.app.target_days)
    for doc in docs:
        target = (date.fromisoformat(doc["raised_on"]) + days).isoformat()
        doc["answer_due"] = doc.get("due_on") or target
    return docs


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request) -> Response:
    session = guarded(request)
    if not isinstance(session, Session):
        return session
    principal = session.principal
    if not principal.may(Action.READ_ITEMS):
        return refused(request, session, Forbidden("Your role cannot read items."))
    container = _container(request)
    docs = container.staff_items.list_items(principal, order="due")
    open_docs = with_answer_due(
        container, [doc for doc in docs if doc["status"] not in CLOSED_STATUSES]
    )
    # overdue first, then by due date (the order list_items already gives)
    open_docs.sort(key=lambda doc: not doc["overdue"])
    return render(request, "inbox.html", {"items": open_docs}, session)


# -- one item -----------------------------------------------------------------------


def available_forms(principal: Principal, status: Status) -> list[str]:
    return [
        command
        for command, (action, _) in ITEM_FORMS.items()
        if principal.may(action) and Item.allows(command, status)
    ]


def item_page(
    request: Request,
    session: Session,
    item: Item,
    *,
    errors: list[FieldError] | None = None,
    failed_form: str | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
    timeline: list[dict[str, Any]] | None = None,
    as_of: str | None = None,
    past_view: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = _container(request)
    view = past_view or item_view(item)
    return render(
        request,
        "item.html",
        {
            "item": view,
            "forms": [] if past_view else available_forms(session.principal, item.status),
            "form_labels": {command: label for command, (_, label) in ITEM_FORMS.items()},
            "errors": errors or [],
            "failed_form": failed_form,
            "values": values or {},
            "notice": notice,
            "target_on": item.target_on(container.app.target_days).isoformat(),
            # Plain-English warnings per form (command -> messages): the place for a
            # wording checker to plug in. Nothing fills it yet.
            "warnings": {},
            "timeline": timeline,
            "as_of": as_of,
            "may_audit": session.principal.may(Action.AUDIT),
        },
        session,
        status_code=status_code,
    )


def event_summary(data: dict[str, Any]) -> str:
    """An event's fields in plain words, for the auditor's timeline."""
    parts = []
    for key, value in data.items():
        if value is None or value == [] or value == "":
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def audit_timeline(
    container: Container, principal: Principal, item_id: str, as_of_raw: str | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Every event with actor and time (up to ``as_of``), and the item's state then."""
    as_of = audit.parse_instant(as_of_raw)
    history = audit.history(container, principal, item_id, as_of)
    names: dict[str, str] = {}

    def who(actor: str) -> str:
        if actor not in names:
            try:
                names[actor] = f"{container.app.user(actor).name} ({actor})"
            except DomainError:
                names[actor] = actor
        return names[actor]

    timeline = [
        {
            "label": EVENT_LABELS.get(event["type"], event["type"].replace("_", " ")),
            "at": event["recorded_at"][:19].replace("T", " ") + " UTC",
            "actor": who(event["actor"]),
            "text": event_summary(event["data"]),
            "version": event["version"],
            "hash": event["hash"],
        }
        for event in history["events"]
    ]
    return timeline, history["state"] if as_of is not None else None


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_detail(
    request: Request, item_id: str, done: str | None = None, as_of: str | None = None
) -> Response:
    session = guarded(request)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    principal = session.principal
    try:
        item = container.app.get_item(principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    notice = f"{done} saved." if done in {label for _, label in ITEM_FORMS.values()} else None
    if done == "Publish":
        notice = "Published."
    if not principal.may(Action.AUDIT):
        return item_page(request, session, item, notice=notice)
    try:
        timeline, past = audit_timeline(container, principal, item_id, as_of)
    except DomainError as error:
        return item_page(
            request,
            session,
            item,
            errors=[FieldError("as_of", error.message)],
            values={"as_of": as_of or ""},
            as_of=as_of,
            status_code=status_for(error),
        )
    return item_page(
        request, session, item, notice=notice, timeline=timeline, as_of=as_of, past_view=past
    )


def command_for(
    container: Container, principal: Principal, item_id: str, command: str, form: dict[str, str]
) -> tuple[Callable[[], Written[Item]] | None, list[FieldError]]:
    """The application call a form asks for, or the reasons it cannot be made."""
    version_raw = text(form, "version")
    version = int(version_raw) if version_raw.isdigit() else None
    app = container.app
    errors: list[FieldError] = []

    def need(key: str, message: str) -> str:
        value = text(form, key)
        if not value:
            errors.append(FieldError(f"{command}-{key}", message))
        return value

    if command == "publish":
        wording = need("you_said", "Enter the public wording")
        return (lambda: app.publish(principal, item_id, wording, version)), errors
    if command == "refer":
        unit = need("to_unit_id", "Enter the id of the unit to refer to")
        due_raw = text(form, "due_on")
        due = parse_date(due_raw) if due_raw else None
        if due_raw and due is None:
            errors.append(FieldError("refer-due_on", "Enter the due date, for example 2026-12-01"))
        note = optional(form, "note")
        return (lambda: app.refer(principal, item_id, unit, due, note, version)), errors
    if command == "respond":
        response = need("response", "Enter the response")
        return (lambda: app.respond(principal, item_id, response, version)), errors
    if command == "progress":
        note = need("note", "Enter the progress note")
        return (lambda: app.note_progress(principal, item_id, note, version)), errors
    if command == "complete":
        we_did = need("we_did", "Enter what we did")
        return (lambda: app.complete(principal, item_id, we_did, version)), errors
    if command == "decline":
        because = need("because", "Enter why we could not do it")
        instead = optional(form, "instead")
        return (lambda: app.decline(principal, item_id, because, instead, version)), errors
    if command == "verify":
        answer = text(form, "confirmed")
        if answer not in ("yes", "no"):
            errors.append(FieldError("verify-confirmed", "Choose whether the change happened"))
        note = optional(form, "note")
        return (lambda: app.verify(principal, item_id, answer == "yes", note, version)), errors
    if command == "reopen":
        reason = need("reason", "Enter why the item is reopened")
        return (lambda: app.reopen(principal, item_id, reason, version)), errors
    return None, errors


@router.post("/items/{item_id}/{command}", response_class=HTMLResponse)
def item_command(request: Request, item_id: str, command: str, form: FormData) -> Response:
    session = guarded(request, form)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    principal = session.principal
    try:
        item = container.app.get_item(principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    call, errors = command_for(container, principal, item_id, command, form)
    if call is None:
        return refused(request, session, NotFound("There is no such form."))
    back = text(form, "back")
    if not errors:
        try:
            written = call()
        except VersionConflict:
            errors = [FieldError(f"{command}-version", FRIENDLY_CONFLICT)]
        except Forbidden as error:
            return refused(request, session, error)
        except DomainError as error:
            errors = [FieldError(f"{command}-error", error.message)]
        else:
            after_write(container, written)
            label = "Publish" if command == "publish" else ITEM_FORMS[command][1]
            if back == "moderation":
                return RedirectResponse("/staff/moderation?published=1", status_code=303)
            return RedirectResponse(
                f"/staff/items/{quote(item_id, safe='')}?done={quote(label)}", status_code=303
            )
        item = container.app.get_item(principal, item_id)
    if back == "moderation" and command == "publish":
        return moderation_page(request, session, errors, item_id, form, status_code=422)
    status = 409 if any(e.message == FRIENDLY_CONFLICT for e in errors) else 422
    return item_page(
        request,
        session,
        item,
        errors=errors,
        failed_form=command,
        values=form,
        status_code=status,
    )


# -- moderator queue ------------------------------------------------------------------


def moderation_page(
    request: Request,
    session: Session,
    errors: list[FieldError],
    failed_id: str | None,
    values: dict[str, str],
    published: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    docs = _container(request).staff_items.list_items(session.principal, order="newest")
    queue = [doc for doc in docs if not doc["published"]]
    return render(
        request,
        "moderation.html",
        {
            "items": queue,
            "errors": errors,
            "failed_id": failed_id,
            "values": values,
            "published": published,
        },
        session,
        status_code=status_code,
    )


@router.get("/moderation", response_class=HTMLResponse)
def moderation(request: Request, published: int | None = None) -> Response:
    session = guarded_for(request, Action.PUBLISH, "Your role cannot publish items.")
    if not isinstance(session, Session):
        return session
    return moderation_page(request, session, [], None, {}, published=bool(published))
