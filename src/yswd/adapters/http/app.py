"""Builds the FastAPI application around a container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from yswd import __version__
from yswd.adapters.container import Container
from yswd.adapters.http.api import (
    audit,
    bulk,
    clips,
    feedback,
    forums,
    gap_boxes,
    health,
    items,
    open311,
    organisation,
    public,
    public_figures,
    safeguarding,
    self_assessments,
    templates,
    themes,
    wording,
)
from yswd.adapters.http.api_docs import install_api_docs
from yswd.adapters.http.body_limit import BodyLimitMiddleware
from yswd.adapters.http.errors import PUBLIC_ERRORS, STAFF_ERRORS, install_error_handlers
from yswd.adapters.http.heap import startup_objects_frozen
from yswd.adapters.http.language import LanguageMiddleware
from yswd.adapters.http.methods import HeadAsGetMiddleware
from yswd.adapters.http.metrics import install_metrics
from yswd.adapters.http.openapi import install_openapi, operation_id
from yswd.adapters.http.pages import admin_organisation as organisation_pages
from yswd.adapters.http.pages import admin_users as user_pages
from yswd.adapters.http.pages import audit as audit_page
from yswd.adapters.http.pages import clips as clip_pages
from yswd.adapters.http.pages import forums as forum_pages
from yswd.adapters.http.pages import inbox as inbox_page
from yswd.adapters.http.pages import items as item_pages
from yswd.adapters.http.pages import meetings as meeting_pages
from yswd.adapters.http.pages import moderation as moderation_pages
from yswd.adapters.http.pages import safeguarding as safeguarding_pages
from yswd.adapters.http.pages import search as search_page
from yswd.adapters.http.pages import self_assessments as self_assessment_pages
from yswd.adapters.http.pages import sign_in as sign_in_pages
from yswd.adapters.http.pages import templates as template_pages
from yswd.adapters.http.pages import themes as theme_pages
from yswd.adapters.http.pages.common import ShowInstead, show_instead
from yswd.adapters.http.read_your_writes import ReadYourWritesMiddleware
from yswd.adapters.http.route_guard import skip_unmatchable_routers
from yswd.adapters.http.security_headers import SecurityHeadersMiddleware
from yswd.adapters.http.templating import STATIC_DIR
from yswd.aggregates import plain_english


def create_app(container: Container, *, manage_lifecycle: bool = True) -> FastAPI:
    """The web app. With ``manage_lifecycle`` it starts and stops background work."""
    plain_english.warm_up()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            container.start()
        try:
            with startup_objects_frozen():  # short full GC passes (B2's p99)
                yield
        finally:
            if manage_lifecycle:
                container.stop()

    app = FastAPI(
        title="yswd: You Said, We Did",
        version=__version__,
        description="Feedback from mental-health services, recorded as events.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # served by install_api_docs, from the package: no CDN
        redoc_url=None,
    )
    app.state.container = container
    install_openapi(app)
    install_api_docs(app)
    install_error_handlers(app)
    app.add_exception_handler(ShowInstead, show_instead)  # a page's redirect or refusal
    for router in (
        health.router,
        organisation.router,
        bulk.router,  # before items: /items/{item_id}/publish would take /items/bulk/publish
        items.router,
        clips.router,
        templates.router,
        feedback.router,
        forums.router,
        audit.router,
        gap_boxes.router,
        wording.router,
        safeguarding.router,
        self_assessments.router,
        themes.router,
    ):
        app.include_router(router, responses=STAFF_ERRORS)
    app.include_router(public.router, responses=PUBLIC_ERRORS)
    app.include_router(public_figures.router, responses=PUBLIC_ERRORS)
    app.include_router(open311.router, responses=PUBLIC_ERRORS)
    for router in (
        sign_in_pages.router,
        meeting_pages.router,
        forum_pages.router,
        inbox_page.router,
        clip_pages.router,  # before items: /items/{item_id}/{command} would take .../clips
        safeguarding_pages.router,  # before items too: .../reveal, .../safeguarding
        item_pages.router,
        moderation_pages.router,
        search_page.router,
        organisation_pages.router,
        user_pages.router,
        template_pages.router,
        self_assessment_pages.router,
        theme_pages.router,
        audit_page.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    skip_unmatchable_routers(app)  # a public board no longer tries 18 routers' routes first
    clip_limit = container.settings.max_clip_bytes + clips.MULTIPART_OVERHEAD
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=container.settings.max_body_bytes,
        overrides=[(clips.UPLOAD_PATH_PATTERN, clip_limit)],
    )
    app.add_middleware(
        ReadYourWritesMiddleware,
        container=container,
        writes_only=f"(?:{items.COMMAND_PATHS})|(?:{gap_boxes.SUGGESTION_PATHS})",
    )
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(LanguageMiddleware, public_url=container.settings.public_url)
    app.add_middleware(SecurityHeadersMiddleware)  # on every answer, refusals too
    install_metrics(app, container)  # last: its middleware wraps all the others
    return app
