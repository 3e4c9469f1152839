"""What every staff page shares: the session guard, rendering, and reading forms.

Every page goes through the same application layer as the JSON API, so the
same rules (roles, scopes, transitions) apply. Domain refusals are shown on the
form as an error summary, or as a problem page, never as a server error.

The guard is a dependency (:data:`StaffSession`, :func:`allowed`). Where a page
cannot be shown (nobody signed in, an expired form, a role that may not use it),
it raises :class:`ShowInstead` with the response to send; the app's handler,
:func:`show_instead`, sends it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.labels import channel_label, staff_status_label
from yswd.adapters.http.pages.item_history import Names
from yswd.adapters.http.sessions import (
    SESSION_COOKIE,
    Session,
    clear_cookie,
    csrf_ok,
    current_session,
    store_for,
)
from yswd.adapters.http.templating import templates
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError, Forbidden, Unauthenticated
from yswd.aggregates.text_rules import refused_characters
from yswd.application.unit_of_work import Written

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SLUG_RULE = "Use 1 to 64 lower-case letters, digits and hyphens, starting with a letter or digit"


@dataclass
class FieldError:
    field: str
    message: str


class ShowInstead(Exception):
    """The page cannot be shown: ``response`` (a redirect or a problem page) is sent."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def show_instead(_: Request, error: Exception) -> Response:
    """The app's exception handler for :class:`ShowInstead`."""
    assert isinstance(error, ShowInstead)
    return error.response


def container_of(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


# -- reading forms -------------------------------------------------------------------


async def form_data(request: Request) -> dict[str, str]:
    """The posted form as plain strings (files are ignored)."""
    if request.method != "POST":
        return {}
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    for value in fields.values():  # as the API refuses them (422), changing nothing
        refused = refused_characters(value)
        if refused is not None:
            raise ShowInstead(
                problem_page(
                    request,
                    None,
                    422,
                    "Some of the text cannot be accepted",
                    f"The form's text must not contain {refused}. Nothing was changed. "
                    "Go back, remove them and send it again.",
                )
            )
    return fields


FormData = Annotated[dict[str, str], Depends(form_data)]


def text(form: dict[str, str], key: str) -> str:
    return form.get(key, "").strip()


def optional(form: dict[str, str], key: str) -> str | None:
    return text(form, key) or None


#: "31/1/2026", "31 1 2026", "31-01-2026": day, month, year as people in the UK type them
UK_DATE = re.compile(r"^\s*(\d{1,2})[\s/.-]+(\d{1,2})[\s/.-]+(\d{4})\s*$")


def parse_date(raw: str) -> date | None:
    """An ISO date (2026-12-01), or day, month and year in that order (1/12/2026)."""
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        pass
    found = UK_DATE.match(raw)
    if found is None:
        return None
    day, month, year = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def date_text(form: dict[str, str], key: str) -> str:
    """The date a form sent for ``key``, as text for :func:`parse_date`.

    The NHS.UK date input posts ``key-day``, ``key-month`` and ``key-year``; API-like
    posts and older forms send ``key`` as one ISO date, which still works. Empty
    boxes give "", so an optional date stays optional.
    """
    parts = [text(form, f"{key}-{part}") for part in ("day", "month", "year")]
    if any(parts):
        return " ".join(part or "?" for part in parts)
    return text(form, key)


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


# -- rendering -----------------------------------------------------------------------


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
        "status_label": staff_status_label,
        "channel_label": channel_label,
        "name_of_unit": Names(container_of(request)).unit,
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


def form_expired(request: Request, session: Session) -> HTMLResponse:
    return problem_page(
        request,
        session,
        403,
        "This form has expired",
        "The form was not sent from this service, or your session changed. "
        "Go back, reload the page and try again.",
    )


def after_write(container: Container, written: Written[Any]) -> None:
    container.after_write(written.position)


# -- the session guard -----------------------------------------------------------------


def to_sign_in(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    if request.method != "GET":
        target = "/staff"
    return RedirectResponse(f"/staff/sign-in?next={quote(target, safe='')}", status_code=303)


def signed_in(request: Request) -> Session:
    """The signed-in session whose token still works, with no CSRF check.

    Not signed in, idle or open too long, the user's tokens revoked since, or their
    role changed: a redirect to sign-in (and the session ends everywhere).
    """
    session = current_session(request)  # None too when idle or open too long
    if session is None:
        raise ShowInstead(to_sign_in(request))
    try:
        session.principal = container_of(request).app.session_principal(
            session.principal, session.token_hash, session.created_at
        )
    except Unauthenticated:
        store_for(request).close(session)  # revoked, role changed: ended for every replica
        response = to_sign_in(request)
        clear_cookie(request, response, SESSION_COOKIE, "/")
        raise ShowInstead(response) from None
    return session


def require_session(request: Request, form: FormData) -> Session:
    """The signed-in session; a POST without the session's CSRF token is refused (403)
    and changes nothing."""
    session = signed_in(request)
    if request.method == "POST" and not csrf_ok(session, form.get("csrf_token")):
        raise ShowInstead(form_expired(request, session))
    return session


#: every staff page's session (a plain ``def``: checking the token may read the store)
StaffSession = Annotated[Session, Depends(require_session)]
#: the session without the CSRF check, for the streamed upload: it checks the form's
#: token itself once the body is read, and the body must not be read before
SignedIn = Annotated[Session, Depends(signed_in)]


def allowed(action: Action, refusal: str) -> Callable[[Request, Session], Awaitable[Session]]:
    """A dependency: the staff session, if its role may do ``action``; else the
    refusal page, saying ``refusal``."""

    async def may(request: Request, session: StaffSession) -> Session:
        if not session.principal.may(action):
            raise ShowInstead(refused(request, session, Forbidden(refusal)))
        return session

    return may
