"""The gap box pages in headless Chromium, at 1280, 390 and 320 pixels wide.

Given an open box (with a published, answered suggestion), a closed one and one
not open yet: every page (the box, the box with an error, its results, the
ward's board and the index that link to it) has no axe-core WCAG 2.2 AA
violation and never scrolls sideways; the wording follows the dates ("open
until", "opens on", "ran from … to …"); each page names the ward and leads
back to its board; the form uses the NHS.UK components (a full-width text box
in the body font, a red error line, the yellow focus ring); and boards and the
index link to a box only while it is open.
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
    served,
    sideways_scroll,
)
from tests.e2e.conftest import ADMIN_TOKEN
from yswd.adapters.demo import load_demo
from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import Container, build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)

WIDTHS = {"desktop": (1280, 800), "phone": (390, 844), "small phone": (320, 640)}
WARD = "Cedar ward (low secure)"


def more_boxes(container: Container) -> str:
    """A closed box and a box not open yet beside the demo's open one; a published,
    completed suggestion in the open box. Returns that suggestion's item id."""
    boxes = container.gap_boxes
    for box_id, opens, closes in (("cedar-summer", -120, -30), ("cedar-spring", 20, 60)):
        boxes.create_box(
            SYSTEM,
            box_id=box_id,
            unit_id="meadowbank-cedar",
            forum_id="cedar-community-meeting",
            question=f"What should the ward do differently ({box_id})?",
            opens_on=TODAY + timedelta(days=opens),
            closes_on=TODAY + timedelta(days=closes),
        )
    item = boxes.suggest("cedar-winter", "A second blanket for everyone, please.", "test").value
    app = container.app
    app.publish(SYSTEM, item.item_id, None, None)
    app.complete(SYSTEM, item.item_id, "Everyone now has two blankets.", None)
    container.runner.catch_up()
    return item.item_id


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("gap-pages") / "data"
    container = build(Settings(data_dir=data, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    load_demo(container)
    more_boxes(container)
    with served(container) as base:
        yield base


PAGES = [
    "/public/gap-boxes/cedar-winter",
    "/public/gap-boxes/cedar-winter/results",
    "/public/gap-boxes/cedar-summer",
    "/public/gap-boxes/cedar-summer/results",
    "/public/gap-boxes/cedar-spring",
    "/public/gap-boxes/cedar-spring/results",
    "/public/boards/meadowbank-cedar",
    "/public/boards/meadowbank",
    "/public",
]


@pytest.mark.parametrize("device", list(WIDTHS))
def test_gap_box_pages_pass_axe_and_fit_the_screen(server: str, browser: Any, device: str) -> None:
    width, height = WIDTHS[device]
    page = browser.new_page(viewport={"width": width, "height": height}, locale="en-GB")
    found: dict[str, list[str]] = {}
    for path in PAGES:
        answer = page.goto(server + path)
        assert answer is not None and answer.status == 200, path
        found[path] = axe_violations(page)
        if sideways_scroll(page) > 0:
            found[path].append(f"scrolls sideways by {sideways_scroll(page)} px")
    # the form sent empty: the error state
    page.goto(server + "/public/gap-boxes/cedar-winter")
    page.get_by_role("button", name="Send suggestion").click()
    assert page.locator(".nhsuk-error-summary").count() == 1
    found["error"] = axe_violations(page)
    if sideways_scroll(page) > 0:
        found["error"].append(f"scrolls sideways by {sideways_scroll(page)} px")
    page.close()
    failing = {path: problems for path, problems in found.items() if problems}
    assert not failing, failing


def test_the_form_is_styled_like_the_rest(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page.goto(server + "/public/gap-boxes/cedar-winter")
    page.get_by_role("button", name="Send suggestion").click()
    box = page.locator("textarea#suggestion")
    style = box.evaluate(
        """(el) => { const s = getComputedStyle(el);
            return {width: el.getBoundingClientRect().width, size: parseFloat(s.fontSize),
                    family: s.fontFamily}; }"""
    )
    assert style["width"] >= 400, style  # the column's width, not a 182 px default
    assert style["size"] >= 16 and "monospace" not in style["family"], style
    error = page.locator("#suggestion-error")
    assert error.evaluate("(el) => getComputedStyle(el).color") == "rgb(213, 40, 27)"
    assert box.get_attribute("aria-invalid") == "true"
    assert "suggestion-error" in (box.get_attribute("aria-describedby") or "")
    box.focus()
    ring = box.evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.outlineColor, s.outlineWidth,"
        " s.boxShadow]; }"
    )
    # the NHS.UK focus: a yellow ring (outline) and a thick dark inner border (shadow)
    assert "rgb(255, 235, 59)" in ring[0] and float(ring[1].removesuffix("px")) >= 4, ring
    assert "rgb(33, 43, 50)" in ring[2], ring
    assert page.get_by_role("button", name="Send suggestion").get_attribute("class") == (
        "nhsuk-button"
    )
    page.close()


def test_the_wording_follows_the_dates_and_names_the_ward(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-GB")
    expected = {
        "cedar-winter": ("This gap box is open until", "Open until"),
        "cedar-summer": ("It ran from", "Ran from"),
        "cedar-spring": ("It opens on", "Opens on"),
    }
    for box_id, (on_box, on_results) in expected.items():
        for path, words in (
            (f"/public/gap-boxes/{box_id}", on_box),
            (f"/public/gap-boxes/{box_id}/results", on_results),
        ):
            page.goto(server + path)
            main = page.locator("main").inner_text()
            assert words in main, (path, main)
            assert WARD in main, path
            if box_id == "cedar-winter":
                assert "ran from" not in main.lower(), path
            board = page.locator("main a[href='/public/boards/meadowbank-cedar']")
            assert board.count() >= 1, path
            assert page.locator("nav.nhsuk-breadcrumb").count() == 1, path
    page.goto(server + "/public/gap-boxes/cedar-winter/results")
    main = page.locator("main").inner_text()
    assert "A second blanket for everyone" in main and "Everyone now has two blankets." in main
    page.close()


def test_boards_and_the_index_link_only_to_open_boxes(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        for path in (
            "/public",
            "/public/boards/meadowbank-cedar",
            "/public/boards/meadowbank",
            "/public/boards/north-west",
        ):
            text = client.get(path).text
            assert 'href="/public/gap-boxes/cedar-winter"' in text, path
            assert "cedar-summer" not in text and "cedar-spring" not in text, path
        # a board elsewhere in the organisation does not show Cedar's box
        assert "cedar-winter" not in client.get("/public/boards/salford").text
        # the hospital's board names the ward the box belongs to
        hospital = client.get("/public/boards/meadowbank").text
        assert f"{WARD}. Open until" in hospital


def test_an_area_board_names_each_items_ward(server: str, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")
    page.goto(server + "/public/boards/meadowbank")
    cards = page.locator("article.item")
    places = page.locator("article.item .item__place")
    assert cards.count() >= 2 and places.count() == cards.count()
    named = set(places.all_inner_texts())
    assert named <= {f"From {WARD}", "From Willow ward (medium secure)"} and len(named) == 2
    link = places.first.locator("a")
    assert (link.get_attribute("href") or "").startswith("/public/boards/meadowbank-")
    # a ward's own board does not repeat its name on every card
    page.goto(server + "/public/boards/meadowbank-cedar")
    assert page.locator("article.item").count() >= 1
    assert page.locator("article.item .item__place").count() == 0
    page.close()
