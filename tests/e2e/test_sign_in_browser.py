"""Signing in with the organisation's account in headless Chromium, against a real
OpenID Connect provider on loopback, with axe-core checking WCAG 2.2 AA.

Given Alice Ward, whom an admin added with her work email, when she chooses "Sign in
with your organisation account" and signs in at her organisation, then she is back on
the staff pages, signed in. Someone whose email nobody here has gets a plain refusal.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.clock import ticking_clock
from tests.e2e.browser_support import (
    MISSING,
    axe_violations,
    browser_missing,
    free_port,
    launch_chromium,
)
from tests.oidc.fixtures import CALLBACK_PATH, OidcProvider, start_provider
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(os.environ.get("YSWD_SHOTS") or Path(__file__).parent / "artifacts")
ADMIN_TOKEN = "sign-in-browser-admin-token"
ORGANISATION = "Meadowbank Trust"

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, OidcProvider]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with start_provider(redirect_uris=[base + CALLBACK_PATH]) as provider:
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("sign-in-browser"),
            admin_token=ADMIN_TOKEN,
            public_url=base,
            organisation_name=ORGANISATION,
            **{
                "oidc_issuer": provider.issuer,
                "oidc_client_id": provider.client_id,
                "oidc_client_secret": provider.client_secret,
            },
        )
        # the provider signs with the machine's clock; the app's calendar is the tests'
        # (TODAY), but an ID token's times are checked against the machine's too
        container = build(settings, clock=ticking_clock(_machine_now()))
        server = uvicorn.Server(
            uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert (
            admin.post(
                "/api/v1/units", json={"id": "cedar", "name": "Cedar ward", "parent_id": None}
            ).status_code
            == 201
        )
        assert admin.post(
            "/api/v1/users",
            json={"name": "Alice Ward", "role": "secretary", "scopes": ["cedar"],
                  "email": provider.email("alice")},
        ).status_code == 201  # fmt: skip
        admin.close()
        try:
            yield base, provider
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            container.close()


def _machine_now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


def sign_in_at_provider(page: object, account: str) -> None:
    """The provider's development screens: its login form, then consent."""
    page.fill("input[name=login]", account)  # type: ignore[attr-defined]
    page.fill("input[name=password]", "any-password")  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    if page.locator("input[name=prompt][value=consent]").count():  # type: ignore[attr-defined]
        page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def test_signing_in_with_the_organisation_account(site: tuple[str, OidcProvider]) -> None:
    base, _ = site
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(base + "/staff/sign-in")
                assert page.locator("h1").inner_text() == "Sign in"
                assert f"Staff of {ORGANISATION} sign in" in page.content()
                assert axe_violations(page) == []
                page.screenshot(path=str(ARTIFACTS / f"staff-sign-in-{width}.png"), full_page=True)
                page.close()

            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/staff/sign-in")
            page.get_by_role("link", name="Sign in with your organisation account").click()
            page.wait_for_load_state()
            sign_in_at_provider(page, "alice")
            assert page.url == base + "/staff"
            assert "Alice Ward" in page.content()
            assert axe_violations(page) == []
            page.close()

            page = browser.new_page(viewport={"width": 390, "height": 900})
            page.goto(base + "/staff/sign-in")
            page.get_by_role("link", name="Sign in with your organisation account").click()
            page.wait_for_load_state()
            sign_in_at_provider(page, "stranger")
            assert page.locator("h1").inner_text() == "You have not been signed in"
            assert "stranger@elsewhere.example" in page.content()
            assert axe_violations(page) == []
            page.screenshot(path=str(ARTIFACTS / "staff-sign-in-refused-390.png"), full_page=True)
            page.close()
        finally:
            browser.close()
