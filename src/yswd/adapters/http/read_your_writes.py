"""Read-your-writes on one embedded process, without a read-model transaction per write.

An API write answers from its aggregate as soon as the event is stored and only
notes its log position (``Container.note_write``). Before any other request is
handled, the read models are brought up to every write this process has
acknowledged (``Container.before_read``), so a list, a board or a page never
misses a write that was answered before it began. Meanwhile the background
runner applies pending writes in batches, so under a burst of writes most
requests find the read models already current and the check costs two integers.

Requests that read no read model at all (the item commands, whose answers come
from the item itself, and gap-box suggestions) skip the catch-up: a burst of them
is what this saves.
"""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from yswd.adapters.container import Container


class ReadYourWritesMiddleware:
    """Pure ASGI middleware: catch the read models up before a request that may read them."""

    def __init__(self, app: ASGIApp, container: Container, writes_only: str) -> None:
        self.app = app
        self.container = container
        #: paths (full match) whose POSTs read no read model
        self.writes_only = re.compile(writes_only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and self.container.unapplied_writes()
            and not (scope["method"] == "POST" and self.writes_only.fullmatch(scope["path"]))
        ):
            await run_in_threadpool(self.container.before_read)
        await self.app(scope, receive, send)
