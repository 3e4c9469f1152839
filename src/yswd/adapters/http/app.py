"""Builds the FastAPI application around a container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from yswd import __version__
from yswd.adapters.http.body_limit import BodyLimitMiddleware
from yswd.adapters.http.errors import install_error_handlers
from yswd.adapters.http.routers import (
    audit,
    feedback,
    gap_boxes,
    health,
    items,
    organisation,
    pages,
    public,
)
from yswd.adapters.http.templating import STATIC_DIR
from yswd.bootstrap import Container


def create_app(container: Container, *, manage_lifecycle: bool = True) -> FastAPI:
    """The web app. With ``manage_lifecycle`` it starts and stops background work."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            container.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                container.stop()

    app = FastAPI(
        title="yswd: You Said, We Did",
        version=__version__,
        description="Feedback from mental-health services, recorded as events.",
        lifespan=lifespan,
    )
    app.state.container = container
    install_error_handlers(app)
    for router in (
        health.router,
        organisation.router,
        items.router,
        feedback.router,
        public.router,
        audit.router,
        gap_boxes.router,
        pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(BodyLimitMiddleware, max_bytes=container.settings.max_body_bytes)
    return app
