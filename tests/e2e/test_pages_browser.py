"""Every staff and public page in headless Chromium, on a desktop and on a phone.

Given the demo organisation (Meadowbank's wards, Salford's boards, a winter gap box),
each page is opened at 1280, 390 and 320 pixels wide. axe-core must find no WCAG 2.2 AA
violation on any of them, and on the phones no page may scroll sideways. The item page
puts its first action in the first screen and folds every form until it is chosen (it
works without JavaScript), dates read as people in the UK write them, and the NHS.UK date
input logs a meeting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.clock import ticking_clock
from tests.e2e.browser_support import (
    MISSING,
    axe_violations,
    browser_missing,
    launch_chromium,
    served,
    sideways_scroll,
)
from tests.e2e.conftest import ADMIN_TOKEN
from yswd.adapters.demo import load_demo
from yswd.bootstrap import build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)

ARTIFACTS = Path(os.environ.get("YSWD_SHOTS") or Path(__file__).parent / "artifacts")
#: a desktop, a common phone (its first screen is 844 pixels tall), and the narrowest
#: screen WCAG's reflow criterion asks for (320 CSS pixels)
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844), "small-phone": (320, 640)}
PHONES = ("phone", "small-phone")
ISO_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
UK_DATE = re.compile(
    r"\b\d{1,2} (January|February|March|April|May|June|July|August|September|October"
    r"|November|December) 20\d\d\b"
)

PUBLIC_PAGES = [
    "/public",
    "/public/boards/north-west",
    "/public/boards/meadowbank-cedar",
    "/public/metrics/meadowbank",
    "/public/gap-boxes/cedar-winter",
    "/public/gap-boxes/cedar-winter/results",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("pages") / "data"
    container = build(Settings(data_dir=data, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    load_demo(container)
    with served(container) as base:
        yield base


def api(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def staff_pages(base: str) -> list[str]:
    """The staff pages of the demo: every page an admin reaches, and the item pages."""
    with api(base) as admin:
        items = admin.get("/api/v1/items").json()["items"]
    referred = next(item for item in items if item["status"] == "referred")
    responded = next(item for item in items if item["status"] == "responded")
    closed = next(item for item in items if item["status"] in ("done", "couldnt_do"))
    with api(base) as admin:
        me = admin.get("/api/v1/me").json()["id"]
    forum = "cedar-community-meeting"
    return [
        "/staff",
        "/staff/inbox",
        "/staff/search",
        "/staff/search?q=care&status=&unit_id=",
        "/staff/forums",
        f"/staff/forums/{forum}",
        f"/staff/forums/{forum}/agenda",
        f"/staff/forums/{forum}/feedback-pack?since=2026-01-01",
        f"/staff/forums/{forum}/minutes",
        "/staff/meetings/new",
        "/staff/moderation",
        f"/staff/items/{referred['id']}",
        f"/staff/items/{responded['id']}?action=respond",
        f"/staff/items/{responded['id']}?action=refer",
        f"/staff/items/{closed['id']}",
        "/staff/safeguarding",
        "/staff/audit",
        "/staff/admin/units",
        "/staff/admin/forums",
        "/staff/admin/users",
        f"/staff/admin/users/{me}",
        "/staff/templates",
        "/staff/templates?unit=meadowbank-cedar",
        "/staff/themes?region=north-west",
        "/staff/self-assessments?unit=meadowbank-cedar",
    ]


def sign_in(page: Any, base: str) -> None:
    page.goto(base + "/staff/sign-in")
    page.get_by_label("Access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/?$"))


@pytest.mark.parametrize("device", list(WIDTHS))
def test_every_page_passes_axe_and_fits_the_screen(server: str, device: str) -> None:
    width, height = WIDTHS[device]
    found: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": width, "height": height}, locale="en-GB")
        page.goto(server + "/staff/sign-in")
        found["/staff/sign-in"] = axe_violations(page)
        paths = PUBLIC_PAGES + staff_pages(server)
        sign_in(page, server)
        for path in paths:
            answer = page.goto(server + path)
            assert answer is not None and answer.status == 200, (path, answer and answer.status)
            problems = axe_violations(page)
            if device in PHONES and sideways_scroll(page) > 0:
                problems.append(f"scrolls sideways by {sideways_scroll(page)} px")
            found[path] = problems
        browser.close()
    failing = {path: problems for path, problems in found.items() if problems}
    assert not failing, failing


def new_staff(base: str, role: str) -> str:
    """A token for a new user of the role, working everywhere in the demo."""
    with api(base) as admin:
        made = admin.post(
            "/api/v1/users", json={"name": f"A {role}", "role": role, "scopes": ["north-west"]}
        )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def sign_in_with(page: Any, base: str, token: str) -> None:
    page.goto(base + "/staff/sign-in")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/?$"))


def test_the_item_page_puts_the_first_action_in_the_first_screen(server: str) -> None:
    with api(server) as admin:
        items = admin.get("/api/v1/items", params={"status": "responded"}).json()["items"]
    item = items[0]
    manager = new_staff(server, "manager")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        for device, (width, height) in WIDTHS.items():
            page = browser.new_page(viewport={"width": width, "height": height}, locale="en-GB")
            sign_in_with(page, server, manager)
            page.goto(f"{server}/staff/items/{item['id']}")
            actions = page.get_by_role("heading", name="What do you want to do?")
            first = page.locator(".action-list summary").first
            assert actions.is_visible() and first.is_visible()
            box = first.bounding_box()
            # at 320 the header alone fills half of a 640 px screen: only reaching it counts
            screen = height if device != "small-phone" else 2 * height
            assert box is not None and box["y"] + box["height"] <= screen, (device, box)
            # every action is listed, every form folded: the page is short
            steps = page.locator(".action-list details.action-step")
            assert steps.count() >= 5
            assert page.locator(".action-list details[open]").count() == 0
            assert not page.get_by_label("Response", exact=True).is_visible()
            tall = page.evaluate("document.documentElement.scrollHeight")
            assert tall <= 2 * 844, (device, tall)
            # history, clips and similar items are folded away below
            history = page.locator("details.item-history")
            assert history.count() == 1 and history.get_attribute("open") is None
            history.locator("summary").click()
            assert history.locator(".timeline__entry").first.is_visible()
            page.screenshot(path=str(ARTIFACTS / f"pages-item-{device}.png"), full_page=True)
            page.close()
        browser.close()


def test_an_action_opens_when_chosen_asked_for_or_failed_without_javascript(server: str) -> None:
    with api(server) as admin:
        items = admin.get("/api/v1/items", params={"status": "responded"}).json()["items"]
    item = items[0]
    manager = new_staff(server, "manager")
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        context = browser.new_context(
            java_script_enabled=False, viewport={"width": 320, "height": 640}, locale="en-GB"
        )
        page = context.new_page()
        sign_in_with(page, server, manager)
        address = f"{server}/staff/items/{item['id']}"
        # chosen: the summary unfolds the form
        page.goto(address)
        page.locator("#complete summary").click()
        assert page.get_by_label("We did", exact=True).is_visible()
        # a form sent empty comes back open, with the error beside the field
        page.locator("#complete").get_by_role("button", name="Mark as done", exact=True).click()
        assert page.locator("details#complete").get_attribute("open") is not None
        assert page.get_by_role("alert").get_by_text("Enter what we did").is_visible()
        assert page.locator("#complete").get_by_text("Enter what we did").is_visible()
        assert page.locator(".action-list details[open]").count() == 1
        assert sideways_scroll(page) == 0
        # asked for by its link: ?action=respond opens that one form only
        page.goto(f"{address}?action=respond")
        assert page.get_by_label("Response", exact=True).is_visible()
        assert page.locator(".action-list details[open]").count() == 1
        page.goto(f"{address}?action=nonsense")
        assert page.locator(".action-list details[open]").count() == 0
        context.close()
        browser.close()


def test_dates_read_as_uk_dates(server: str) -> None:
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-GB")
        sign_in(page, server)
        for path in (
            "/staff/inbox",
            "/staff/forums/cedar-community-meeting",
            "/public/boards/meadowbank",
        ):
            page.goto(server + path)
            shown = page.locator("main").inner_text()
            assert UK_DATE.search(shown), path
            assert not ISO_DATE.search(shown), (path, ISO_DATE.findall(shown))
        browser.close()


def test_a_meeting_is_logged_with_the_day_month_and_year_boxes(server: str) -> None:
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")
        sign_in(page, server)
        page.goto(server + "/staff/meetings/new")
        page.get_by_label("Forum", exact=True).select_option(value="cedar-community-meeting")
        date = page.get_by_role("group", name="Meeting date")
        date.get_by_label("Day").fill("31")
        date.get_by_label("Month").fill("2")
        date.get_by_label("Year").fill("2026")
        item = page.get_by_role("group", name="Item 1")
        item.get_by_label("Title").fill("Quiet room")
        item.get_by_label("You said").fill("We would like a quiet room in the evening.")
        page.get_by_role("button", name="Save items").click()
        # 31 February is not a date: the error says so and keeps what was typed
        alert = page.get_by_role("alert")
        assert alert.get_by_text("Enter the meeting date").is_visible()
        assert date.get_by_label("Day").input_value() == "31"
        assert axe_violations(page) == []
        date.get_by_label("Day").fill("28")
        page.get_by_role("button", name="Save items").click()
        assert page.get_by_text("1 item saved").is_visible()
        assert page.get_by_text("It is listed below").is_visible()
        page.get_by_role("link", name="Quiet room").click()
        assert page.get_by_text("Raised 28 February 2026").is_visible()
        browser.close()
