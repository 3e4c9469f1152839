"""Signing in and out: with the organisation's account (OpenID Connect), or with an
access token (the embedded default and break-glass use), and the home page after.

The token form has a CSRF token of its own, signed over a nonce kept in a cookie,
since there is no session yet. The organisation sign-in keeps its state record
(``state``, ``nonce``, the PKCE verifier) in the database, named by a pre-sign-in
cookie, and deletes it as the callback reads it: a callback works once.

The user is matched by the email the provider verified to an active user an admin
created, case-insensitively; signing in never creates a user. Every refusal is a
plain page with a 4xx status that signs nobody in. Attempts count against limits per
client address and per account, across every replica.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.organisation_sign_in import ProviderDown, SignInRefusedHere
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    StaffSession,
    problem_page,
    render,
    text,
)
from yswd.adapters.http.sessions import (
    ATTEMPT_COOKIE,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    clear_cookie,
    current_session,
    set_cookie,
    store_for,
)
from yswd.aggregates.errors import DomainError, RateLimited
from yswd.aggregates.users import fold_email
from yswd.application.users import hash_token, principal_for

router = APIRouter(prefix="/staff", include_in_schema=False)
log = logging.getLogger(__name__)

CALLBACK_COOKIE_PATH = "/staff/sign-in"

#: what the person is told for each refusal: never which check failed in detail
NOT_A_USER = (
    "You signed in with your organisation, but {email} is not the email of anyone who "
    "may use this service. Ask your administrator to add you, with this email."
)
REFUSED = (
    "Your organisation's sign-in did not finish safely, so you have not been signed in. "
    "Go back to the sign-in page and try again."
)


def safe_next(raw: str | None) -> str:
    """Only local staff pages are allowed as a place to go after sign-in."""
    if raw and raw.startswith("/staff") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/staff"


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def sign_in_page(
    request: Request,
    container: Container,
    next_page: str,
    errors: list[FieldError],
    status_code: int = 200,
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
            "organisation_name": container.settings.organisation_name,
            "organisation_sign_in": container.organisation_sign_in is not None,
            "token_sign_in": container.settings.token_sign_in,
            "idle_hours": container.settings.session_idle_seconds // 3600,
            "absolute_hours": container.settings.session_absolute_seconds // 3600,
        },
        status_code=status_code,
    )
    set_cookie(request, response, SIGN_IN_COOKIE, nonce, CALLBACK_COOKIE_PATH)
    return response


def too_many(request: Request, limited: RateLimited) -> HTMLResponse:
    response = problem_page(request, None, 429, "Too many attempts to sign in", limited.message)
    response.headers["Retry-After"] = str(limited.retry_after)
    return response


def refusal(request: Request, status_code: int, message: str) -> HTMLResponse:
    response = problem_page(request, None, status_code, "You have not been signed in", message)
    clear_cookie(request, response, ATTEMPT_COOKIE, CALLBACK_COOKIE_PATH)
    return response


def signed_in_to(request: Request, target: str, cookie: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, SESSION_COOKIE, cookie, "/")
    clear_cookie(request, response, SIGN_IN_COOKIE, CALLBACK_COOKIE_PATH)
    clear_cookie(request, response, ATTEMPT_COOKIE, CALLBACK_COOKIE_PATH)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, container: ContainerDep, next: str | None = None) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return sign_in_page(request, container, safe_next(next), [])


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, form: FormData, container: ContainerDep) -> Response:
    """The token form (unless ``YSWD_TOKEN_SIGN_IN=false``)."""
    if not container.settings.token_sign_in:
        return problem_page(
            request,
            None,
            404,
            "Sign in with your organisation account",
            "This service does not take access tokens on its sign-in page.",
        )
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
            request, container, next_page, [FieldError("token", "Enter your access token")], 422
        )
    try:
        container.sign_in_by_address.acquire(client_address(request))
        container.sign_in_by_account.acquire("token:" + hash_token(token))
    except RateLimited as limited:
        return too_many(request, limited)
    try:
        principal = container.app.principal_for_sign_in(token)
    except DomainError:
        return sign_in_page(
            request,
            container,
            next_page,
            [FieldError("token", "That access token is not right. Check it and try again")],
            401,
        )
    _, cookie = store.open(principal, token_hash=hash_token(token))
    return signed_in_to(request, next_page, cookie)


@router.get("/sign-in/organisation")
def sign_in_with_organisation(
    request: Request, container: ContainerDep, next: str | None = None
) -> Response:
    """Leave for the organisation's provider (authorization code flow with PKCE)."""
    provider = container.organisation_sign_in
    if provider is None:
        return problem_page(
            request,
            None,
            404,
            "Page not found",
            "This service does not sign in with an organisation account.",
        )
    try:
        container.sign_in_by_address.acquire(client_address(request))
    except RateLimited as limited:
        return too_many(request, limited)
    try:
        url, record = provider.begin(container.clock(), safe_next(next))
    except ProviderDown:
        log.warning("the organisation's sign-in provider could not be reached", exc_info=True)
        return problem_page(
            request,
            None,
            503,
            "Your organisation's sign-in is not answering",
            "Try again in a few minutes.",
        )
    response = RedirectResponse(url, status_code=303)
    set_cookie(
        request, response, ATTEMPT_COOKIE, store_for(request).keep_attempt(record),
        CALLBACK_COOKIE_PATH,
    )  # fmt: skip
    return response


@router.get("/sign-in/callback", response_class=HTMLResponse)
def sign_in_callback(request: Request, container: ContainerDep) -> Response:
    """Back from the provider: check everything, then sign the matching user in."""
    provider = container.organisation_sign_in
    if provider is None:
        return refusal(request, 404, "This service does not sign in with an organisation account.")
    record = store_for(request).take_attempt(request.cookies.get(ATTEMPT_COOKIE))
    if record is None:  # no attempt, a forged cookie, or one already used (a replay)
        log.info("organisation sign-in refused: bad_state (no attempt on record)")
        return refusal(request, 400, REFUSED)
    params = {k: v for k, v in request.query_params.items()}
    try:
        identity, target = provider.finish(params, record, container.clock())
    except SignInRefusedHere as refused:
        log.info("organisation sign-in refused: %s", refused.reason)
        if refused.reason in ("email_unverified", "no_email"):
            return refusal(
                request,
                403,
                "Your organisation did not confirm your email address, so you have not been "
                "signed in. Ask your organisation's IT team to check your account.",
            )
        if refused.reason == "provider_error":
            return refusal(
                request,
                403,
                "The sign-in was cancelled at your organisation, so you have not been signed in.",
            )
        return refusal(request, 400, REFUSED)
    except ProviderDown:
        log.warning("the organisation's sign-in provider could not be reached", exc_info=True)
        return refusal(request, 503, "Your organisation's sign-in is not answering. Try again.")
    try:
        container.sign_in_by_account.acquire("email:" + fold_email(identity.email))
    except RateLimited as limited:
        return too_many(request, limited)
    user = container.app.user_for_email(identity.email)
    if user is None:
        log.info("organisation sign-in refused: no active user has that email")
        return refusal(request, 403, NOT_A_USER.format(email=identity.email))
    _, cookie = store_for(request).open(principal_for(user), id_token=identity.id_token)
    return signed_in_to(request, safe_next(target), cookie)


@router.post("/sign-out")
def sign_out(request: Request, session: StaffSession, container: ContainerDep) -> Response:
    """End the session here (every replica); then, where the provider offers it, at the
    provider too (RP-initiated logout)."""
    store_for(request).close(session)
    target = "/staff/sign-in"
    provider = container.organisation_sign_in
    if session.id_token and provider is not None:
        target = provider.logout_url(session.id_token) or target
    response = RedirectResponse(target, status_code=303)
    clear_cookie(request, response, SESSION_COOKIE, "/")
    return response


@router.get("/signed-out", response_class=HTMLResponse)
def signed_out(request: Request) -> Response:
    return render(request, "signed_out.html", {})


@router.get("", response_class=HTMLResponse)
def home(request: Request, session: StaffSession) -> Response:
    return render(request, "home.html", {}, session)
