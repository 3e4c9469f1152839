"""The public diary-room page in a real browser: escaped transcripts, no axe violations.

Same set-up as ``test_public_browser.py``: Debian's Chromium and axe-core from
node_modules. Skips only when the browser is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
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

MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 2000
XSS = "<script>window.hacked = true; alert(1)</script>"
IMG = '<img src=x onerror="window.hacked = true">'
SECRET = "Contributor-Marker-7319"

pytestmark = pytest.mark.skipif(browser_missing(), reason=MISSING)


def seed(client: httpx.Client) -> dict[str, str]:
    api = Api(client)  # type: ignore[arg-type]
    api.organisation()
    pages: dict[str, str] = {}
    for consent in ("internal_only", "may_publish"):
        item = api.raise_item(channel="diary_room", contributor=SECRET, detail=SECRET)
        uploaded = client.post(
            f"/api/v1/items/{item['id']}/clips",
            files={"file": ("diary.mp4", MP4, "video/mp4")},
            data={"consent": consent},
            headers=api.admin,
        )
        assert uploaded.status_code == 201, uploaded.text
        clip_id = uploaded.json()["id"]
        transcript = api.post(
            f"/api/v1/clips/{clip_id}/transcript",
            {"text": f"I said the food is cold. {XSS} {IMG}", "publish": True},
        )
        assert transcript.status_code == 200, transcript.text
        assert api.post(f"/api/v1/items/{item['id']}/publish", {}).status_code == 200
        pages[consent] = f"/public/items/{item['id']}/clips"
    return pages


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("clips-browser") / "yswd-data"
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    with served(container) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            pages = seed(client)
        yield base, pages


@pytest.mark.parametrize("consent", ["internal_only", "may_publish"])
def test_the_diary_room_page_escapes_transcripts_and_passes_axe(
    server: tuple[str, dict[str, str]], browser: Any, consent: str
) -> None:
    base, pages = server
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(base + pages[consent])
    page.wait_for_load_state("load")
    assert page.evaluate("() => window.hacked === undefined")
    assert dialogs == []
    quote = page.locator("blockquote").inner_text()
    assert XSS in quote and IMG in quote  # shown as text, never run
    assert SECRET not in page.content()
    assert (page.locator("video").count() == 1) is (consent == "may_publish")
    violations = axe_violations(page)
    context.close()
    assert violations == [], violations
