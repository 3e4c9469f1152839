"""Signing in and out with an access token, and the home page after signing in.

The sign-in form has a CSRF token of its own, signed over a nonce kept in a
cookie, since there is no session yet.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    StaffSession,
    problem_page,
    render,
    text,
)
from yswd.adapters.http.sessions import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    clear_cookie,
    current_session,
    set_cookie,
    store_for,
)
from yswd.aggregates.errors import DomainError
from yswd.application.users import hash_token

router = APIRouter(prefix="/staff", include_in_schema=False)


def safe_next(raw: str | None) -> str:
    """Only local staff pages are allowed as a place to go after sign-in."""
    if raw and raw.startswith("/staff") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/staff"


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
def sign_in(request: Request, form: FormData, container: ContainerDep) -> Response:
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
        principal = container.app.authenticate(token)
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
def sign_out(request: Request, session: StaffSession) -> Response:
    store_for(request).close(session)
    response = RedirectResponse("/staff/sign-in", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE, "/")
    return response


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: StaffSession) -> Response:
    return render(request, "home.html", {}, session)
