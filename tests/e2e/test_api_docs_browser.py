"""/docs and /redoc on a hospital network with no internet: the network is unplugged.

Chromium resolves no name but loopback and every request that does not go to the
service is refused, so the pages can only work if the service serves all they need.
A screenshot of /docs is kept in ``tests/e2e/artifacts/docs-offline.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.clock import ticking_clock
from tests.e2e.browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    chromium_env,
    csp_violations,
    served,
    watch_csp,
)
from yswd.bootstrap import build
from yswd.settings import Settings

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
#: no name resolves but the loopback address the service listens on
UNPLUGGED = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("docs") / "yswd-data"
    container = build(Settings(data_dir=data_dir), clock=ticking_clock())
    with served(container) as url:
        yield url


@pytest.fixture(scope="module")
def unplugged(base_url: str) -> Iterator[tuple[Any, list[str]]]:
    """A browser context that refuses (and notes) every request that leaves the service."""
    from playwright.sync_api import sync_playwright

    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=UNPLUGGED, env=chromium_env()
        )
        context = watch_csp(browser.new_context(viewport={"width": 1280, "height": 900}))
        service = urlsplit(base_url).netloc

        def only_the_service(route: Any) -> None:
            if urlsplit(route.request.url).netloc == service:
                route.continue_()
            else:
                refused.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", only_the_service)
        yield context, refused
        browser.close()


def test_swagger_ui_works_with_the_network_unplugged(
    base_url: str, unplugged: tuple[Any, list[str]]
) -> None:
    context, refused = unplugged
    page = context.new_page()
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    page.wait_for_selector(".opblock", timeout=20_000)
    assert "yswd" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock").count() > 40  # every operation is listed
    assert page.locator("button.authorize").count() == 1  # bearer security is declared
    assert page.locator("text=raise_item").count() >= 1  # short operation ids
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs-offline.png"), full_page=False)
    assert refused == []
    assert csp_violations(page) == []


def test_redoc_works_with_the_network_unplugged(
    base_url: str, unplugged: tuple[Any, list[str]]
) -> None:
    context, refused = unplugged
    page = context.new_page()
    page.goto(f"{base_url}/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "yswd" in page.inner_text("h1")
    assert refused == []
