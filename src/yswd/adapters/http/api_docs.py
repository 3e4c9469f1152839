"""``/docs`` (Swagger UI) and ``/redoc`` with every asset served by the service itself.

A hospital network often has no internet access, so the API's documentation must
not load anything from a CDN. The Swagger UI and ReDoc bundles come from the
``fastapi-offline`` package, which ships them; our own start-up script is a static
file, so no inline script is needed.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def _page(title: str, head: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        f'<link rel="icon" href="{ASSETS_URL}/favicon.png">\n{head}</head>\n'
        f"<body>\n{body}</body>\n</html>\n"
    )


def install_api_docs(app: FastAPI, *, static_url: str = "/static") -> None:
    """Serve Swagger UI at ``/docs`` and ReDoc at ``/redoc``; the app was made with
    ``docs_url=None, redoc_url=None``."""
    openapi_url = escape(app.openapi_url or "/openapi.json")
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(
            f"{app.title}: API",
            f'<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">\n',
            f'<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>\n'
            f'<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{static_url}/docs/swagger-init.js"></script>\n',
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _page(
            f"{app.title}: API reference",
            "",
            "<noscript>The API reference needs JavaScript; "
            f'<a href="{openapi_url}">the OpenAPI document</a> is plain JSON.</noscript>\n'
            f'<redoc spec-url="{openapi_url}"></redoc>\n'
            f'<script src="{ASSETS_URL}/redoc.standalone.js"></script>\n',
        )
