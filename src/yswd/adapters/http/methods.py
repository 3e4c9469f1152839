"""HTTP methods as RFC 9110 has them: HEAD wherever GET works, and a true ``Allow`` on 405.

FastAPI routes answer only the methods they name, so ``HEAD`` was a 405; and when
one path has several routes (GET on one, POST on another), Starlette's 405 named
only the first route's methods.
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    """Answer ``HEAD`` as ``GET`` would, with the same headers and no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # keep only the last, empty, part
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


#: the methods an ``Allow`` header may name (HEAD follows GET)
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(scope: Scope) -> str:
    """Every method some route of this path answers, for the ``Allow`` header.

    Each method is tried against every route with ``matches``, the one question
    every kind of route (a plain route, an included router, a mount) answers.
    """
    routes = scope["app"].router.routes
    methods = {
        method
        for method in _METHODS
        if any(route.matches({**scope, "method": method})[0] == Match.FULL for route in routes)
    }
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))
