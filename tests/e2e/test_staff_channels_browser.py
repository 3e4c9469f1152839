"""The newer channels' staff pages in headless Chromium, with axe-core on every page state.

Repeated issues, diary-room clips, response templates, referral to a forum, the agenda,
the minutes import and bulk publishing, worked through the real pages; every state is
checked for WCAG 2.2 AA violations (there must be none).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.clock import ticking_clock
from tests.e2e.browser_support import MISSING, browser_missing, launch_chromium, served
from tests.e2e.conftest import ADMIN_TOKEN
from tests.e2e.test_staff_browser import (
    ARTIFACTS,
    Checked,
    setup_organisation,
    sign_in,
    sign_out,
)
from yswd.bootstrap import build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)

WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + b"\x00" * 4000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN)
    with served(build(settings, clock=ticking_clock())) as base:
        yield base


def raise_item(base: str, title: str, you_said: str) -> str:
    answer = httpx.post(
        f"{base}/api/v1/items",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={
            "forum_id": "cedar-cm",
            "channel": "community_meeting",
            "raised_on": "2026-11-02",
            "title": title,
            "you_said": you_said,
        },
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def add_boards(base: str) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for forum in (
        {
            "id": "dev-board",
            "name": "Development Board",
            "unit_id": "meadowbank",
            "kind": "development_board",
        },
        {
            "id": "partnership-board",
            "name": "Partnership Board",
            "unit_id": "meadowbank",
            "kind": "partnership_board",
        },
    ):
        answer = httpx.post(f"{base}/api/v1/forums", headers=admin, json=forum)
        assert answer.status_code == 201, answer.text


def test_new_channel_pages_with_no_accessibility_violations(server: str) -> None:
    tokens = setup_organisation(server)
    add_boards(server)
    first = raise_item(server, "Broken washing machine", "The washing machine is broken.")
    second = raise_item(server, "Washing machine broken again", "The washing machine is broken.")
    check = Checked()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900}, locale="en-GB")

        # secretary: similar items, link a repeat, a clip with a transcript, minutes, agenda
        sign_in(page, server, tokens["secretary"])
        page.goto(f"{server}/staff/items/{second}")
        page.locator("details.item-similar summary").click()  # folded below the actions
        similar = page.get_by_role("region", name="Similar items")
        assert similar.get_by_role("link", name="Broken washing machine").is_visible()
        check(page, "item with similar items and clip upload")
        page.get_by_label("The earlier item").select_option(value=first)
        page.get_by_role("button", name="Link as a repeat").click()
        assert page.get_by_text("Repeat link saved.").is_visible()
        assert page.get_by_role("link", name="Broken washing machine").is_visible()
        check(page, "item linked as a repeat")
        page.goto(f"{server}/staff/items/{first}")
        assert page.get_by_text("2 times").is_visible()
        page.locator("details.item-clips summary").click()  # folded below the actions

        page.get_by_label("Recording").set_input_files(
            {"name": "diary.wav", "mimeType": "audio/wav", "buffer": WAV}
        )
        page.get_by_label("May be published once the item is public").check()
        page.get_by_role("button", name="Upload clip").click()
        assert page.get_by_text("Clip saved.").is_visible()
        assert page.locator("audio.clip__player").count() == 1
        page.get_by_label("Transcript").fill("The machine has been broken for weeks.")
        page.get_by_role("button", name="Save transcript").click()
        assert page.get_by_text("The machine has been broken for weeks.").first.is_visible()
        check(page, "item with a clip and its transcript")
        page.get_by_label("Withdrawn: delete the recording").check()
        page.get_by_role("button", name="Save consent").click()
        assert page.get_by_role("alert").get_by_text("Tick the box to confirm").is_visible()
        check(page, "clip withdrawal without the tick")
        page.screenshot(path=str(ARTIFACTS / "staff-clips.png"), full_page=True)

        page.goto(f"{server}/staff/forums/cedar-cm")
        check(page, "forum with agenda and minutes links")
        page.get_by_role("link", name="Import minutes").click()
        check(page, "minutes import")
        page.get_by_label("Minutes").fill("title,you_said\n,no title\nGarden,Open it later\n")
        page.get_by_role("button", name="Check rows").click()
        assert page.get_by_role("table").get_by_text("Problem:").is_visible()
        check(page, "minutes with row errors")
        page.screenshot(path=str(ARTIFACTS / "staff-minutes-errors.png"), full_page=True)
        page.get_by_label("Minutes").fill("title,you_said\nGarden,Open it later\n")
        page.get_by_role("button", name="Check rows").click()
        assert page.get_by_text("Every row is fine").is_visible()
        check(page, "minutes checked")
        page.get_by_role("button", name="Save all").click()
        assert page.get_by_text("1 item saved").is_visible()
        check(page, "minutes saved")
        page.goto(f"{server}/staff/forums/cedar-cm")
        page.get_by_role("link", name="Agenda for the next meeting").click()
        assert page.get_by_role("heading", name="Agenda: Cedar community meeting").is_visible()
        check(page, "agenda")
        page.goto(f"{server}/staff")
        sign_out(page)

        # manager: add a template, use it without JavaScript's help, refer to a forum
        sign_in(page, server, tokens["manager"])
        page.get_by_role("link", name="Response templates").first.click()
        check(page, "templates page")
        page.get_by_role("button", name="Add template").click()
        assert page.get_by_role("alert").get_by_text("Enter the title").is_visible()
        check(page, "templates page with errors")
        page.get_by_label("Title").fill("Repair ordered")
        page.get_by_label("Template id").fill("repair-ordered")
        page.get_by_label("Which form is it for?").select_option(value="response")
        page.get_by_label("Wording").fill("We have ordered the repair.")
        page.get_by_role("button", name="Add template").click()
        assert page.get_by_text("Template added.").is_visible()
        check(page, "templates page with a template")
        page.goto(f"{server}/staff/items/{first}?action=respond")  # that form unfolded
        check(page, "item with template picker and forum referral")
        page.get_by_label("Use a template (optional)").first.select_option(value="repair-ordered")
        page.get_by_role("button", name="Use template for post response").click()
        assert page.get_by_label("Response", exact=True).input_value() == (
            "We have ordered the repair."
        )
        check(page, "item with a template copied in")
        page.screenshot(path=str(ARTIFACTS / "staff-template-used.png"), full_page=True)
        page.locator("#refer summary").click()
        page.get_by_label("Or refer to a forum (optional)").select_option(value="partnership-board")
        page.get_by_role("button", name="Refer", exact=True).click()
        assert page.get_by_text("Refer saved.").is_visible()
        sign_out(page)

        # moderator: bulk publish; a refused batch shows each item's result
        sign_in(page, server, tokens["moderator"])
        page.get_by_role("link", name="Moderation queue").first.click()
        check(page, "moderation queue with bulk publish")
        boxes = page.get_by_role("checkbox", name="for publishing")
        assert boxes.count() == 3
        boxes.nth(0).check()
        boxes.nth(1).check()
        # a stale queue: one ticked item no longer exists for this user
        page.evaluate("document.querySelectorAll('input[name=item_ids]')[1].value = 'gone-item'")
        page.get_by_role("button", name="Publish selected").click()
        results = page.get_by_role("region", name="Nothing was published")
        assert results.get_by_text("Refused:").is_visible()
        check(page, "bulk publish refused")
        page.screenshot(path=str(ARTIFACTS / "staff-bulk-refused.png"), full_page=True)
        page.get_by_role("checkbox", name="for publishing").nth(0).check()
        page.get_by_role("checkbox", name="for publishing").nth(1).check()
        page.get_by_role("button", name="Publish selected").click()
        assert page.get_by_text("2 items published").is_visible()
        check(page, "bulk published")
        browser.close()

    failing = {name: found for name, found in check.findings.items() if found}
    assert not failing, failing
    assert len(check.findings) >= 18
