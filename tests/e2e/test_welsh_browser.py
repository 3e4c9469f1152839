"""Welsh public pages in a real browser, at desktop (1280) and phone (390) widths: the board
and the metrics page in Welsh with 0 axe violations (WCAG 2.2 AA), no sideways scroll,
and a language switch reachable by keyboard with a target of at least 24 by 24 px.
Screenshots go to tests/e2e/artifacts/.
"""

from __future__ import annotations

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
    served,
    sideways_scroll,
)
from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.bootstrap import build
from yswd.settings import Settings

ARTIFACTS = Path(__file__).parent / "artifacts"
WIDTHS = {"desktop": 1280, "phone": 390}
YOU_SAID = "The kitchen shuts at six, before the evening group ends."

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


def seed(api: Api) -> None:
    api.organisation()
    for day in range(1, 7):
        raised = api.raise_item(
            raised_on=f"2026-10-{day:02d}", title="Kitchen hours", you_said=YOU_SAID,
            themes=["Food"], contributor=f"person {day % 3}",
        )
        assert api.post(f"/api/v1/items/{raised['id']}/publish", {}).status_code == 200
        if day % 2:
            body = {"we_did": "The kitchen now stays open until eight."}
            api.post(f"/api/v1/items/{raised['id']}/complete", body)
        else:
            body = {"because": "The grounds are smoke-free.", "instead": "We asked the chef."}
            api.post(f"/api/v1/items/{raised['id']}/decline", body)
    stages = {str(number): 3 for number in range(1, 9)}
    answer = api.post(
        "/api/v1/units/cedar/self-assessments", {"assessed_on": "2026-10-01", "stages": stages}
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("welsh-browser") / "yswd-data"
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    with served(container) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            seed(Api(client))  # type: ignore[arg-type]
        yield base


def tab_to(page: Any, name: str, presses: int = 12) -> bool:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return True
    return False


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize(("path", "heading"), [
    ("/public/boards/cedar", "Cedar ward"),
    ("/public/metrics/cedar", "Pa mor gyflym rydym yn ymateb"),
])
def test_welsh_pages_pass_axe_without_sideways_scroll(
    server: str, browser: Any, width: str, path: str, heading: str
) -> None:
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.goto(f"{server}{path}?lang=cy")
    assert page.get_attribute("html", "lang") == "cy"
    assert heading in page.locator("h1").inner_text()
    assert page.get_by_role("link", name="Neidio i'r prif gynnwys").count() == 1
    name = path.strip("/").replace("/", "-")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"welsh-{name}-{width}.png"), full_page=True)
    assert sideways_scroll(page) <= 0
    violations = axe_violations(page)
    context.close()
    assert violations == [], violations


@pytest.mark.parametrize("width", WIDTHS)
def test_the_language_switch_works_by_keyboard(server: str, browser: Any, width: str) -> None:
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.goto(f"{server}/public/boards/cedar")
    assert page.get_attribute("html", "lang") == "en-GB"
    switch = page.locator("a[hreflang='cy']")
    box = switch.bounding_box()
    assert box and box["width"] >= 24 and box["height"] >= 24, box
    assert tab_to(page, "Cymraeg"), "the switch is not reachable with Tab"
    page.keyboard.press("Enter")
    page.wait_for_url("**lang=cy")
    assert page.get_attribute("html", "lang") == "cy"
    assert YOU_SAID in page.content()  # items' own words stay as written
    page.goto(f"{server}/public/metrics/cedar")  # the cookie keeps the choice
    assert page.get_attribute("html", "lang") == "cy"
    assert tab_to(page, "English")
    page.keyboard.press("Enter")
    page.wait_for_url("**lang=en")
    assert page.get_attribute("html", "lang") == "en-GB"
    context.close()
