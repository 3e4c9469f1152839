"""Are responses getting faster? The metrics month by month (``/public/api/v1/metrics/monthly``).

TODAY is 2026-11-23 and every answer is recorded on TODAY, so an item raised on
2026-09-01 and answered now took 83 days. The target is 28 days after raising.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api

MONTHLY = "/public/api/v1/metrics/monthly"


def published(api: Api, raised_on: str, forum_id: str = "cedar-cm") -> str:
    item = api.raise_item(forum_id, raised_on=raised_on)
    answer = api.post(f"/api/v1/items/{item['id']}/publish", {})
    assert answer.status_code == 200, answer.text
    return str(item["id"])


def act(api: Api, item_id: str, action: str, body: dict[str, str]) -> None:
    answer = api.post(f"/api/v1/items/{item_id}/{action}", body)
    assert answer.status_code == 200, answer.text


def monthly(api: Api, **params: Any) -> Any:
    answer = api.client.get(MONTHLY, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def september_and_november(api: Api) -> None:
    """September: five done, 79 to 83 days. November: five answered in 18 to 22 days, one open."""
    api.organisation()
    for day in range(1, 6):
        act(api, published(api, f"2026-09-0{day}"), "complete", {"we_did": "We mended it."})
    for day in range(1, 6):
        act(api, published(api, f"2026-11-0{day}"), "respond", {"response": "Ordered a part."})
    published(api, "2026-11-06")
    published(api, "2026-11-06", forum_id="willow-cm")  # another ward: not Cedar's


def test_each_month_has_the_metrics_fields(api: Api) -> None:
    september_and_november(api)
    answer = monthly(api, unit_id="cedar")
    zero = {
        "responded": 0,
        "couldnt_do": 0,
        "overdue": 0,
        "repeats": 0,
        "referral_steps": [],
        "referral_destinations": [],
        "suppressed": [],
    }
    assert answer["months"] == [
        {
            "month": "2026-09",
            **zero,
            "items_raised": 5,
            "open": 0,
            "done": 5,
            "median_days_to_first_response": 81.0,
            "p90_days_to_first_response": 82.6,  # 82 + 0.6 x (83 - 82)
            "median_days_to_close": 81.0,
            # answered on 23 November, all long after their targets (29 September to 3 October)
            "responded_within_target_pct": 0.0,
        },
        {
            # nothing raised in October: a month of zeros between the two
            "month": "2026-10",
            **zero,
            "items_raised": 0,
            "open": 0,
            "done": 0,
            "median_days_to_first_response": None,
            "p90_days_to_first_response": None,
            "median_days_to_close": None,
            "responded_within_target_pct": None,
        },
        {
            "month": "2026-11",
            **zero,
            "items_raised": 6,
            "open": 6,
            "responded": 5,
            "done": 0,
            "median_days_to_first_response": 20.0,
            "p90_days_to_first_response": 21.6,
            "median_days_to_close": None,
            # the five answered before their targets; the open one is not due yet
            "responded_within_target_pct": 100.0,
        },
    ]
    assert answer["suppressed"] == []


def test_the_window_picks_the_months(api: Api) -> None:
    september_and_november(api)
    answer = monthly(api, unit_id="cedar", **{"from": "2026-11-01", "to": "2026-11-30"})
    assert [month["month"] for month in answer["months"]] == ["2026-11"]
    # the whole organisation: Willow's November item joins Cedar's
    answer = monthly(api, **{"from": "2026-11-01"})
    assert [(m["month"], m["items_raised"]) for m in answer["months"]] == [("2026-11", 7)]


def test_small_months_are_withheld_and_cannot_be_subtracted(api: Api) -> None:
    api.organisation()
    for day in range(1, 6):
        act(api, published(api, f"2026-09-0{day}"), "complete", {"we_did": "We mended it."})
    for day in (1, 2):
        act(api, published(api, f"2026-10-0{day}"), "complete", {"we_did": "We mended it."})
    # the window's metrics show 7 raised and 7 done...
    window = api.client.get("/public/api/v1/metrics", params={"unit_id": "cedar"}).json()
    assert (window["items_raised"], window["done"]) == (7, 7)
    september, october = monthly(api, unit_id="cedar")["months"]
    # ...so October's 2 is withheld, and September's 5 too: 7 - 5 would give it away
    assert (september["items_raised"], september["done"]) == (None, None)
    assert (october["items_raised"], october["done"]) == (None, None)
    # September's times are over five items: shown. October's are over two: withheld
    assert september["median_days_to_first_response"] == 81.0
    assert october["median_days_to_first_response"] is None
    assert october["suppressed"] == [
        "items_raised",
        "done",
        "median_days_to_first_response",
        "p90_days_to_first_response",
        "median_days_to_close",
        "responded_within_target_pct",
    ]
    assert september["suppressed"] == ["items_raised", "done"]
    assert monthly(api, unit_id="cedar")["suppressed"] == [
        "2026-09.items_raised",
        "2026-09.done",
        *(f"2026-10.{name}" for name in october["suppressed"]),
    ]


def test_bad_queries_are_4xx(api: Api) -> None:
    api.organisation()
    assert api.client.get(MONTHLY, params={"unit_id": "nowhere"}).status_code == 404
    assert api.client.get(MONTHLY, params={"to": "0"}).status_code == 422
    assert monthly(api, unit_id="cedar") == {"months": [], "suppressed": []}


def test_the_metrics_page_has_the_trend_charts_and_their_table(api: Api) -> None:
    september_and_november(api)
    page = api.client.get("/public/metrics/cedar")
    assert page.status_code == 200
    text = page.text
    assert "Bar chart: typical days to a first response, by month" in text
    assert "Bar chart: share answered within the target time, by month" in text
    # the charts' text alternatives carry the figures, and so does the table
    assert "2026-09: 81 days; 2026-10: no first responses; 2026-11: 20 days." in text
    assert "2026-09: 0.0%; 2026-10: nothing to measure yet; 2026-11: 100.0%." in text
    assert '<th scope="row">2026-10</th>' in text
