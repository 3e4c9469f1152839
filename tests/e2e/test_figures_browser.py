"""The new figures in a real browser: trend, involvement, theme and self-assessment charts,
the self-assessment form and the themes page, at desktop (1280) and phone (390) widths,
each with 0 axe violations (WCAG 2.2 AA). Screenshots go to tests/e2e/artifacts/.
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
)
from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.bootstrap import build
from yswd.settings import Settings

ARTIFACTS = Path(__file__).parent / "artifacts"
WIDTHS = {"desktop": 1280, "phone": 390}
SECRET = "Contributor-Marker-8812"

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


def seed(api: Api) -> None:
    api.organisation()

    def item(raised_on: str, themes: list[str], contributor: str, then: str | None) -> None:
        raised = api.raise_item(
            raised_on=raised_on, themes=themes, contributor=contributor, title="Kitchen"
        )
        assert api.post(f"/api/v1/items/{raised['id']}/publish", {}).status_code == 200
        if then == "complete":
            api.post(f"/api/v1/items/{raised['id']}/complete", {"we_did": "We fixed it."})
        elif then == "respond":
            api.post(f"/api/v1/items/{raised['id']}/respond", {"response": "On order."})

    for day in range(1, 7):
        item(f"2026-09-{day:02d}", ["Food", "Leave"], f"{SECRET} {day % 3}", "complete")
    for day in range(20, 26):
        item(f"2026-10-{day:02d}", ["Food"], f"{SECRET} {day % 4}", "respond")
    for day in range(1, 6):
        item(f"2026-11-{day:02d}", ["Physical health status"], SECRET, None)
    scores = [
        ("2026-03-01", [1, 1, 2, 1, 1, 2, 1, 1]),
        ("2026-06-01", [2, 2, 3, 2, 1, 2, 2, 2]),
        ("2026-10-01", [3, 4, 3, 3, 2, 3, 4, 3]),
    ]
    for assessed_on, values in scores:
        stages = {str(number): score for number, score in enumerate(values, start=1)}
        answer = api.post(
            "/api/v1/units/cedar/self-assessments", {"assessed_on": assessed_on, "stages": stages}
        )
        assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("figures-browser") / "yswd-data"
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    with served(container) as base:
        with httpx.Client(base_url=base, timeout=10) as client:
            seed(Api(client))  # type: ignore[arg-type]
        yield base


@pytest.mark.parametrize("width", WIDTHS)
def test_the_metrics_page_charts_pass_axe(server: str, browser: Any, width: str) -> None:
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    page.goto(server + "/public/metrics/cedar")
    for title in (
        "Bar chart: typical days to a first response, by month",
        "Bar chart: share answered within the target time, by month",
        "Bar chart: average self-assessment score over time, out of 5",
    ):
        assert page.get_by_role("img", name=title).count() == 1, title
    assert page.get_by_role("table", name="Month by month").count() == 1
    assert page.get_by_role("table", name="Figures by theme, most raised first").count() == 1
    assert SECRET not in page.content()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"metrics-figures-{width}.png"), full_page=True)
    page.locator("#trend-heading").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"metrics-trend-{width}.png"))
    violations = axe_violations(page)
    context.close()
    assert violations == [], violations


def sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/staff")
    page.get_by_label("Access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/staff")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_staff_pages_pass_axe(server: str, browser: Any, width: str) -> None:
    context = browser.new_context(viewport={"width": WIDTHS[width], "height": 900})
    page = context.new_page()
    sign_in(page, server)
    found: dict[str, list[str]] = {}
    page.goto(server + "/staff/self-assessments?unit=cedar")
    page.get_by_label("Date of the assessment").fill("2026-11-20")
    for number in range(1, 9):
        page.locator(f"#stage-{number}").select_option("4")
    page.screenshot(path=str(ARTIFACTS / f"self-assessment-form-{width}.png"), full_page=True)
    found["self-assessment"] = axe_violations(page)
    page.get_by_role("button", name="Record the assessment").click()
    page.wait_for_url("**/staff/self-assessments?unit=cedar&done=recorded")
    assert "Self-assessment recorded." in page.content()
    found["self-assessment recorded"] = axe_violations(page)
    page.goto(server + "/staff/self-assessments?unit=cedar")
    page.get_by_role("button", name="Record the assessment").click()  # nothing scored
    found["self-assessment errors"] = axe_violations(page)
    page.goto(server + "/staff/themes?region=north-west")
    page.screenshot(path=str(ARTIFACTS / f"themes-{width}.png"), full_page=True)
    found["themes"] = axe_violations(page)
    page.goto(server + "/staff/meetings/new")
    page.get_by_text("Choose themes").first.click()
    page.screenshot(path=str(ARTIFACTS / f"meeting-themes-{width}.png"))
    found["meeting log"] = axe_violations(page)
    context.close()
    assert {name: v for name, v in found.items() if v} == {}
