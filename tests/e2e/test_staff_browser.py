"""Staff journeys in headless Chromium, with axe-core checking WCAG 2.2 AA on every page.

Each role works through the real pages with JavaScript off-critical forms:
a secretary logs 3 items, a moderator publishes them, a manager completes one
and declines one, the public board shows both, and an auditor sees the timeline.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clock import TODAY, days_ago, ticking_clock
from tests.e2e.browser_support import (
    MISSING,
    axe_violations,
    browser_missing,
    launch_chromium,
    served,
)
from tests.e2e.conftest import ADMIN_TOKEN
from yswd.bootstrap import build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

#: screenshots go here (set YSWD_SHOTS to keep them somewhere else)
ARTIFACTS = Path(os.environ.get("YSWD_SHOTS") or Path(__file__).parent / "artifacts")

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN)
    with served(build(settings, clock=ticking_clock())) as base:  # it is TODAY there
        yield base


def setup_organisation(base: str) -> dict[str, str]:
    """Units, a forum, and one user of each role; returns their tokens."""
    admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    for unit in (
        {"id": "meadowbank", "name": "Meadowbank", "parent_id": None},
        {"id": "cedar", "name": "Cedar ward", "parent_id": "meadowbank"},
    ):
        assert admin.post("/api/v1/units", json=unit).status_code == 201
    forum = {
        "id": "cedar-cm",
        "name": "Cedar community meeting",
        "unit_id": "cedar",
        "kind": "community_meeting",
    }
    assert admin.post("/api/v1/forums", json=forum).status_code == 201
    tokens = {}
    for role, scopes in (
        ("secretary", ["cedar"]),
        ("moderator", ["cedar"]),
        ("manager", ["cedar"]),
        ("auditor", []),
    ):
        answer = admin.post(
            "/api/v1/users", json={"name": f"Sam {role}", "role": role, "scopes": scopes}
        )
        assert answer.status_code == 201, answer.text
        tokens[role] = answer.json()["token"]
    admin.close()
    return tokens


class Checked:
    """Runs axe on every page it is shown, and keeps the findings."""

    def __init__(self) -> None:
        self.findings: dict[str, list[str]] = {}

    def __call__(self, page: Any, name: str) -> None:
        self.findings[name] = axe_violations(page)


def sign_in(page: Any, base: str, token: str, check: Checked | None = None) -> None:
    page.goto(f"{base}/staff")
    assert "/staff/sign-in" in page.url
    if check:
        check(page, "sign-in")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/staff")


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/staff/sign-in")


def test_each_role_in_the_browser_with_no_accessibility_violations(server: str) -> None:
    tokens = setup_organisation(server)
    check = Checked()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="en-GB")

        # secretary: log 3 items from one meeting (rows 1, 2 and 4; 3 and 5 stay empty)
        sign_in(page, server, tokens["secretary"], check)
        check(page, "home (secretary)")
        page.get_by_role("link", name="Log a meeting").first.click()
        check(page, "meeting log")
        # the only forum in scope is chosen already, and the date is today
        assert page.get_by_label("Forum", exact=True).input_value() == "cedar-cm"
        today = page.get_by_role("group", name="Meeting date")
        assert today.get_by_label("Day").input_value() == str(TODAY.day)
        assert today.get_by_label("Month").input_value() == str(TODAY.month)
        assert today.get_by_label("Year").input_value() == str(TODAY.year)
        page.get_by_role("button", name="Save items").click()  # nothing filled in
        assert page.get_by_role("alert").get_by_text("Enter at least one item").is_visible()
        check(page, "meeting log with errors")
        page.get_by_role("link", name="Log a meeting").first.click()
        page.get_by_label("Forum", exact=True).select_option(label="Cedar community meeting")
        # three weeks ago: their answers are due in a week, so none is overdue yet
        meeting_day = date.fromisoformat(days_ago(21))
        meeting_date = page.get_by_role("group", name="Meeting date")
        meeting_date.get_by_label("Day").fill(str(meeting_day.day))
        meeting_date.get_by_label("Month").fill(str(meeting_day.month))
        meeting_date.get_by_label("Year").fill(str(meeting_day.year))
        rows = {
            1: ("Laundry", "The washing machine is broken. Dave reported it.", "Community meeting"),
            2: ("Fresh fruit", "We would like fresh fruit at breakfast.", "Diary room"),
            4: ("Garden", "The garden is locked at weekends.", "Community meeting"),
        }
        for n, (title, said, channel) in rows.items():
            item = page.get_by_role("group", name=f"Item {n}")
            item.get_by_label("Title").fill(title)
            item.get_by_label("You said").fill(said)
            item.get_by_label("Channel").select_option(label=channel)
        page.get_by_role("group", name="Item 1").get_by_label("Themes (optional)").fill(
            "laundry, facilities"
        )
        page.screenshot(path=str(ARTIFACTS / "staff-meeting-log.png"), full_page=True)
        page.get_by_role("button", name="Save items").click()
        page.wait_for_url("**/staff/forums/cedar-cm?logged=3")
        assert page.get_by_text("3 items saved").is_visible()
        check(page, "forum open items and feedback pack")
        sign_out(page)

        # moderator: publish all three, rewording one
        sign_in(page, server, tokens["moderator"])
        page.get_by_role("link", name="Moderation queue").first.click()
        assert page.get_by_text("3 items waiting").is_visible()
        check(page, "moderation queue")
        # "Check wording" re-shows the queue with the warnings, linked to the field
        laundry = page.get_by_role("region", name="Laundry")
        laundry.get_by_label("Public wording").fill("The MDT says the washing machine is broken.")
        laundry.get_by_role("button", name="Check wording of Laundry").click()
        summary = page.get_by_role("alert")
        assert summary.get_by_text("Check the wording before it goes public").is_visible()
        assert summary.get_by_role("link", name=re.compile("MDT")).is_visible()
        assert (
            "The MDT says"
            in page.get_by_role("region", name="Laundry")
            .get_by_label("Public wording")
            .input_value()
        )
        check(page, "moderation with wording warnings")
        page.screenshot(path=str(ARTIFACTS / "staff-moderation-warnings.png"), full_page=True)
        for title in ("Laundry", "Fresh fruit", "Garden"):
            section = page.get_by_role("region", name=title)
            if title == "Laundry":
                section.get_by_label("Public wording").fill("The washing machine is broken.")
            section.get_by_role("button", name=f"Publish {title}").click()
            page.wait_for_url("**/staff/moderation?published=1")
        assert page.get_by_text("There is nothing waiting to be published").is_visible()
        sign_out(page)

        # an item from an earlier meeting that nobody answered: overdue
        old = httpx.post(
            f"{server}/api/v1/items",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            json={
                "forum_id": "cedar-cm",
                "channel": "gap_box",
                "raised_on": days_ago(40),
                "title": "Quiet room",
                "you_said": "There is nowhere quiet to sit in the evening.",
            },
        )
        assert old.status_code == 201, old.text

        # manager: inbox, then complete one and decline one
        sign_in(page, server, tokens["manager"])
        page.get_by_role("link", name="Inbox").first.click()
        assert page.get_by_text("4 open items in your units, 1 overdue").is_visible()
        first_row = page.locator("table tbody tr").first.inner_text()
        assert "Quiet room" in first_row and "Overdue" in first_row
        check(page, "inbox")
        page.screenshot(path=str(ARTIFACTS / "staff-inbox.png"), full_page=True)
        page.get_by_role("link", name="Laundry").click()
        check(page, "item with action forms")
        # every action is folded until it is chosen
        assert not page.get_by_label("We did").is_visible()
        page.locator("#complete summary").click()
        page.get_by_label("We did").fill("The MDT agreed a new machine under the CQUIN.")
        page.get_by_role("button", name="Check wording for mark as done").click()
        assert page.get_by_role("alert").get_by_text("Check the wording").is_visible()
        assert "CQUIN" in page.get_by_label("We did").input_value()
        check(page, "item form with wording warnings")
        page.screenshot(path=str(ARTIFACTS / "staff-item-warnings.png"), full_page=True)
        page.get_by_label("We did").fill("We bought a new washing machine.")
        page.get_by_role("button", name="Mark as done", exact=True).click()
        assert page.get_by_text("Mark as done saved.").is_visible()
        check(page, "item after completing")
        page.get_by_role("link", name="Inbox").first.click()
        page.get_by_role("link", name="Fresh fruit").click()
        # sent empty: an error, and the form comes back unfolded
        page.locator("#decline summary").click()
        page.get_by_role("button", name="Mark as could not do", exact=True).click()
        assert page.get_by_role("alert").get_by_text("Enter why we could not do it").is_visible()
        check(page, "item form with errors")
        page.get_by_label("Because").fill("The kitchen contract ends in March.")
        page.get_by_label("Instead (optional)").fill("We will ask the new caterer.")
        page.get_by_role("button", name="Mark as could not do", exact=True).click()
        assert page.get_by_text("Mark as could not do saved.").is_visible()
        sign_out(page)

        # the public board shows both outcomes
        page.goto(f"{server}/public/boards/cedar")
        body = page.locator("main").inner_text()
        assert "We bought a new washing machine." in body
        assert "The kitchen contract ends in March." in body
        assert "Dave" not in body  # the moderator's rewording is what is public

        # auditor: the full timeline with actors
        sign_in(page, server, tokens["auditor"])
        page.get_by_role("link", name="Inbox").first.click()
        check(page, "inbox (auditor)")
        page.goto(page.url.replace("/staff/inbox", "/staff"))
        laundry_id = httpx.get(
            f"{server}/api/v1/items",
            headers={"Authorization": f"Bearer {tokens['auditor']}"},
            params={"status": "done"},
        ).json()["items"][0]["id"]
        page.goto(f"{server}/staff/items/{laundry_id}")
        page.locator("details.item-history summary").click()  # folded below the summary
        timeline = page.locator("ol.timeline").inner_text()
        for label in ("Raised", "Published", "Marked as done"):
            assert label in timeline
        for who in ("Sam secretary", "Sam moderator", "Sam manager"):
            assert who in timeline
        check(page, "auditor timeline")
        page.screenshot(path=str(ARTIFACTS / "staff-auditor-timeline.png"), full_page=True)
        browser.close()

    failing = {name: found for name, found in check.findings.items() if found}
    assert not failing, failing
    assert len(check.findings) >= 10
