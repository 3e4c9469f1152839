"""Outcome areas and themes: a vocabulary per region, offered when logging, and figures by theme.

North West starts with the My Shared Pathway outcome areas (seed 002) and the
common ward themes; its admin edits the list; the meeting log offers it; the public
metrics break the figures down by theme, with small numbers withheld.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api
from tests.e2e.test_staff_pages import Browser

OUTCOME_AREAS = [
    "Mental health recovery",
    "Harm-related behaviours",
    "Problems with substance misuse",
    "Nature of future plans",
    "Physical health status",
    "Life skills",
]
REGION = "/api/v1/regions/north-west/themes"


def put(api: Api, path: str, body: Any, token: str | None = None) -> Any:
    auth = {"Authorization": f"Bearer {token}"} if token else api.admin
    return api.client.put(path, json=body, headers=auth)


def test_a_region_starts_with_the_outcome_areas_and_ward_themes(api: Api) -> None:
    api.organisation()
    answer = api.get("/api/v1/units/cedar/themes", api.user("secretary", "cedar"))
    assert answer.status_code == 200, answer.text
    vocabulary = answer.json()
    assert vocabulary["region_id"] == "north-west"
    assert vocabulary["edited"] is False
    assert vocabulary["themes"][:6] == OUTCOME_AREAS
    for ward_theme in ("Food", "Leave", "Activities", "Visiting", "Estates"):
        assert ward_theme in vocabulary["themes"]


def test_an_admin_edits_a_region_and_every_ward_under_it_offers_it(api: Api) -> None:
    api.organisation()
    answer = put(api, REGION, {"themes": ["Food", " food ", "Fresh  air", "Leave"]})
    assert answer.status_code == 200, answer.text
    # trimmed, spaces folded, each theme once (the first spelling kept)
    assert answer.json() == {
        "region_id": "north-west",
        "themes": ["Food", "Fresh air", "Leave"],
        "edited": True,
    }
    assert api.get("/api/v1/units/willow/themes").json()["themes"] == ["Food", "Fresh air", "Leave"]
    # another region keeps its own
    assert api.get("/api/v1/units/elsewhere/themes").json()["edited"] is False


def test_only_an_admin_covering_the_region_may_edit_it(api: Api) -> None:
    api.organisation()
    body = {"themes": ["Food"]}
    assert put(api, REGION, body, api.user("manager", "north-west")).status_code == 403
    assert put(api, REGION, body, api.user("admin", "elsewhere")).status_code == 403
    assert api.client.put(REGION, json=body).status_code == 401
    # a ward is not a region; an unknown one is not found
    assert put(api, "/api/v1/regions/cedar/themes", body).status_code == 404
    assert put(api, "/api/v1/regions/nowhere/themes", body).status_code == 404
    for bad in (
        {"themes": ["x" * 61]},
        {"themes": ["Food\u0000"]},
        {"themes": [f"Theme {n}" for n in range(101)]},
        {"themes": "Food"},
        {},
    ):
        assert put(api, REGION, bad).status_code == 422, bad
    assert api.get("/api/v1/units/cedar/themes").json()["edited"] is False


def test_the_meeting_log_offers_the_vocabulary_and_still_takes_free_text(api: Api) -> None:
    api.organisation()
    put(api, REGION, {"themes": ["Physical health status", "Food"]})
    browser = Browser(api)
    browser.sign_in(api.user("secretary", "cedar"))
    page = browser.get("/staff/meetings/new")
    assert page.status_code == 200
    assert 'name="theme_1_1" value="Physical health status"' in page.text
    assert 'name="theme_1_2" value="Food"' in page.text
    answer = browser.submit(
        "/staff/meetings/new",
        "/staff/meetings/new",
        {
            "forum_id": "cedar-cm",
            "meeting_date": "2026-11-02",
            "title_1": "Gym",
            "you_said_1": "We want the gym open at weekends.",
            "channel_1": "community_meeting",
            "theme_1_1": "Physical health status",
            "themes_1": "gym, Physical health status",
        },
    )
    assert answer.status_code in (200, 303), answer.text
    items = api.get("/api/v1/items").json()["items"]
    assert [item["themes"] for item in items] == [["Physical health status", "gym"]]


def published(api: Api, themes: list[str]) -> None:
    item = api.raise_item(raised_on="2026-11-20", themes=themes)
    assert api.post(f"/api/v1/items/{item['id']}/publish", {}).status_code == 200


def test_the_public_figures_by_theme_withhold_small_numbers(api: Api) -> None:
    api.organisation()
    for themes in (["Food", "Leave"], ["Food", "Leave"], ["Food", "Leave"], ["Food"], ["Food"]):
        published(api, themes)
    published(api, ["Physical health status"])
    published(api, [])
    answer = api.client.get("/public/api/v1/metrics/themes", params={"unit_id": "cedar"})
    assert answer.status_code == 200, answer.text
    themes = answer.json()
    # most raised first; items raised 3 days ago are not due, so nothing is measured yet
    assert [
        (t["theme"], t["items_raised"], t["open"], t["responded_within_target_pct"])
        for t in themes["themes"]
    ] == [
        ("Food", 5, 5, None),
        ("Leave", None, None, None),
        ("Physical health status", None, None, None),
    ]
    assert themes["suppressed"] == [
        "Leave.items_raised",
        "Leave.open",
        "Physical health status.items_raised",
        "Physical health status.open",
    ]
    page = api.client.get("/public/metrics/cedar")
    assert page.status_code == 200
    assert "Figures by theme, most raised first" in page.text
    assert '<th scope="row">Leave</th><td class="numeric">fewer than 5</td>' in page.text
    assert '<th scope="row">Food</th><td class="numeric">5</td>' in page.text


def test_the_admin_page_edits_the_vocabulary(api: Api) -> None:
    api.organisation()
    browser = Browser(api)
    browser.sign_in("test-admin-token")
    page = browser.get("/staff/themes", region="north-west")
    assert page.status_code == 200
    assert "Mental health recovery" in page.text
    saved = browser.submit(
        "/staff/themes?region=north-west",
        "/staff/themes",
        {"region_id": "north-west", "themes": "Food\r\nLeave\r\n\r\nLife skills"},
    )
    assert saved.status_code == 303, saved.text
    assert api.get("/api/v1/units/cedar/themes").json()["themes"] == [
        "Food",
        "Leave",
        "Life skills",
    ]
    manager = Browser(api)
    manager.sign_in(api.user("manager", "north-west"))
    assert manager.get("/staff/themes").status_code == 403
