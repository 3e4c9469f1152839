"""Staff sign-in sessions and CSRF tokens for the server-rendered pages.

A session is a random id kept in an in-memory table, mapped to the signed-in
principal and that session's CSRF token. The cookie carries the id and an
HMAC of it under a per-process random secret, so a forged or altered cookie is
ignored. Tokens are stored only as hashes, so nothing in the cookie can be
turned back into a token.

Sessions live in this process only: they end when the service restarts (staff
sign in again) and are not shared between workers. A deployment with more than
one web worker needs sticky sessions or a shared session table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request, Response

from yswd.aggregates.access import Principal

SESSION_COOKIE = "yswd_session"
SIGN_IN_COOKIE = "yswd_sign_in"
#: a session unused for this long is forgotten
IDLE_LIMIT = timedelta(hours=8)
MAX_SESSIONS = 10_000
_STORE_LOCK = threading.Lock()


@dataclass
class Session:
    session_id: str
    principal: Principal
    csrf_token: str
    last_seen: datetime
    #: the hash of the token signed in with: each request checks it still works
    token_hash: str = ""


class SessionStore:
    """The sessions of this process, with the secret that signs their cookies."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    # -- signing ------------------------------------------------------------

    def sign(self, value: str, purpose: str) -> str:
        mac = hmac.new(self.secret, f"{purpose}\0{value}".encode(), hashlib.sha256)
        return mac.hexdigest()

    def verify(self, value: str, signature: str, purpose: str) -> bool:
        return hmac.compare_digest(self.sign(value, purpose), signature)

    # -- sessions -----------------------------------------------------------

    def open(
        self, principal: Principal, now: datetime | None = None, *, token_hash: str = ""
    ) -> tuple[Session, str]:
        """A new session, and the cookie value that names it."""
        now = now or datetime.now(UTC)
        session = Session(
            secrets.token_urlsafe(32), principal, secrets.token_urlsafe(32), now, token_hash
        )
        with self._lock:
            self._forget_idle(now)
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
                del self._sessions[oldest.session_id]
            self._sessions[session.session_id] = session
        return session, f"{session.session_id}.{self.sign(session.session_id, 'session')}"

    def find(self, cookie: str | None, now: datetime | None = None) -> Session | None:
        if not cookie or "." not in cookie:
            return None
        session_id, _, signature = cookie.rpartition(".")
        if not self.verify(session_id, signature, "session"):
            return None
        now = now or datetime.now(UTC)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > IDLE_LIMIT:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def close(self, session: Session) -> None:
        with self._lock:
            self._sessions.pop(session.session_id, None)

    def _forget_idle(self, now: datetime) -> None:
        for session_id in [
            sid for sid, s in self._sessions.items() if now - s.last_seen > IDLE_LIMIT
        ]:
            del self._sessions[session_id]

    # -- the sign-in form's CSRF token (before there is a session) ------------

    def sign_in_token(self, nonce: str) -> str:
        return self.sign(nonce, "sign-in")

    def check_sign_in_token(self, nonce: str | None, token: str | None) -> bool:
        return bool(nonce and token) and self.verify(str(nonce), str(token), "sign-in")


def store_for(request: Request) -> SessionStore:
    """The process's session store, made on first use and kept on app.state."""
    state = request.app.state
    store: SessionStore | None = getattr(state, "staff_sessions", None)
    if store is None:
        with _STORE_LOCK:
            store = getattr(state, "staff_sessions", None)
            if store is None:
                store = SessionStore()
                state.staff_sessions = store
    return store


def current_session(request: Request) -> Session | None:
    return store_for(request).find(request.cookies.get(SESSION_COOKIE))


def csrf_ok(session: Session, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(session.csrf_token, str(submitted))


def set_cookie(request: Request, response: Response, name: str, value: str, path: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=path,
    )


def clear_cookie(request: Request, response: Response, name: str, path: str) -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )
