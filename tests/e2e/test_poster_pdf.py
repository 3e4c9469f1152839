"""The ward poster printed by a real browser: always exactly one A4 page.

Chromium renders the poster for print (``emulate_media(media="print")``) and
``page.pdf(format="A4")`` makes the sheet; the PDF's pages are counted. A ward
holding many long outcomes, its hospital's area poster (naming each ward) and
the demo's wards are printed in standard and in large print. Nothing is cut
off either: the poster clips its item area rather than run onto a second page,
so each area must hold all it shows (``scrollHeight`` within ``clientHeight``).
The QR code is inline SVG that the CSP allows, the address under it is the
short ``/b/{unit}`` under ``YSWD_PUBLIC_URL``, and that address leads to the board.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
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
    sideways_scroll,
)
from tests.e2e.conftest import ADMIN_TOKEN
from yswd.adapters.demo import load_demo
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)

PUBLIC_URL = "https://yswd.example.nhs.uk"
ARTIFACTS = Path(__file__).parent / "artifacts"
#: long enough that no poster could show them whole, or show many of them
LONG = (
    "The ward gets very cold at night because the heating goes off at ten and the windows "
    "in the lounge do not close properly, so people sit in their coats and cannot sleep, "
    "and when we asked at the community meeting we were told it would be looked at, but "
    "weeks went by and nothing changed, which makes people feel nobody is listening. "
)


def fill_ward(container: Container, count: int = 16) -> None:
    """A hospital with two wards: Rowan holds ``count`` long outcomes, Alder a few."""
    app = container.app
    app.create_unit(SYSTEM, "north", "North", None)
    app.create_unit(SYSTEM, "riverside", "Riverside hospital", "north")
    app.create_unit(SYSTEM, "rowan", "Rowan ward (a long name for a ward, to wrap)", "riverside")
    app.create_unit(SYSTEM, "alder", "Alder ward", "riverside")
    app.create_forum(
        SYSTEM, "rowan-cm", "Rowan ward community meeting", "rowan", ForumKind.COMMUNITY_MEETING
    )
    app.create_forum(
        SYSTEM, "alder-cm", "Alder ward community meeting", "alder", ForumKind.COMMUNITY_MEETING
    )
    for n in range(count):
        forum = "alder-cm" if n % 5 == 4 else "rowan-cm"
        item = app.raise_item(
            SYSTEM,
            forum_id=forum,
            channel=Channel.COMMUNITY_MEETING,
            raised_on=TODAY - timedelta(days=40 - n),
            title=f"Item {n}: heating, windows, blankets and the night-time temperature",
            you_said=(LONG * 3)[:1500],
            themes=["facilities"],
        ).value
        app.publish(SYSTEM, item.item_id, None, None)
        if n % 3 == 0:
            app.decline(SYSTEM, item.item_id, LONG * 2, LONG, None)
        else:
            app.complete(SYSTEM, item.item_id, LONG * 2, None)
    container.gap_boxes.create_box(
        SYSTEM,
        box_id="rowan-nights",
        unit_id="rowan",
        forum_id="rowan-cm",
        question="What would help you sleep better on the ward at night, "
        "when it is cold and noisy and the lights are on in the corridor?",
        opens_on=TODAY - timedelta(days=3),
        closes_on=TODAY + timedelta(days=30),
    )
    container.runner.catch_up()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("poster") / "data"
    settings = Settings(data_dir=data, admin_token=ADMIN_TOKEN, public_url=PUBLIC_URL)
    container = build(settings, clock=ticking_clock())
    load_demo(container)
    fill_ward(container)
    with served(container) as base:
        yield base


def pdf_pages(pdf: bytes) -> int:
    """How many pages a PDF has: its ``/Type /Page`` objects (not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def clipped(page: Any) -> list[str]:
    """The poster's areas whose content runs past their height (cut off in print)."""
    return list(
        page.evaluate(
            """() => [...document.querySelectorAll('.poster, .poster__items, .poster__foot')]
                .filter((el) => el.scrollHeight > el.clientHeight + 1)
                .map((el) => `${el.className}: ${el.scrollHeight} > ${el.clientHeight}`)"""
        )
    )


def print_poster(browser: Any, url: str, shot: str) -> tuple[int, list[str], Any]:
    """(PDF pages, clipped areas, the page) of the poster at ``url``, rendered for print."""
    page = browser.new_page(viewport={"width": 794, "height": 1123}, locale="en-GB")
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, url
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".poster").screenshot(path=str(ARTIFACTS / f"poster-{shot}.png"))
    return pdf_pages(pdf), clipped(page), page


@pytest.mark.parametrize("size", ["", "large"])
@pytest.mark.parametrize("unit", ["rowan", "riverside", "meadowbank-cedar", "north-west"])
def test_the_poster_is_always_one_a4_page(server: str, browser: Any, unit: str, size: str) -> None:
    query = "?size=large" if size else ""
    pages, cut_off, page = print_poster(
        browser, f"{server}/public/boards/{unit}/poster{query}", f"{unit}-{size or 'standard'}"
    )
    shown = page.locator(".poster__item").count()
    more = page.locator(".poster__more").all_inner_texts()
    assert csp_violations(page) == []
    page.close()
    assert pages == 1, (unit, size, pages)
    assert cut_off == [], (unit, size, cut_off)
    assert shown >= 1, (unit, size)
    if unit == "rowan":
        # 16 outcomes cannot all fit: the poster says how many more the board has
        with httpx.Client(base_url=server) as client:
            total = client.get(f"/public/api/v1/boards/{unit}", params={"limit": 100}).json()[
                "counts"
            ]
        outcomes = total["done"] + total["couldnt_do"] + total["responded"]
        assert more == [f"And {outcomes - shown} more on our board."], (shown, more)


def test_large_print_is_larger_and_shows_fewer(server: str, browser: Any) -> None:
    found = {}
    for size in ("", "large"):
        page = browser.new_page(viewport={"width": 794, "height": 1123})
        page.goto(f"{server}/public/boards/rowan/poster{'?size=large' if size else ''}")
        page.emulate_media(media="print")
        body = page.locator(".poster__item p").first.evaluate(
            "(el) => parseFloat(getComputedStyle(el).fontSize)"
        )
        found[size] = (body, page.locator(".poster__item").count())
        page.close()
    (standard, standard_count), (large, large_count) = found[""], found["large"]
    assert standard >= 19.9  # 15 pt, in CSS pixels
    assert large >= 27.9 and large > standard  # 21 pt
    assert large_count <= standard_count


def test_the_poster_names_the_ward_tells_how_and_prints_the_short_address(
    server: str, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 794, "height": 1123})
    page.goto(f"{server}/public/boards/riverside/poster")
    page.emulate_media(media="print")
    text = page.locator(".poster").inner_text()
    # an area's poster names each item's ward
    places = page.locator(".poster__place").all_inner_texts()
    assert places and all(place.startswith("From ") for place in places)
    assert "From Rowan ward" in text
    # how to tell us: the open gap box (with its address); the forums of the unit and above
    assert "How to tell us" in text
    assert "In the gap box for Rowan ward (a long name for a ward, to wrap), open until" in text
    assert "yswd.example.nhs.uk/public/gap-boxes/rowan-nights" in text
    # the short address under the public URL, never the server's own
    assert "yswd.example.nhs.uk/b/riverside" in text
    assert "127.0.0.1" not in page.content()
    qr = page.locator("svg.poster__qr")
    assert qr.count() == 1 and qr.get_attribute("role") == "img"
    assert "yswd.example.nhs.uk/b/riverside" in (qr.get_attribute("aria-label") or "")
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 150  # about 4 cm across on paper
    page.goto(f"{server}/public/boards/rowan/poster")
    text = page.locator(".poster").inner_text()
    assert "At the Rowan ward community meeting" in text
    assert "In our gap box, open until" in text
    page.close()


def test_the_short_address_leads_to_the_board(server: str) -> None:
    with httpx.Client(base_url=server) as client:
        answer = client.get("/b/rowan")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/public/boards/rowan"
        assert client.get("/b/no-such-unit").status_code == 404


@pytest.mark.parametrize("width", [1280, 390, 320])
def test_the_poster_on_screen_passes_axe_and_fits_the_window(
    server: str, browser: Any, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 800}, locale="en-GB")
    found = {}
    for path in ("/public/boards/rowan/poster", "/public/boards/riverside/poster?size=large"):
        page.goto(server + path)
        problems = axe_violations(page)
        wider = sideways_scroll(page)
        if wider > 0:
            problems.append(f"scrolls sideways by {wider} px")
        found[path] = problems
    page.close()
    assert not {path: problems for path, problems in found.items() if problems}, found
