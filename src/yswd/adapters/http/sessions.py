"""Staff sign-in sessions and CSRF tokens for the server-rendered pages: the cookies.

The sessions themselves live in the database (:mod:`yswd.adapters.http.session_store`),
so every replica honours them and a restart keeps them. The composition root builds
the one :class:`SessionStore` (``container.sessions``); this module names the cookies
and reads them. The page guard in ``pages/common.py`` is the one place that decides
whether a session still stands.
"""

from __future__ import annotations

import hmac

from fastapi import Request, Response

from yswd.adapters.http.session_store import Session, SessionStore

__all__ = [
    "ATTEMPT_COOKIE",
    "SESSION_COOKIE",
    "SIGN_IN_COOKIE",
    "Session",
    "SessionStore",
    "clear_cookie",
    "csrf_ok",
    "current_session",
    "set_cookie",
    "store_for",
]

SESSION_COOKIE = "yswd_session"
#: the token form's CSRF nonce, before there is a session
SIGN_IN_COOKIE = "yswd_sign_in"
#: names the organisation sign-in's state record while the browser is at the provider
ATTEMPT_COOKIE = "yswd_sign_in_attempt"


def store_for(request: Request) -> SessionStore:
    """The deployment's session store (built once by the composition root)."""
    store: SessionStore = request.app.state.container.sessions
    return store


def current_session(request: Request) -> Session | None:
    return store_for(request).find(request.cookies.get(SESSION_COOKIE))


def csrf_ok(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token, str(submitted))


def _secure(request: Request) -> bool:
    public_url = getattr(request.app.state.container.settings, "public_url", None)
    if public_url:
        return str(public_url).startswith("https://")
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name, value, httponly=True, samesite="lax", secure=_secure(request), path=path
    )


def clear_cookie(request: Request, response: Response, name: str, path: str) -> None:
    response.delete_cookie(name, path=path, httponly=True, samesite="lax", secure=_secure(request))
