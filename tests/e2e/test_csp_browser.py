"""The Content-Security-Policy in a real browser: every page keeps working under it, with
no inline script or style to refuse, and the policy really refuses them (contract 1.1,
"Headers"). Uses Debian's Chromium and axe-core from node_modules; skips without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.clock import TODAY, ticking_clock
from tests.e2e.browser_support import (
    MISSING,
    axe_violations,
    browser_missing,
    csp_violations,
    served,
)
from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.bootstrap import build
from yswd.settings import Settings

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The served app with one published item and an open gap box; (base URL, item id)."""
    data_dir = tmp_path_factory.mktemp("csp") / "yswd-data"
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    with served(container) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            api = Api(client)  # type: ignore[arg-type]
            api.organisation()
            item = api.raise_item(contributor="Ada Marker")
            assert api.post(f"/api/v1/items/{item['id']}/publish", {}).status_code == 200
            box = {
                "id": "winter",
                "unit_id": "meadowbank",
                "forum_id": "cedar-cm",
                "question": "What would make winter on the ward better?",
                "opens_on": (TODAY - timedelta(days=1)).isoformat(),
                "closes_on": (TODAY + timedelta(days=30)).isoformat(),
            }
            assert api.post("/api/v1/gap-boxes", box).status_code == 201
        yield base, str(item["id"])


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/staff/sign-in")
    page.get_by_label("Access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/staff")


def test_pages_raise_no_csp_violation_and_stay_accessible(
    server: tuple[str, str], browser: Any
) -> None:
    base, item_id = server
    context = browser.new_context()
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for path in ("/public", "/public/boards/cedar", "/public/gap-boxes/winter", "/staff/sign-in"):
        page.goto(base + path)
        found[path] = axe_violations(page)
    sign_in(page, base)
    for path in (
        "/staff",
        "/staff/inbox",
        f"/staff/items/{item_id}",
        "/staff/moderation",
        "/staff/meetings/new",
        "/staff/admin/units",
        "/staff/admin/users",
    ):
        page.goto(base + path)
        found[path] = axe_violations(page)
    page.goto(base + "/docs")  # Swagger UI, drawn by its own scripts from our own files
    page.wait_for_selector(".swagger-ui .info", timeout=15_000)
    found["/docs"] = csp_violations(page)
    context.close()
    assert {path: issues for path, issues in found.items() if issues} == {}


def test_the_policy_refuses_inline_script_and_framing(
    server: tuple[str, str], browser: Any
) -> None:
    base, _ = server
    context = browser.new_context()
    page = context.new_page()
    page.goto(base + "/public/gap-boxes/winter")
    assert csp_violations(page) == []
    ran = page.evaluate(
        """() => {
            window.__ran = false;
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.body.append(script);
            const styled = document.createElement("p");
            styled.setAttribute("style", "color: red");
            document.body.append(styled);
            return window.__ran;
        }"""
    )
    assert ran is False  # the inline script was refused
    page.wait_for_timeout(200)
    refused = csp_violations(page)
    assert any("script-src" in line for line in refused), refused
    # another site cannot frame the gap-box form
    page.set_content(f'<iframe src="{base}/public/gap-boxes/winter"></iframe>')
    page.wait_for_timeout(500)
    assert len(page.frames) == 2
    assert page.frames[1].locator("textarea").count() == 0  # refused: no form in the frame
    context.close()
