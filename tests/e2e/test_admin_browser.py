"""Admin pages in headless Chromium, with axe-core (WCAG 2.2 AA) on every page.

An administrator adds a unit, a forum and a person, gives the person a second
token and then revokes both; the person's open session ends at once. A form
POST without the CSRF token and a page outside the user's scope are refused.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.browser_support import MISSING, browser_missing, launch_chromium
from tests.e2e.conftest import ADMIN_TOKEN
from tests.e2e.test_staff_browser import (
    ARTIFACTS,
    Checked,
    server,
    setup_organisation,
    sign_in,
)

sync_api = pytest.importorskip("playwright.sync_api")

__all__ = ["server"]  # the fixture, shared with the staff journeys

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


def new_page(browser: Any, **options: Any) -> Any:
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, locale="en-GB", **options
    )
    return context.new_page()


def test_admin_pages_in_the_browser_with_no_accessibility_violations(server: str) -> None:
    tokens = setup_organisation(server)
    admin_api = httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin_api.post(
        "/api/v1/units", json={"id": "elsewhere", "name": "Another trust", "parent_id": None}
    ).is_success
    check = Checked()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = new_page(browser)
        sign_in(page, server, ADMIN_TOKEN)
        check(page, "home (admin)")

        # units: the tree, an error, then a ward added under Meadowbank
        page.get_by_role("link", name="Units").first.click()
        check(page, "units tree")
        page.get_by_role("button", name="Add unit").click()
        assert page.get_by_role("alert").get_by_text("Enter the unit name").is_visible()
        check(page, "units with errors")
        page.get_by_role("link", name="Add a unit under Meadowbank").click()
        assert page.get_by_label("It sits under").input_value() == "meadowbank"
        page.get_by_label("Name", exact=True).fill("Birch ward")
        page.get_by_label("Unit id").fill("birch")
        page.get_by_role("button", name="Add unit").click()
        assert page.get_by_text("Birch ward added.").is_visible()
        tree = page.locator("ul.unit-tree").inner_text()
        assert tree.index("Meadowbank") < tree.index("Birch ward")
        assert (
            page.locator("ul.unit-tree__children")
            .get_by_text("Birch ward", exact=True)
            .is_visible()
        )
        page.screenshot(path=str(ARTIFACTS / "admin-units.png"), full_page=True)

        # forums: listed by unit, one added for Birch
        page.get_by_role("link", name="Forums", exact=True).first.click()
        check(page, "forums")
        page.get_by_label("Unit", exact=True).select_option(label="Meadowbank / Birch ward")
        page.get_by_label("Name", exact=True).fill("Birch community meeting")
        page.get_by_label("Forum id").fill("birch-cm")
        page.get_by_label("Kind of forum").select_option(label="Community meeting")
        page.get_by_role("button", name="Add forum").click()
        assert page.get_by_text("Birch community meeting added.").is_visible()
        birch = page.get_by_role("region", name="Meadowbank / Birch ward")
        assert birch.get_by_role("link", name="Birch community meeting").is_visible()
        check(page, "forums after adding")
        page.screenshot(path=str(ARTIFACTS / "admin-forums.png"), full_page=True)

        # people: a secretary for Birch; the token is shown once
        page.get_by_role("link", name="People and tokens").first.click()
        check(page, "people")
        page.get_by_role("button", name="Add person and show their token").click()
        assert page.get_by_role("alert").get_by_text("Enter the person's name").is_visible()
        check(page, "people with errors")
        page.get_by_label("Name", exact=True).fill("Robin Birch")
        page.get_by_label("Forum secretary").check()
        page.get_by_label("Birch ward").check()
        page.get_by_role("button", name="Add person and show their token").click()
        assert page.get_by_text("Copy it now. It will not be shown again.").is_visible()
        first = page.get_by_label("Access token").input_value()
        assert first.startswith("yswd_")
        check(page, "token shown once")
        page.screenshot(path=str(ARTIFACTS / "admin-token.png"), full_page=True)

        # Robin signs in, in another browser, without JavaScript
        robin = new_page(browser, java_script_enabled=False)
        sign_in(robin, server, first)
        robin.get_by_role("link", name="Log a meeting").first.click()
        assert robin.get_by_label("Forum", exact=True).input_value() == "birch-cm"
        # a form POST without the CSRF token is refused, and so is a forum elsewhere
        forged = robin.request.post(
            f"{server}/staff/meetings/new",
            form={"forum_id": "birch-cm", "meeting_date": "2026-11-02", "title_1": "x"},
            max_redirects=0,
        )
        assert forged.status == 403
        assert "This form has expired" in forged.text()
        outside = robin.goto(f"{server}/staff/forums/cedar-cm")
        assert outside is not None and outside.status == 403
        assert "outside your scope" in robin.locator("main").inner_text()
        assert robin.goto(f"{server}/staff/admin/users").status == 403  # type: ignore[union-attr]

        # a second token for Robin, then every token revoked
        page.get_by_role("link", name="Manage Robin Birch").click()
        check(page, "person")
        page.get_by_role("button", name="Create a new token").click()
        second = page.get_by_label("Access token").input_value()
        assert second.startswith("yswd_") and second != first
        page.get_by_role("link", name="Manage Robin Birch").click()
        assert page.get_by_text("2 working").is_visible()
        page.get_by_role("button", name="Revoke every token").click()
        assert page.get_by_role("alert").get_by_text("Tick the box").is_visible()
        check(page, "revoke with error")
        page.get_by_label("Yes, stop every token Robin Birch holds").check()
        page.get_by_role("button", name="Revoke every token").click()
        assert page.get_by_text("2 tokens revoked").is_visible()
        check(page, "person after revoking")
        page.get_by_role("link", name="Back to people and tokens").click()
        row = page.get_by_role("row", name="Robin Birch").inner_text()
        assert "None working" in row
        page.screenshot(path=str(ARTIFACTS / "admin-users.png"), full_page=True)

        robin.reload()
        assert "/staff/sign-in" in robin.url  # signed out at once
        for token in (first, second):
            me = httpx.get(f"{server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 401

        # a manager is refused the admin pages
        manager = new_page(browser)
        sign_in(manager, server, tokens["manager"])
        refused = manager.goto(f"{server}/staff/admin/units")
        assert refused is not None and refused.status == 403
        check(manager, "admin page refused")
        browser.close()
    admin_api.close()

    failing = {name: found for name, found in check.findings.items() if found}
    assert not failing, failing
    assert len(check.findings) >= 12
