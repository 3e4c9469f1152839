"""The staff audit page in headless Chromium, with reveals on it, on a desktop and phones.

Given the demo organisation, where Cedar ward's manager and an administrator each broke
glass with a written reason: the auditor's audit page passes axe (WCAG 2.2 AA) at 1280,
390 and 320 pixels wide and never scrolls sideways on a phone, both while the record is
intact and once a stored event has been altered behind the service's back. Screenshots
go to ``YSWD_SHOTS`` (else ``tests/e2e/artifacts``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.integration.stored_rows import StoredRows
from yswd.adapters.demo import load_demo
from yswd.bootstrap import Container, build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)

SHOTS = Path(os.environ.get("YSWD_SHOTS") or Path(__file__).parent / "artifacts")
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844), "small-phone": (320, 640)}
INTACT = re.compile(r"Checked \d+ events on .* nothing was altered")
REASON = (
    "The person asked for a call back about their complaint and left no other way "
    "to reach them, so I need their name to arrange it."
)


@dataclass
class Demo:
    base: str
    container: Container
    auditor: str


def client(base: str, token: str = ADMIN_TOKEN) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})


def user(base: str, name: str, role: str, *scopes: str) -> str:
    with client(base) as admin:
        answer = admin.post("/api/v1/users", json={"name": name, "role": role, "scopes": scopes})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def raised(base: str, title: str) -> dict[str, Any]:
    """An item Cedar ward's community meeting raised, with the name of who said it."""
    body = {
        "forum_id": "cedar-community-meeting",
        "channel": "community_meeting",
        "raised_on": "2026-11-02",
        "title": title,
        "you_said": "Please can this be looked at soon.",
        "contributor": "Dee Patient",
    }
    with client(base) as admin:
        answer = admin.post("/api/v1/items", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    container = build(
        Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN), clock=ticking_clock()
    )
    load_demo(container)
    with served(container) as base:
        manager = user(base, "Priya Shah", "manager", "meadowbank-cedar")
        items = [raised(base, title) for title in ("Laundry", "Quiet room", "Garden access")]
        with client(base, manager) as managers:
            reasons = (REASON, "Needed to send the written answer to the person.")
            for item, reason in zip(items[:2], reasons, strict=True):
                path = f"/api/v1/items/{item['id']}/reveal"
                answer = managers.post(path, json={"reason": reason})
                assert answer.status_code == 200, answer.text
        with client(base) as admin:  # an administrator may break glass too
            answer = admin.post(
                f"/api/v1/items/{items[2]['id']}/reveal",
                json={"reason": "Checking a complaint with the ward before replying."},
            )
            assert answer.status_code == 200, answer.text
        yield Demo(base, container, user(base, "Ann Auditor", "auditor"))


def open_audit_page(page: Any, demo: Demo) -> list[str]:
    """Sign in as the auditor, open the audit page; what axe and the width check found."""
    page.goto(demo.base + "/staff/sign-in")
    page.get_by_label("Access token").fill(demo.auditor)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/staff/?$"))
    page.get_by_role("link", name="Audit").first.click()
    page.wait_for_url(re.compile(r"/staff/audit$"))
    return checked(page)


def checked(page: Any) -> list[str]:
    problems = axe_violations(page)
    width = page.viewport_size["width"]
    if width < 1280 and sideways_scroll(page) > 0:
        problems.append(f"scrolls sideways by {sideways_scroll(page)} px at {width} px")
    return problems


def test_the_audit_page_passes_axe_and_fits_every_screen(demo: Demo) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        pages = {}
        for device, (width, height) in WIDTHS.items():
            page = browser.new_page(viewport={"width": width, "height": height}, locale="en-GB")
            found[f"{device} before the check"] = open_audit_page(page, demo)
            assert page.get_by_role("cell", name=re.compile("Priya Shah")).count() == 2
            page.get_by_role("button", name="Check the record now").click()
            page.wait_for_url(re.compile(r"check=yes"))
            assert page.get_by_text(INTACT).count()
            found[f"{device} intact"] = checked(page)
            page.screenshot(path=str(SHOTS / f"audit-{device}.png"), full_page=True)
            pages[device] = page

        page = pages["phone"]  # the unit filter works without JavaScript
        page.get_by_label("Unit").select_option(value="meadowbank-willow")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(re.compile(r"unit_id="))
        assert page.get_by_text("No manager has been shown who raised an item in").count()
        found["phone filtered"] = checked(page)

        rows = StoredRows(demo.container)
        position, _, _ = rows.rows()[10]
        rows.set_state(position, rows.state(position) + b" ")
        for device, page in pages.items():
            page.goto(demo.base + "/staff/audit?check=yes")
            assert page.get_by_text("The record has been changed").count()
            found[f"{device} altered"] = checked(page)
            page.screenshot(path=str(SHOTS / f"audit-altered-{device}.png"), full_page=True)
        browser.close()
    failing = {where: problems for where, problems in found.items() if problems}
    assert not failing, failing
