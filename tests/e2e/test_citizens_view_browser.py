"""The printable agenda in headless Chromium: no WCAG 2.2 AA violations, script stays text."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.browser_support import MISSING, axe_violations, browser_missing, launch_chromium
from tests.e2e.conftest import ADMIN_TOKEN
from tests.e2e.test_staff_browser import (  # the same server fixture as the staff pages
    ARTIFACTS,
    server,
)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)

__all__ = ["server"]  # the fixture, shared with the staff browser tests

XSS = "<img src=x onerror=\"document.title='pwned'\">"


def test_the_agenda_prints_without_accessibility_violations(server: str) -> None:
    admin = httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    for unit in (
        {"id": "salford", "name": "Salford", "parent_id": None},
        {"id": "mental-health", "name": "Mental health", "parent_id": "salford"},
    ):
        assert admin.post("/api/v1/units", json=unit).status_code == 201
    for forum in (
        {
            "id": "dev-board",
            "name": "Development Board",
            "unit_id": "mental-health",
            "kind": "development_board",
        },
        {
            "id": "partnership-board",
            "name": "Partnership Board",
            "unit_id": "salford",
            "kind": "partnership_board",
        },
    ):
        assert admin.post("/api/v1/forums", json=forum).status_code == 201
    minutes = (
        "- Transport: no bus to the day centre after 4pm\n"
        f"- Urgent care: {XSS}\n"
        "- Carer's charter: carers are not told about discharge\n"
    )
    imported = admin.post(
        "/api/v1/forums/dev-board/minutes",
        params={"dry_run": "false"},
        content=minutes.encode(),
        headers={"Content-Type": "text/markdown"},
    )
    assert imported.status_code == 201, imported.text
    first, second, _ = imported.json()["items"]
    for item in (first, second):
        answer = admin.post(
            f"/api/v1/items/{item['id']}/refer",
            json={"to_forum_id": "partnership-board", "note": f"Citizen's View {XSS}"},
        )
        assert answer.status_code == 200, answer.text
    admin.close()

    with sync_api.sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(
                extra_http_headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            )
            page = context.new_page()
            page.goto(f"{server}/api/v1/forums/partnership-board/agenda?format=html")
            assert page.title().startswith("Agenda: Partnership Board")  # no script ran
            assert page.locator("h1").inner_text() == "Agenda: Partnership Board"
            assert page.locator("h3").count() == 2
            assert XSS in page.locator("main").inner_text()  # shown as text
            assert page.locator("main img").count() == 0
            violations = axe_violations(page)
            assert violations == [], "\n".join(violations)
            page.emulate_media(media="print")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "agenda-print.png"), full_page=True)
            assert axe_violations(page) == []
        finally:
            browser.close()
