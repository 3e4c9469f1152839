"""The headers every answer carries, set in one place (contract 1.1, "Headers").

- ``Content-Security-Policy``: scripts and styles only from this service's own
  files (no inline script, no ``style=""``), nothing from anywhere else, and no
  framing at all (``frame-ancestors 'none'``): a public page, the gap-box form
  among them, cannot be dressed up inside another site.
- ``X-Content-Type-Options: nosniff`` and a ``Referrer-Policy`` that never sends
  a staff page's address (which names items) to another site.
- ``Cache-Control: no-store`` on everything under ``/api/v1`` and ``/staff``:
  staff answers name contributors and must not stay in a browser's or a proxy's
  cache.

The API's own documentation pages (``/docs``, ``/redoc``) use bundled libraries
that add ``<style>`` elements as they draw, so those two pages alone may use
inline styles; scripts stay strict there too.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "media-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
_DOCS_POLICY = {**_POLICY, "style-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:"}


def _policy_text(policy: dict[str, str]) -> str:
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


CONTENT_SECURITY_POLICY = _policy_text(_POLICY)
DOCS_CONTENT_SECURITY_POLICY = _policy_text(_DOCS_POLICY)
DOCS_PATHS = ("/docs", "/redoc")
REFERRER_POLICY = "same-origin"
NO_STORE_PREFIXES = ("/api/v1/", "/staff/")


def never_stored(path: str) -> bool:
    """Whether answers to ``path`` are staff answers, never to be cached."""
    return path.rstrip("/") in ("/api/v1", "/staff") or path.startswith(NO_STORE_PREFIXES)


class SecurityHeadersMiddleware:
    """Pure ASGI middleware: adds the headers above to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        policy = DOCS_CONTENT_SECURITY_POLICY if path in DOCS_PATHS else CONTENT_SECURITY_POLICY
        no_store = never_stored(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = REFERRER_POLICY
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
