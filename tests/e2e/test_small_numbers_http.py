"""Small numbers identify people: public figures from 1 to threshold - 1 are withheld.

Cedar ward's board has seven published items. TODAY is 2026-11-23, and every
answer below is recorded on TODAY, so days to a first response are TODAY minus
``raised_on``. The threshold is 5 unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clock import ticking_clock
from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings

METRICS = "/public/api/v1/metrics"


def published(api: Api, raised_on: str, **extra: Any) -> str:
    item = api.raise_item(raised_on=raised_on, **extra)
    answer = api.post(f"/api/v1/items/{item['id']}/publish", {})
    assert answer.status_code == 200, answer.text
    return str(item["id"])


def act(api: Api, item_id: str, action: str, body: dict[str, str]) -> None:
    answer = api.post(f"/api/v1/items/{item_id}/{action}", body)
    assert answer.status_code == 200, answer.text


def seven_items(api: Api) -> None:
    """Four done (20, 15, 10 and 5 days to answer), one declined (2 days), two open."""
    api.organisation()
    for raised_on in ("2026-11-03", "2026-11-08", "2026-11-13", "2026-11-18"):
        act(api, published(api, raised_on), "complete", {"we_did": "We fixed the machine."})
    act(
        api,
        published(api, "2026-11-21"),
        "decline",
        {"because": "The part is no longer made."},
    )
    published(api, "2026-11-22")
    published(api, "2026-11-22")


def public(api: Api, path: str, **params: Any) -> Any:
    answer = api.client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_counts_below_the_threshold_are_null_and_named(api: Api) -> None:
    seven_items(api)
    figures = public(api, METRICS, unit_id="cedar")
    # 7 raised: shown. open 2, done 4, couldnt_do 1: each from 1 to 4, so null.
    assert figures["items_raised"] == 7
    assert figures["open"] is None
    assert figures["done"] is None
    assert figures["couldnt_do"] is None
    # 0 stays 0
    assert figures["responded"] == 0
    assert figures["overdue"] == 0
    # five first responses, [2, 5, 10, 15, 20] days: enough to show
    assert figures["median_days_to_first_response"] == 10.0
    assert figures["p90_days_to_first_response"] == 18.0  # 15 + 0.6 x (20 - 15)
    assert figures["median_days_to_close"] == 10.0
    assert figures["responded_within_target_pct"] == 100.0
    assert figures["suppressed"] == ["open", "done", "couldnt_do"]


def test_a_median_over_fewer_than_the_threshold_is_null(api: Api) -> None:
    api.organisation()
    for raised_on in ("2026-11-13", "2026-11-18"):
        act(api, published(api, raised_on), "respond", {"response": "We have ordered a part."})
    for _ in range(3):
        published(api, "2026-11-22")
    figures = public(api, METRICS, unit_id="cedar")
    # 5 raised; 2 responded, 3 still open (2 + 3 = 5 items open)
    assert figures["items_raised"] == 5
    assert figures["open"] == 5
    assert figures["responded"] is None
    # over two first responses (10 and 5 days): withheld
    assert figures["median_days_to_first_response"] is None
    assert figures["p90_days_to_first_response"] is None
    # only 2 measured (the open ones are not yet due): withheld
    assert figures["responded_within_target_pct"] is None
    # nothing closed: None because there is nothing to measure, not withheld
    assert figures["median_days_to_close"] is None
    assert figures["suppressed"] == [
        "responded",
        "median_days_to_first_response",
        "p90_days_to_first_response",
        "responded_within_target_pct",
    ]


def test_no_part_can_be_worked_out_by_subtraction(api: Api) -> None:
    """Six raised, five done, one open: the one is withheld, so the five must go too."""
    api.organisation()
    for raised_on in ("2026-11-03", "2026-11-08", "2026-11-13", "2026-11-18", "2026-11-19"):
        act(api, published(api, raised_on), "complete", {"we_did": "We fixed the machine."})
    published(api, "2026-11-22")
    figures = public(api, METRICS, unit_id="cedar")
    assert figures["items_raised"] == 6
    assert figures["open"] is None  # 1
    assert figures["done"] is None  # 5, but 6 - 1 would give the open one away
    assert figures["couldnt_do"] == 0
    assert figures["suppressed"] == ["open", "done"]
    # the page says which is which: the 1 is "fewer than 5", the 5 is only "not shown"
    page = api.client.get("/public/metrics/cedar").text
    assert '<th scope="row">Done</th><td class="numeric">not shown</td>' in page
    assert '<th scope="row">Raised</th><td class="numeric">fewer than 5</td>' in page
    # and the JSON answers never carry the pages' own list
    assert "held_back" not in api.client.get(METRICS, params={"unit_id": "cedar"}).text


def test_the_metrics_page_says_fewer_than_five(api: Api) -> None:
    seven_items(api)
    page = api.client.get("/public/metrics/cedar")
    assert page.status_code == 200
    text = page.text
    assert "fewer than 5" in text
    # the status table: nothing below the threshold is printed as a number
    assert '<td class="numeric">4</td>' not in text
    assert '<td class="numeric">1</td>' not in text


def test_an_empty_window_shows_zeros_not_nulls(api: Api) -> None:
    seven_items(api)
    figures = public(api, METRICS, unit_id="cedar", to="2026-01-01")
    assert figures["items_raised"] == 0
    assert figures["done"] == 0
    assert figures["suppressed"] == []


@pytest.fixture
def api_threshold_3(tmp_path: Path) -> Iterator[Api]:
    settings = Settings(
        data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, small_number_threshold=3
    )
    container = build(settings, clock=ticking_clock())
    with TestClient(create_app(container)) as client:
        yield Api(client)
    container.close()


def test_the_threshold_is_a_setting(api_threshold_3: Api) -> None:
    api = api_threshold_3
    seven_items(api)
    figures = public(api, METRICS, unit_id="cedar")
    # threshold 3: 2 open and 1 declined are withheld; 4 done would then give them away
    # as 7 - 4 = 3, but the two withheld already add up to 3, so 4 stays
    assert figures["open"] is None
    assert figures["couldnt_do"] is None
    assert figures["done"] == 4
    assert figures["suppressed"] == ["open", "couldnt_do"]
    page = api.client.get("/public/metrics/cedar")
    assert "fewer than 3" in page.text


def test_a_bad_threshold_stops_start_up() -> None:
    with pytest.raises(ValueError):
        Settings(small_number_threshold=0)
