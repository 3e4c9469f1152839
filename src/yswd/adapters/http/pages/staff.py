"""Staff web pages: server-rendered, usable without JavaScript.

Every page goes through the same application layer as the JSON API, so the
same rules (roles, scopes, transitions) apply. Domain refusals are shown on the
form as an error summary, never as a server error.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from python_multipart.exceptions import MultipartParseError

from yswd import audit
from yswd.adapters.crypto import ERASED
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
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.clip import Consent
from yswd.aggregates.errors import (
    DomainError,
    Forbidden,
    NotFound,
    Unauthenticated,
    VersionConflict,
)
from yswd.aggregates.item import Channel, Item, Status
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.plain_english import check_fields, load_glossary
from yswd.aggregates.response_template import TemplateKind
from yswd.aggregates.users import Role, User
from yswd.application.bulk import BulkActions, BulkRefused
from yswd.application.clips import Clips, ClipTooLarge, UnsupportedClipType
from yswd.application.minutes import MinutesImporter
from yswd.application.service import Written, hash_token
from yswd.application.templates import Templates
from yswd.application.views import item_view
from yswd.bootstrap import Container
from yswd.projections.agenda import DEFAULT_SINCE_DAYS, build_agenda
from yswd.projections.feedback_pack import feedback_pack
from yswd.projections.organisation import unit_tree
from yswd.projections.similarity import similar_items
from yswd.projections.staff_directory import list_forums, list_users

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

#: the texts each form makes public: the "Check wording" button checks these
PUBLIC_FIELDS: dict[str, tuple[str, ...]] = {
    "publish": ("you_said",),
    "respond": ("response",),
    "complete": ("we_did",),
    "decline": ("because", "instead"),
}

#: the forms that may start from a response template: command -> (kind, field it fills)
TEMPLATE_FIELDS: dict[str, tuple[TemplateKind, str]] = {
    "respond": (TemplateKind.RESPONSE, "response"),
    "complete": (TemplateKind.WE_DID, "we_did"),
    "decline": (TemplateKind.BECAUSE, "because"),
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
    found: list[dict[str, Any]] = context.get("wording_warnings") or []
    base["wording_warnings"] = found
    base["warned"] = {
        w["field_id"]: [x for x in found if x["field_id"] == w["field_id"]] for w in found
    }
    # the page's own context never replaces these (who is signed in, the CSRF token)
    response = templates().TemplateResponse(
        request, f"staff/{name}", {**context, **base}, status_code=status_code
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
    session = signed_in(request)
    if not isinstance(session, Session):
        return session
    if request.method == "POST" and not csrf_ok(session, (form or {}).get("csrf_token")):
        return form_expired(request, session)
    return session


def form_expired(request: Request, session: Session) -> HTMLResponse:
    return problem_page(
        request,
        session,
        403,
        "This form has expired",
        "The form was not sent from this service, or your session changed. "
        "Go back, reload the page and try again.",
    )


def signed_in(request: Request) -> Session | Response:
    """The signed-in session whose token still works (no CSRF check), or a redirect."""
    session = current_session(request)
    if session is None:
        return to_sign_in(request)
    if session.token_hash:
        # the token may have been revoked since sign-in (or the user changed)
        try:
            session.principal = _container(request).app.authenticate_hash(session.token_hash)
        except Unauthenticated:
            store_for(request).close(session)
            response = to_sign_in(request)
            clear_cookie(request, response, SESSION_COOKIE, "/")
            return response
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
    _, cookie = store.open(principal, token_hash=hash_token(token))
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
    forums = forums_in_scope(_container(request), session.principal)
    if not forum_id and len(forums) == 1:
        forum_id = forums[0]["id"]
    return render(
        request,
        "meeting.html",
        {
            "forums": forums,
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
        errors.append(FieldError("forum_id", "Choose the forum the meeting was for"))
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
    """Adds the date each item needs an answer by (its due date, or the target from
    raising), how many days late an overdue one is, and the name of its unit."""
    days = timedelta(days=container.app.target_days)
    today = container.today()
    for doc in docs:
        target = (date.fromisoformat(doc["raised_on"]) + days).isoformat()
        doc["answer_due"] = doc.get("due_on") or target
        late = (today - date.fromisoformat(doc["answer_due"])).days
        doc["days_late"] = late if doc.get("overdue") and late > 0 else 0
        unit_id = doc.get("referred_to") or doc["unit_id"]
        try:
            doc["unit_name"] = container.app.unit(unit_id).name
        except DomainError:
            doc["unit_name"] = unit_id
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
    wording: list[dict[str, Any]] | None = None,
    checked: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = _container(request)
    principal = session.principal
    view = past_view or item_view(item)
    forms = [] if past_view else available_forms(principal, item.status)
    try:
        unit_name = container.app.unit(item.unit_id).name
    except DomainError:
        unit_name = item.unit_id
    may_link = not past_view and principal.may(Action.PROGRESS)
    similar: list[dict[str, Any]] = []
    if may_link and item.repeat_of is None and not item.repeats:
        similar = similar_items(
            container.engine, container.staff_items, principal, item, container.today()
        )
        for candidate in similar:
            candidate["words"] = score_words(candidate["score"])
    return render(
        request,
        "item.html",
        {
            "item": view,
            "unit_name": unit_name,
            # referral may go to any unit: the whole tree, in reading order
            "all_units": flat_units(unit_tree(container.engine)) if "refer" in forms else [],
            "forms": forms,
            "form_labels": {command: label for command, (_, label) in ITEM_FORMS.items()},
            "errors": errors or [],
            "failed_form": failed_form,
            "values": values or {},
            "notice": notice,
            "target_on": item.target_on(container.app.target_days).isoformat(),
            "public_fields": PUBLIC_FIELDS,
            "wording_warnings": wording or [],
            "checked": checked,
            "timeline": timeline,
            "as_of": as_of,
            "may_audit": principal.may(Action.AUDIT),
            "similar": similar,
            "may_link": may_link,
            "repeat_titles": repeat_titles(container, principal, item),
            "forums": list_forums(container.engine) if "refer" in forms else [],
            "clips": staff_clips(container, principal, item) if not past_view else [],
            "may_attach": principal.may(Action.ATTACH_CLIPS) and not past_view,
            "may_publish": principal.may(Action.PUBLISH),
            "consent_labels": CONSENT_LABELS,
            "templates_for": templates_for(container, principal, item, forms),
        },
        session,
        status_code=status_code,
    )


def score_words(score: float) -> str:
    """A similarity score (0..1) in words, for people who do not read decimals."""
    if score >= 0.8:
        return "Very close match"
    if score >= 0.5:
        return "Close match"
    if score >= 0.3:
        return "Some words in common"
    return "Weak match"


def repeat_titles(container: Container, principal: Principal, item: Item) -> dict[str, str]:
    """The titles of the items this one is linked with (ids only when out of scope)."""
    titles: dict[str, str] = {}
    linked = [entry["item_id"] for entry in item.repeats]
    if item.repeat_of:
        linked.append(item.repeat_of)
    for item_id in linked:
        # only the title is shown, so no read of personal fields is recorded
        try:
            other = container.app._load_item(item_id)
            shown = container.app.item_in_scope(principal, other)
        except DomainError:
            shown = False
        titles[item_id] = other.title if shown else item_id
    return titles


CONSENT_LABELS = {
    Consent.INTERNAL_ONLY.value: "Staff only",
    Consent.MAY_PUBLISH.value: "May be published",
    Consent.WITHDRAWN.value: "Withdrawn: recording deleted",
}


def staff_clips(container: Container, principal: Principal, item: Item) -> list[dict[str, Any]]:
    """The item's clips as the staff page shows them, with a media link that takes cookies."""
    if container.clips is None:
        return []
    try:
        clips = container.clips.clips_of_item(principal, item.item_id)
    except DomainError:
        return []
    shown = []
    for clip in clips:
        shown.append(
            {
                "id": clip.clip_id,
                "media_type": clip.media_type,
                "is_video": clip.media_type.startswith("video/"),
                "size_kb": max(1, round(clip.size / 1024)),
                "consent": clip.consent.value,
                "has_media": clip.has_media,
                "media_url": f"/staff/clips/{quote(clip.clip_id, safe='')}/media",
                "transcript": clip.transcript,
                "transcript_published": clip.transcript_published,
                "version": clip.version,
                "created_at": clip.created_on.isoformat()[:16].replace("T", " "),
            }
        )
    return shown


def templates_for(
    container: Container, principal: Principal, item: Item, forms: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """For each form that may start from a template, the templates of the item's unit."""
    found: dict[str, list[dict[str, Any]]] = {}
    unit_id = item.referred_to or item.unit_id
    for command, (kind, _) in TEMPLATE_FIELDS.items():
        if command not in forms:
            continue
        try:
            found[command] = Templates(container.app).for_unit(principal, unit_id, kind)
        except DomainError:
            try:  # referred out of the user's scope: their own unit's wording still helps
                found[command] = Templates(container.app).for_unit(principal, item.unit_id, kind)
            except DomainError:
                found[command] = []
    return found


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
    labels = {label for _, label in ITEM_FORMS.values()} | {FORM_DONE["repeat"], "Clip"}
    notice = f"{done} saved." if done in labels else None
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
        to_forum = optional(form, "to_forum_id")
        unit = optional(form, "to_unit_id")
        if unit is None and to_forum is None:
            errors.append(
                FieldError("refer-to_unit_id", "Choose the unit to refer it to, or a forum")
            )
        due_raw = text(form, "due_on")
        due = parse_date(due_raw) if due_raw else None
        if due_raw and due is None:
            errors.append(FieldError("refer-due_on", "Enter the due date, for example 2026-12-01"))
        note = optional(form, "note")
        return (
            lambda: app.refer(principal, item_id, unit, due, note, version, to_forum_id=to_forum)
        ), errors
    if command == "respond":
        response = need("response", "Enter the response")
        return (lambda: app.respond(principal, item_id, response, version)), errors
    if command == "progress":
        note = need("note", "Enter the progress note")
        kind = text(form, "kind") or "progress"
        if kind not in ("progress", "lack_of_progress"):
            errors.append(FieldError("progress-kind", "Choose what kind of note this is"))
        return (lambda: app.note_progress(principal, item_id, note, version, kind)), errors
    if command == "repeat":
        original = need("original_id", "Choose the item this one repeats")
        return (lambda: app.link_repeat(principal, item_id, original, version)), errors
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


# -- diary-room clips on the item page -----------------------------------------------


def clips_of(request: Request, session: Session) -> Clips | Response:
    service = _container(request).clips
    if service is None:
        return refused(request, session, NotFound("Clips are not available in this service."))
    return service


def clip_problem(
    request: Request, session: Session, item_id: str, error: DomainError | str, status: int = 422
) -> Response:
    """The item page again with the clip error at the top, or the refusal page."""
    container = _container(request)
    message = error if isinstance(error, str) else error.message
    if isinstance(error, ClipTooLarge):
        status = 413
    elif isinstance(error, UnsupportedClipType):
        status = 415
    elif isinstance(error, DomainError):
        status = status_for(error)
        if status in (403, 404):
            return refused(request, session, error)
    try:
        item = container.app.get_item(session.principal, item_id)
    except DomainError as refusal:
        return refused(request, session, refusal)
    if status == 409 and isinstance(error, VersionConflict):
        message = FRIENDLY_CONFLICT
    page = item_page(
        request,
        session,
        item,
        errors=[FieldError("clips-error", message)],
        failed_form="clips",
        status_code=status,
    )
    if status == 413:
        page.headers["Connection"] = "close"  # the rest of the upload was not read
    return page


@router.post("/items/{item_id}/clips", response_class=HTMLResponse)
async def upload_clip_page(request: Request, item_id: str) -> Response:
    """The upload form: streamed into the clip store like the API's upload.

    Role and scope are checked before any bytes are read; the CSRF field is
    checked after the body is read and before the clip is saved.
    """
    from yswd.adapters.http.api.clips import ClipForm, _boundary

    session = await run_in_threadpool(signed_in, request)
    if not isinstance(session, Session):
        return session
    service = clips_of(request, session)
    if not isinstance(service, Clips):
        return service
    try:
        await run_in_threadpool(service.item_for_upload, session.principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    boundary = _boundary(request)
    if boundary is None:
        return clip_problem(request, session, item_id, "Choose a recording to upload.", 415)
    upload = await run_in_threadpool(service.begin_upload)
    try:
        form = ClipForm(service, upload, boundary)
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(form.write, chunk)
        form.finish()
        if not csrf_ok(session, form.fields.get("csrf_token")):
            return form_expired(request, session)
        if form.files == 0 or upload.size == 0:
            return clip_problem(request, session, item_id, "Choose a recording to upload.")
        consent = form.fields.get("consent") or Consent.INTERNAL_ONLY.value
        if consent not in (Consent.INTERNAL_ONLY.value, Consent.MAY_PUBLISH.value):
            return clip_problem(request, session, item_id, "Choose what the speaker agreed to.")
        written = await run_in_threadpool(
            service.attach, session.principal, item_id, upload, Consent(consent)
        )
    except MultipartParseError:
        return clip_problem(request, session, item_id, "The upload could not be read.")
    except DomainError as error:
        return clip_problem(request, session, item_id, error)
    finally:
        upload.discard()  # a no-op once the clip was committed
    await run_in_threadpool(after_write, _container(request), written)
    return RedirectResponse(
        f"/staff/items/{quote(item_id, safe='')}?done=Clip#clips-heading", status_code=303
    )


def clip_for_form(
    request: Request, clip_id: str, form: dict[str, str]
) -> tuple[Session, Clips, Any] | Response:
    """Session (CSRF checked), service and clip of a clip form; else the page to show."""
    session = guarded(request, form)
    if not isinstance(session, Session):
        return session
    service = clips_of(request, session)
    if not isinstance(service, Clips):
        return service
    try:
        clip = service.clip(session.principal, clip_id)
    except DomainError as error:
        return refused(request, session, error)
    return session, service, clip


def form_version(form: dict[str, str]) -> int | None:
    raw = text(form, "version")
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


def clip_written(
    request: Request, session: Session, item_id: str, change: Callable[[], Written[Any]]
) -> Response:
    try:
        written = change()
    except DomainError as error:
        return clip_problem(request, session, item_id, error)
    after_write(_container(request), written)
    return RedirectResponse(
        f"/staff/items/{quote(item_id, safe='')}?done=Clip#clips-heading", status_code=303
    )


@router.post("/clips/{clip_id}/consent", response_class=HTMLResponse)
def clip_consent_page(request: Request, clip_id: str, form: FormData) -> Response:
    found = clip_for_form(request, clip_id, form)
    if not isinstance(found, tuple):
        return found
    session, service, clip = found
    if not session.principal.may(Action.ATTACH_CLIPS):
        return refused(request, session, Forbidden("Your role cannot change consent."))
    level = text(form, "consent")
    if level not in {c.value for c in Consent}:
        return clip_problem(request, session, clip.item_id, "Choose the consent from the list.")
    if level == Consent.WITHDRAWN.value and text(form, "confirm") != "yes":
        return clip_problem(
            request,
            session,
            clip.item_id,
            "Tick the box to confirm: withdrawing deletes the recording for good.",
        )
    version = form_version(form)
    return clip_written(
        request,
        session,
        clip.item_id,
        lambda: service.record_consent(session.principal, clip_id, Consent(level), version),
    )


@router.post("/clips/{clip_id}/transcript", response_class=HTMLResponse)
def clip_transcript_page(request: Request, clip_id: str, form: FormData) -> Response:
    found = clip_for_form(request, clip_id, form)
    if not isinstance(found, tuple):
        return found
    session, service, clip = found
    principal = session.principal
    version = form_version(form)
    if text(form, "intent") == "publish":
        return clip_written(
            request,
            session,
            clip.item_id,
            lambda: service.publish_transcript(principal, clip_id, version),
        )
    transcript = text(form, "transcript")
    if not transcript:
        return clip_problem(request, session, clip.item_id, "Enter the transcript.")
    publish = text(form, "publish") == "yes"
    return clip_written(
        request,
        session,
        clip.item_id,
        lambda: service.add_transcript(principal, clip_id, transcript, publish, version),
    )


@router.get("/clips/{clip_id}/media")
def clip_media_page(request: Request, clip_id: str) -> Response:
    """Plays a clip for the signed-in staff member (the API route takes a Bearer token)."""
    from yswd.adapters.http.api.clips import _media_response

    session = guarded(request)
    if not isinstance(session, Session):
        return session
    service = clips_of(request, session)
    if not isinstance(service, Clips):
        return service
    try:
        clip, size = service.media(session.principal, clip_id)
    except DomainError as error:
        return refused(request, session, error)
    return _media_response(service, clip, size, request)


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
    back = text(form, "back")
    if text(form, "intent") == "check" and command in PUBLIC_FIELDS:
        needed = Action.PUBLISH if command == "publish" else ITEM_FORMS[command][0]
        if not principal.may(needed):
            return refused(
                request, session, Forbidden(f"A {principal.role.value} may not {needed.value}.")
            )
        return wording_checked(request, session, item, command, form, back)
    if text(form, "intent") == "template" and command in TEMPLATE_FIELDS:
        return template_filled(request, session, item, command, form)
    call, errors = command_for(container, principal, item_id, command, form)
    if call is None:
        return refused(request, session, NotFound("There is no such form."))
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
            label = FORM_DONE.get(command) or ITEM_FORMS[command][1]
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


#: what the notice says after the forms that are not in ITEM_FORMS
FORM_DONE = {"publish": "Publish", "repeat": "Repeat link"}


def template_filled(
    request: Request, session: Session, item: Item, command: str, form: dict[str, str]
) -> HTMLResponse:
    """The form again with the chosen template's text in its box. Nothing is saved."""
    container = _container(request)
    principal = session.principal
    action = ITEM_FORMS[command][0]
    if not principal.may(action):
        return refused(
            request, session, Forbidden(f"A {principal.role.value} may not {action.value}.")
        )
    field = TEMPLATE_FIELDS[command][1]
    chosen = text(form, "template_id")
    offered = templates_for(container, principal, item, [command]).get(command, [])
    match = next((entry for entry in offered if entry["id"] == chosen), None)
    values = dict(form)
    if match is None:
        error = FieldError(f"{command}-template_id", "Choose a template from the list")
        return item_page(
            request,
            session,
            item,
            errors=[error],
            failed_form=command,
            values=values,
            status_code=422,
        )
    values[field] = match["text"]
    return item_page(
        request,
        session,
        item,
        failed_form=command,
        values=values,
        notice=f"Template \u201c{match['title']}\u201d copied in. "
        "Check and change it, then send the form: nothing is saved yet.",
    )


def wording_checked(
    request: Request,
    session: Session,
    item: Item,
    command: str,
    form: dict[str, str],
    back: str,
) -> HTMLResponse:
    """The form again, with what was typed and the plain-English warnings about it.

    Nothing is saved. The warnings are advice: the person still decides.
    """
    container = _container(request)
    on_queue = command == "publish" and back == "moderation"

    def field_id(name: str) -> str:
        return f"you_said-{item.item_id}" if on_queue else f"{command}-{name}"

    texts = {name: text(form, name) for name in PUBLIC_FIELDS[command]}
    errors: list[FieldError] = []
    found: list[dict[str, Any]] = []
    if not any(texts.values()):
        first = PUBLIC_FIELDS[command][0]
        errors.append(FieldError(f"{command}-{first}", "Enter the text you want to check"))
    else:
        contributor = item.contributor if item.contributor != ERASED else None
        warnings = check_fields(
            texts,
            contributor=contributor,
            glossary=load_glossary(container.settings.glossary_file),
            today=container.today(),
        )
        found = [{**w.as_dict(), "field_id": field_id(w.field)} for w in warnings]
    status_code = 422 if errors else 200
    if on_queue:
        return moderation_page(
            request,
            session,
            errors,
            item.item_id,
            form,
            wording=found,
            checked=item.item_id,
            status_code=status_code,
        )
    return item_page(
        request,
        session,
        item,
        errors=errors,
        failed_form=command,
        values=form,
        wording=found,
        checked=command,
        status_code=status_code,
    )


# -- moderator queue ------------------------------------------------------------------


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
    docs = _container(request).staff_items.list_items(session.principal, order="newest")
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
def moderation(request: Request, published: int | None = None) -> Response:
    session = guarded_for(request, Action.PUBLISH, "Your role cannot publish items.")
    if not isinstance(session, Session):
        return session
    return moderation_page(request, session, [], None, {}, published=published or 0)


# -- admin: units, forums, users and tokens ------------------------------------------

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SLUG_RULE = "Use 1 to 64 lower-case letters, digits and hyphens, starting with a letter or digit"

KIND_LABELS = {
    ForumKind.COMMUNITY_MEETING: "Community meeting",
    ForumKind.DEVELOPMENT_BOARD: "Development board",
    ForumKind.PARTNERSHIP_BOARD: "Partnership board",
    ForumKind.SERVICE_USER_COUNCIL: "Service user council",
    ForumKind.RECOVERY_OUTCOMES_GROUP: "Recovery outcomes group",
    ForumKind.OTHER: "Other",
}

ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.SECRETARY: "Forum secretary",
    Role.MANAGER: "Manager",
    Role.MODERATOR: "Moderator",
    Role.AUDITOR: "Auditor",
}

ROLE_HINTS = {
    Role.ADMIN: "adds units, forums and people, and can do everything below",
    Role.SECRETARY: "logs meetings, adds progress, checks changes happened",
    Role.MANAGER: "refers, answers, completes or declines items",
    Role.MODERATOR: "checks wording and publishes items",
    Role.AUDITOR: "reads everything, including histories; changes nothing",
}


def visible_tree(container: Container, principal: Principal) -> list[dict[str, Any]]:
    """The unit tree as a user may see it: each unit they cover, with all below it."""

    def walk(nodes: list[dict[str, Any]], above: tuple[str, ...]) -> list[dict[str, Any]]:
        shown: list[dict[str, Any]] = []
        for node in nodes:
            path = (*above, node["id"])
            if principal.covers(path):
                shown.append(node)
            else:
                shown.extend(walk(node["children"], path))
        return shown

    return walk(unit_tree(container.engine), ())


def flat_units(nodes: list[dict[str, Any]], above: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The tree in reading order, each unit with its depth and a label naming its path."""
    flat: list[dict[str, Any]] = []
    for node in nodes:
        names = (*above, node["name"])
        flat.append(
            {
                "id": node["id"],
                "name": node["name"],
                "depth": len(above),
                "label": " / ".join(names),
            }
        )
        flat.extend(flat_units(node["children"], names))
    return flat


def forums_in_scope(container: Container, principal: Principal) -> list[dict[str, Any]]:
    """The forums of the units a user covers (units the read model knows), by name."""
    shown = []
    for forum in list_forums(container.engine):
        try:
            if principal.covers(container.app.unit(forum["unit_id"]).path):
                shown.append(forum)
        except DomainError:
            continue
    return shown


def check_slug(errors: list[FieldError], field: str, value: str, what: str) -> None:
    if not value:
        errors.append(FieldError(field, f"Enter the {what} id"))
    elif not SLUG.match(value):
        errors.append(FieldError(field, f"The {what} id is not right. {SLUG_RULE}"))


def check_name(errors: list[FieldError], field: str, value: str, what: str) -> None:
    if not value:
        errors.append(FieldError(field, f"Enter the {what}"))
    elif len(value) > 200:
        errors.append(FieldError(field, f"The {what} must be 200 characters or fewer"))
    elif CONTROL.search(value):
        errors.append(FieldError(field, f"The {what} must not contain control characters"))


def admin_guard(
    request: Request, action: Action, form: dict[str, str] | None = None
) -> Session | Response:
    """The signed-in session of a user who may do ``action`` (CSRF checked on a POST)."""
    session = guarded(request, form)
    if isinstance(session, Session) and not session.principal.may(action):
        return refused(request, session, Forbidden("Only an administrator can use this page."))
    return session


def units_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str],
    errors: list[FieldError],
    added: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = _container(request)
    tree = visible_tree(container, session.principal)
    return render(
        request,
        "admin_units.html",
        {
            "tree": tree,
            "units": flat_units(tree),
            "may_add_top": session.principal.covers_everything,
            "values": values,
            "errors": errors,
            "added": added,
        },
        session,
        status_code=status_code,
    )


@router.get("/admin/units", response_class=HTMLResponse)
def admin_units(request: Request, parent: str | None = None, added: str | None = None) -> Response:
    session = admin_guard(request, Action.MANAGE_ORGANISATION)
    if not isinstance(session, Session):
        return session
    added_name = name_of(_container(request).app.unit, added)
    return units_page(
        request, session, values={"parent_id": parent or ""}, errors=[], added=added_name
    )


@router.post("/admin/units", response_class=HTMLResponse)
def add_unit(request: Request, form: FormData) -> Response:
    session = admin_guard(request, Action.MANAGE_ORGANISATION, form)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    unit_id, name, parent_id = text(form, "unit_id"), text(form, "name"), text(form, "parent_id")
    errors: list[FieldError] = []
    check_name(errors, "name", name, "unit name")
    check_slug(errors, "unit_id", unit_id, "unit")
    if not errors:
        try:
            written = container.app.create_unit(session.principal, unit_id, name, parent_id or None)
        except DomainError as error:
            field = "unit_id" if status_for(error) == 409 else "parent_id"
            errors.append(FieldError(field, error.message))
        else:
            after_write(container, written)
            return RedirectResponse(f"/staff/admin/units?added={quote(unit_id)}", status_code=303)
    return units_page(request, session, values=form, errors=errors, status_code=422)


def name_of(lookup: Callable[[str], Any], added: str | None) -> str | None:
    """The name of what was just added (for the "X added." notice), if it exists."""
    if not added:
        return None
    try:
        return str(lookup(added).name)
    except DomainError:
        return None


def forums_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str],
    errors: list[FieldError],
    added: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = _container(request)
    units = flat_units(visible_tree(container, session.principal))
    forums = forums_in_scope(container, session.principal)
    by_unit = [
        {**unit, "forums": [f for f in forums if f["unit_id"] == unit["id"]]} for unit in units
    ]
    return render(
        request,
        "admin_forums.html",
        {
            "groups": [group for group in by_unit if group["forums"]],
            "forum_count": len(forums),
            "units": units,
            "kinds": [(kind.value, label) for kind, label in KIND_LABELS.items()],
            "kind_label": lambda value: KIND_LABELS.get(ForumKind(value), value),
            "values": values,
            "errors": errors,
            "added": added,
        },
        session,
        status_code=status_code,
    )


@router.get("/admin/forums", response_class=HTMLResponse)
def admin_forums(request: Request, unit: str | None = None, added: str | None = None) -> Response:
    session = admin_guard(request, Action.MANAGE_ORGANISATION)
    if not isinstance(session, Session):
        return session
    values = {"unit_id": unit or "", "kind": ForumKind.COMMUNITY_MEETING.value}
    added_name = name_of(_container(request).app.forum, added)
    return forums_page(request, session, values=values, errors=[], added=added_name)


@router.post("/admin/forums", response_class=HTMLResponse)
def add_forum(request: Request, form: FormData) -> Response:
    session = admin_guard(request, Action.MANAGE_ORGANISATION, form)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    forum_id, name, unit_id = text(form, "forum_id"), text(form, "name"), text(form, "unit_id")
    errors: list[FieldError] = []
    check_name(errors, "name", name, "forum name")
    check_slug(errors, "forum_id", forum_id, "forum")
    if not unit_id:
        errors.append(FieldError("unit_id", "Choose the unit the forum belongs to"))
    kind = text(form, "kind")
    if kind not in {k.value for k in ForumKind}:
        errors.append(FieldError("kind", "Choose the kind of forum from the list"))
    if not errors:
        try:
            written = container.app.create_forum(
                session.principal, forum_id, name, unit_id, ForumKind(kind)
            )
        except DomainError as error:
            field = "forum_id" if status_for(error) == 409 else "unit_id"
            errors.append(FieldError(field, error.message))
        else:
            after_write(container, written)
            return RedirectResponse(f"/staff/admin/forums?added={quote(forum_id)}", status_code=303)
    return forums_page(request, session, values=form, errors=errors, status_code=422)


def users_in_scope(container: Container, principal: Principal) -> list[dict[str, Any]]:
    """The users an admin may manage: every unit they work in is in the admin's scope."""
    shown = []
    for row in list_users(container.engine):
        try:
            if row["scopes"]:
                covered = all(
                    principal.covers(container.app.unit(unit_id).path) for unit_id in row["scopes"]
                )
            else:
                covered = principal.covers_everything
        except DomainError:
            covered = False
        if covered:
            shown.append(row)
    return shown


def users_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str],
    chosen: list[str],
    errors: list[FieldError],
    status_code: int = 200,
) -> HTMLResponse:
    container = _container(request)
    units = flat_units(visible_tree(container, session.principal))
    names = {unit["id"]: unit["name"] for unit in units}
    return render(
        request,
        "admin_users.html",
        {
            "users": users_in_scope(container, session.principal),
            "units": units,
            "unit_name": lambda unit_id: names.get(unit_id, unit_id),
            "roles": [(role.value, label, ROLE_HINTS[role]) for role, label in ROLE_LABELS.items()],
            "role_name": lambda value: ROLE_LABELS.get(Role(value), value),
            "values": values,
            "chosen": chosen,
            "errors": errors,
        },
        session,
        status_code=status_code,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(request: Request) -> Response:
    session = admin_guard(request, Action.MANAGE_USERS)
    if not isinstance(session, Session):
        return session
    return users_page(request, session, values={}, chosen=[], errors=[])


def token_page(
    request: Request, session: Session, user: User, token: str, first: bool
) -> HTMLResponse:
    """The only page that ever shows a token. Not cached (``render`` sends no-store)."""
    return render(
        request,
        "admin_token.html",
        {
            "user": user,
            "token": token,
            "first": first,
            "user_role": ROLE_LABELS[user.role],
        },
        session,
    )


async def form_scopes(request: Request) -> list[str]:
    """Every ticked ``scopes`` box of the posted form (a field that repeats)."""
    if request.method != "POST":
        return []
    form = await request.form()  # parsed once per request; FormData gets the same
    return [value.strip() for value in form.getlist("scopes") if isinstance(value, str)]


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request, form: FormData, scopes: Annotated[list[str], Depends(form_scopes)]
) -> Response:
    session = admin_guard(request, Action.MANAGE_USERS, form)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    name, role = text(form, "name"), text(form, "role")
    errors: list[FieldError] = []
    check_name(errors, "name", name, "person's name")
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", "Choose what the person does"))
    if any(not SLUG.match(unit_id) for unit_id in scopes) or len(scopes) > 100:
        errors.append(FieldError("scopes", "Choose the units from the list"))
    elif not scopes and role and role not in (Role.ADMIN.value, Role.AUDITOR.value):
        errors.append(
            FieldError("scopes", "Choose at least one unit: this role only works in its units")
        )
    if not errors:
        try:
            written = container.app.create_user(session.principal, name, Role(role), scopes)
        except DomainError as error:
            errors.append(FieldError("scopes", error.message))
        else:
            after_write(container, written)
            made = written.value
            assert made.token is not None  # a new user always has one; only replays do not
            return token_page(request, session, made.user, made.token, first=True)
    return users_page(request, session, values=form, chosen=scopes, errors=errors, status_code=422)


def user_page(
    request: Request,
    session: Session,
    user: User,
    *,
    notice: str | None = None,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = _container(request)
    names = []
    for unit_id in user.scopes:
        try:
            names.append(f"{container.app.unit(unit_id).name} ({unit_id})")
        except DomainError:
            names.append(unit_id)
    return render(
        request,
        "admin_user.html",
        {
            "user": user,
            "user_role": ROLE_LABELS[user.role],
            "unit_names": names,
            "working": len(user.active_token_hashes),
            "issued": len(user.token_hashes),
            "is_me": user.user_id == session.principal.user_id,
            "notice": notice,
            "errors": errors or [],
        },
        session,
        status_code=status_code,
    )


def managed_user(request: Request, session: Session, user_id: str) -> User | Response:
    """The user, if it exists and is in the admin's scope; else the page to show."""
    app = _container(request).app
    try:
        user = app.user(user_id)
        if not app.user_in_scope(session.principal, user):
            raise Forbidden(f"User '{user_id}' is outside your scope.")
    except DomainError as error:
        return refused(request, session, error)
    return user


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def admin_user(request: Request, user_id: str, revoked: int | None = None) -> Response:
    session = admin_guard(request, Action.MANAGE_USERS)
    if not isinstance(session, Session):
        return session
    user = managed_user(request, session, user_id)
    if not isinstance(user, User):
        return user
    notice = None
    if revoked is not None:
        notice = (
            f"{revoked} token{'s' if revoked != 1 else ''} revoked. "
            f"{user.name} cannot sign in until you give them a new token."
        )
    return user_page(request, session, user, notice=notice)


@router.post("/admin/users/{user_id}/tokens", response_class=HTMLResponse)
def admin_issue_token(request: Request, user_id: str, form: FormData) -> Response:
    session = admin_guard(request, Action.MANAGE_USERS, form)
    if not isinstance(session, Session):
        return session
    user = managed_user(request, session, user_id)
    if not isinstance(user, User):
        return user
    container = _container(request)
    try:
        written = container.app.issue_token(session.principal, user_id)
    except DomainError as error:
        return refused(request, session, error)
    after_write(container, written)
    return token_page(request, session, container.app.user(user_id), written.value, first=False)


@router.post("/admin/users/{user_id}/revoke", response_class=HTMLResponse)
def admin_revoke_tokens(request: Request, user_id: str, form: FormData) -> Response:
    session = admin_guard(request, Action.MANAGE_USERS, form)
    if not isinstance(session, Session):
        return session
    user = managed_user(request, session, user_id)
    if not isinstance(user, User):
        return user
    container = _container(request)
    if text(form, "confirm") != "yes":
        error = FieldError("confirm", "Tick the box to confirm you want to revoke every token")
        return user_page(request, session, user, errors=[error], status_code=422)
    try:
        written = container.app.revoke_tokens(session.principal, user_id)
    except DomainError as error:
        return user_page(
            request,
            session,
            user,
            errors=[FieldError("confirm", error.message)],
            status_code=status_for(error),
        )
    after_write(container, written)
    return RedirectResponse(
        f"/staff/admin/users/{quote(user_id, safe='')}?revoked={written.value}", status_code=303
    )


# -- response templates (managers and admins) -------------------------------------------

TEMPLATE_KIND_LABELS = {
    TemplateKind.RESPONSE: "Response",
    TemplateKind.WE_DID: "We did",
    TemplateKind.BECAUSE: "Because (could not do)",
}


def templates_page(
    request: Request,
    session: Session,
    *,
    unit_id: str,
    values: dict[str, str],
    errors: list[FieldError],
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = _container(request)
    units = flat_units(visible_tree(container, session.principal))
    if not unit_id and len(units) == 1:
        unit_id = units[0]["id"]
    found: list[dict[str, Any]] = []
    unit_name = None
    if unit_id:
        try:
            found = Templates(container.app).for_unit(
                session.principal, unit_id, include_archived=True
            )
            unit_name = container.app.unit(unit_id).name
        except DomainError as error:
            errors = [*errors, FieldError("unit", error.message)]
            unit_id = ""
    return render(
        request,
        "templates.html",
        {
            "units": units,
            "unit_id": unit_id,
            "unit_name": unit_name,
            "templates": found,
            "kinds": [(kind.value, label) for kind, label in TEMPLATE_KIND_LABELS.items()],
            "kind_label": lambda value: TEMPLATE_KIND_LABELS.get(TemplateKind(value), value),
            "values": values,
            "errors": errors,
            "notice": notice,
        },
        session,
        status_code=status_code,
    )


def templates_guard(request: Request, form: dict[str, str] | None = None) -> Session | Response:
    session = guarded(request, form)
    if isinstance(session, Session) and not session.principal.may(Action.MANAGE_TEMPLATES):
        return refused(
            request, session, Forbidden("Only managers and administrators manage templates.")
        )
    return session


@router.get("/templates", response_class=HTMLResponse)
def templates_list(request: Request, unit: str | None = None, done: str | None = None) -> Response:
    session = templates_guard(request)
    if not isinstance(session, Session):
        return session
    notice = {"added": "Template added.", "archived": "Template archived."}.get(done or "")
    return templates_page(
        request, session, unit_id=unit or "", values={"kind": "response"}, errors=[], notice=notice
    )


@router.post("/templates", response_class=HTMLResponse)
def add_template_page(request: Request, form: FormData) -> Response:
    session = templates_guard(request, form)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    unit_id = text(form, "unit_id")
    template_id, title, body = text(form, "template_id"), text(form, "title"), text(form, "text")
    kind = text(form, "kind")
    errors: list[FieldError] = []
    check_slug(errors, "template_id", template_id, "template")
    check_name(errors, "title", title, "title")
    if not body:
        errors.append(FieldError("text", "Enter the template's wording"))
    elif len(body) > 4000:
        errors.append(FieldError("text", "The wording must be 4000 characters or fewer"))
    if kind not in {k.value for k in TemplateKind}:
        errors.append(FieldError("kind", "Choose which form the template is for"))
    if not unit_id:
        errors.append(FieldError("unit_id", "Choose the unit"))
    if not errors:
        try:
            written = Templates(container.app).add(
                session.principal,
                unit_id,
                template_id,
                title=title,
                text=body,
                kind=TemplateKind(kind),
            )
        except Forbidden as error:
            return refused(request, session, error)
        except DomainError as error:
            field = "template_id" if status_for(error) == 409 else "unit_id"
            errors.append(FieldError(field, error.message))
        else:
            after_write(container, written)
            return RedirectResponse(
                f"/staff/templates?unit={quote(unit_id, safe='')}&done=added", status_code=303
            )
    return templates_page(
        request, session, unit_id=unit_id, values=form, errors=errors, status_code=422
    )


@router.post("/templates/{unit_id}/{template_id}/archive", response_class=HTMLResponse)
def archive_template_page(
    request: Request, unit_id: str, template_id: str, form: FormData
) -> Response:
    session = templates_guard(request, form)
    if not isinstance(session, Session):
        return session
    container = _container(request)
    try:
        written = Templates(container.app).archive(session.principal, unit_id, template_id)
    except Forbidden as error:
        return refused(request, session, error)
    except DomainError as error:
        if status_for(error) == 404:
            return refused(request, session, error)
        return templates_page(
            request,
            session,
            unit_id=unit_id,
            values={},
            errors=[FieldError("archive", error.message)],
            status_code=status_for(error),
        )
    after_write(container, written)
    return RedirectResponse(
        f"/staff/templates?unit={quote(unit_id, safe='')}&done=archived", status_code=303
    )


# -- a forum's agenda and the minutes import (secretaries) ------------------------------


def forum_in_scope(request: Request, session: Session, forum_id: str) -> Any:
    """The forum, if the user may read items and covers its unit; else the page to show."""
    container = _container(request)
    try:
        session.principal.require(Action.READ_ITEMS)
        forum = container.app.forum(forum_id)
        if not session.principal.covers(container.app.unit(forum.unit_id).path):
            raise Forbidden(f"Forum '{forum_id}' is outside your scope.")
    except DomainError as error:
        return refused(request, session, error)
    return forum


@router.get("/forums/{forum_id}/agenda", response_class=HTMLResponse)
def forum_agenda_page(request: Request, forum_id: str, since: str | None = None) -> Response:
    """The printable agenda, for the signed-in user (the API's takes a Bearer token)."""
    session = guarded(request)
    if not isinstance(session, Session):
        return session
    forum = forum_in_scope(request, session, forum_id)
    if isinstance(forum, Response):
        return forum
    container = _container(request)
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
    from yswd.adapters.http.api.forums import _names

    body = {
        "forum": {"id": forum_id, "name": forum.name, "kind": forum.kind.value},
        "as_of": today.isoformat(),
        "since": since_date.isoformat(),
        **sections,
        "names": _names(container, sections),
    }
    response = templates().TemplateResponse(request, "agenda/agenda.html", body)
    response.headers["Cache-Control"] = "no-store"
    return response


MINUTES_FORMATS = {"csv": "CSV (a header row, then one item a row)", "markdown": "Markdown list"}


def minutes_page(
    request: Request,
    session: Session,
    forum: Any,
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


def minutes_guard(
    request: Request, forum_id: str, form: dict[str, str] | None = None
) -> tuple[Session, Any] | Response:
    session = guarded(request, form)
    if not isinstance(session, Session):
        return session
    if not session.principal.may(Action.RAISE):
        return refused(request, session, Forbidden("Your role cannot import minutes."))
    forum = forum_in_scope(request, session, forum_id)
    if isinstance(forum, Response):
        return forum
    return session, forum


@router.get("/forums/{forum_id}/minutes", response_class=HTMLResponse)
def minutes_form(request: Request, forum_id: str) -> Response:
    found = minutes_guard(request, forum_id)
    if not isinstance(found, tuple):
        return found
    session, forum = found
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
        return "\x00not utf-8"


#: the largest minutes text the form accepts (the body limit applies too)
MINUTES_MAX = 60_000


@router.post("/forums/{forum_id}/minutes", response_class=HTMLResponse)
def import_minutes_page(
    request: Request,
    forum_id: str,
    form: FormData,
    uploaded: Annotated[str | None, Depends(minutes_upload)],
) -> Response:
    found = minutes_guard(request, forum_id, form)
    if not isinstance(found, tuple):
        return found
    session, forum = found
    fmt = text(form, "format")
    minutes = uploaded if uploaded is not None else form.get("minutes", "")
    values = {"format": fmt, "minutes": minutes if uploaded is None else ""}
    errors: list[FieldError] = []
    if fmt not in MINUTES_FORMATS:
        errors.append(FieldError("format", "Choose the format of the minutes"))
    if minutes == "\x00not utf-8":
        errors.append(FieldError("file", "The file must be UTF-8 text (save it as CSV UTF-8)"))
    elif not minutes.strip():
        errors.append(FieldError("minutes", "Paste the minutes, or choose a file"))
    elif len(minutes) > MINUTES_MAX:
        errors.append(
            FieldError("minutes", f"The minutes must be {MINUTES_MAX} characters or fewer")
        )
    if errors:
        return minutes_page(request, session, forum, values=values, errors=errors, status_code=422)
    if uploaded is not None:
        values["minutes"] = minutes  # keep the file's text, so "Save all" sends the same
    container = _container(request)
    dry_run = text(form, "intent") != "save"
    try:
        answer = MinutesImporter(container.app).run(
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


# -- bulk publish from the moderation queue ----------------------------------------------


async def form_item_ids(request: Request) -> list[str]:
    """Every ticked ``item_ids`` box of the posted form."""
    if request.method != "POST":
        return []
    form = await request.form()
    return [value.strip() for value in form.getlist("item_ids") if isinstance(value, str)]


@router.post("/moderation/publish", response_class=HTMLResponse)
def bulk_publish_page(
    request: Request,
    form: FormData,
    item_ids: Annotated[list[str], Depends(form_item_ids)],
) -> Response:
    session = guarded(request, form)
    if not isinstance(session, Session):
        return session
    if not session.principal.may(Action.PUBLISH):
        return refused(request, session, Forbidden("Your role cannot publish items."))
    container = _container(request)
    if not item_ids:
        error = FieldError("bulk", "Tick at least one item to publish")
        return moderation_page(request, session, [error], None, {}, status_code=422)
    try:
        outcome = BulkActions(container.app).publish(session.principal, item_ids)
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
