"""Safe to speak in headless Chromium: the lead's queue, the manager's reveal step and
the meeting log's safeguarding checkbox, on a desktop (1280) and a phone (390), each
with no axe-core (WCAG 2.2 AA) violation. Screenshots go to ``tests/e2e/artifacts``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser_support import MISSING, axe_violations, browser_missing, launch_chromium
from tests.e2e.browser_support import served as serving
from tests.e2e.conftest import ADMIN_TOKEN
from tests.e2e.test_safe_to_speak_http import MovableClock
from yswd.bootstrap import build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(os.environ.get("YSWD_SHOTS") or Path(__file__).parent / "artifacts")
WIDTHS = (1280, 390)

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def server(tmp_path: Path, clock: MovableClock) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN)
    with serving(build(settings, clock=clock)) as base:
        yield base


def ward(base: str) -> dict[str, Any]:
    """Cedar ward with a secretary, a manager and a safeguarding lead; an ordinary item
    someone raised, and two flagged ones."""
    admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    for unit in (
        {"id": "meadowbank", "name": "Meadowbank", "parent_id": None},
        {"id": "cedar", "name": "Cedar ward", "parent_id": "meadowbank"},
    ):
        assert admin.post("/api/v1/units", json=unit).status_code == 201
    forum = {"id": "cedar-cm", "name": "Cedar community meeting", "unit_id": "cedar"}
    assert admin.post("/api/v1/forums", json={**forum, "kind": "community_meeting"}).is_success
    tokens = {}
    for role in ("secretary", "manager", "safeguarding_lead"):
        made = admin.post("/api/v1/users", json={"name": role, "role": role, "scopes": ["cedar"]})
        tokens[role] = made.json()["token"]
    body = {"forum_id": "cedar-cm", "channel": "community_meeting", "raised_on": "2026-11-02"}
    ordinary = admin.post(
        "/api/v1/items",
        json={
            **body,
            "title": "Laundry",
            "you_said": "The washer is broken.",
            "contributor": "Sam",
        },
    ).json()
    for title, said in (
        ("Nights", "Someone comes into my room at night."),
        ("Money", "A person keeps taking my money."),
    ):
        flagged = {**body, "title": title, "you_said": said, "safeguarding": True}
        assert admin.post("/api/v1/items", json=flagged).status_code == 201
    admin.close()
    return {"tokens": tokens, "item": ordinary}


def sign_in(page: Any, base: str, token: str) -> None:
    page.goto(f"{base}/staff/sign-in")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def shoot(page: Any, name: str, width: int) -> list[str]:
    page.set_viewport_size({"width": width, "height": 900})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"safe-to-speak-{name}-{width}.png"), full_page=True)
    return axe_violations(page)


def test_the_lead_s_queue_the_reveal_step_and_the_meeting_log_checkbox(
    server: str, clock: MovableClock
) -> None:
    world = ward(server)
    clock.move(timedelta(hours=30))  # both flags are now past their acknowledgement time
    findings: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        for width in WIDTHS:
            context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
            page = context.new_page()

            sign_in(page, server, world["tokens"]["safeguarding_lead"])
            page.goto(f"{server}/staff/safeguarding")
            assert page.get_by_role("heading", name="Safeguarding queue").is_visible()
            assert page.get_by_text("Acknowledgement overdue").count() == 2
            findings[f"queue {width}"] = shoot(page, "queue", width)

            context.clear_cookies()
            sign_in(page, server, world["tokens"]["manager"])
            page.goto(f"{server}/staff/items/{world['item']['id']}")
            page.locator("#reveal summary").click()  # one of the folded actions
            step = page.get_by_role("region", name="Who raised this item")
            step.scroll_into_view_if_needed()
            assert step.get_by_text("will be seen by auditors and by the advocate").is_visible()
            assert page.get_by_text("Sam", exact=True).count() == 0
            findings[f"reveal {width}"] = shoot(page, "reveal-step", width)

            context.clear_cookies()
            sign_in(page, server, world["tokens"]["secretary"])
            page.goto(f"{server}/staff/meetings/new")
            box = page.get_by_label("This may be a safeguarding concern (item 1)")
            box.check()
            assert box.is_checked()
            box.scroll_into_view_if_needed()
            findings[f"meeting log {width}"] = shoot(page, "meeting-log-checkbox", width)
            context.close()
        browser.close()
    assert findings == {name: [] for name in findings}
