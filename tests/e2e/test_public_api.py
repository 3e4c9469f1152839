"""The public board and metrics over HTTP: contents, order, paging, 404s and privacy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.clock import TODAY
from tests.e2e.conftest import Api

SECRET_NAME = "Zebedee-Contributor-7731"
SECRET_DETAIL = "private-detail-marker-4412"
ORIGINAL_WORDING = "original-wording-marker-9034"


def public_get(api: Api, path: str, **params: Any) -> Any:
    return api.client.get(path, params=params)


def publish(api: Api, item_id: str, you_said: str | None = None) -> None:
    body = {"you_said": you_said} if you_said else {}
    answer = api.post(f"/api/v1/items/{item_id}/publish", body)
    assert answer.status_code == 200, answer.text


def act(api: Api, item_id: str, action: str, body: dict[str, Any]) -> None:
    answer = api.post(f"/api/v1/items/{item_id}/{action}", body)
    assert answer.status_code == 200, answer.text


def plant_board(api: Api) -> dict[str, str]:
    """Items across the tree; returns their ids by name."""
    api.organisation()
    ids: dict[str, str] = {}
    ids["laundry"] = api.raise_item(
        title="Laundry",
        you_said=ORIGINAL_WORDING,
        contributor=SECRET_NAME,
        detail=SECRET_DETAIL,
        themes=["facilities"],
    )["id"]
    ids["garden"] = api.raise_item(
        "willow-cm", title="Garden", raised_on="2026-10-20", themes=["outdoors"]
    )["id"]
    ids["hidden"] = api.raise_item(title="Never published", contributor=SECRET_NAME)["id"]
    ids["elsewhere"] = api.raise_item("elsewhere-cm", title="Other trust")["id"]
    publish(api, ids["laundry"], "The washing machine is broken.")
    publish(api, ids["garden"])
    publish(api, ids["elsewhere"])
    act(api, ids["laundry"], "respond", {"response": "An engineer is booked."})
    act(api, ids["laundry"], "complete", {"we_did": "We replaced the machine."})
    act(api, ids["garden"], "decline", {"because": "It is not ours.", "instead": "We asked."})
    return ids


def test_board_shows_published_items_of_the_subtree_newest_activity_first(api: Api) -> None:
    ids = plant_board(api)
    answer = public_get(api, "/public/api/v1/boards/meadowbank")
    assert answer.status_code == 200, answer.text
    board = answer.json()
    assert board["unit"] == {"id": "meadowbank", "name": "Meadowbank"}
    # garden was declined after laundry was completed: newest activity first
    assert [item["id"] for item in board["items"]] == [ids["garden"], ids["laundry"]]
    assert board["counts"] == {
        "raised": 0,
        "referred": 0,
        "responded": 0,
        "done": 1,
        "couldnt_do": 1,
    }
    laundry = board["items"][1]
    assert laundry["you_said"] == "The washing machine is broken."
    assert laundry["status"] == "done" and laundry["we_did"] == "We replaced the machine."
    assert laundry["raised_on"] == "2026-11-02" and laundry["verified"] is False
    assert [set(r) for r in laundry["responses"]] == [{"response", "recorded_at"}]
    assert laundry["responses"][0]["response"] == "An engineer is booked."
    for field in ("id", "title", "because", "instead", "updated_at"):
        assert field in laundry
    garden = board["items"][0]
    assert (garden["because"], garden["instead"]) == ("It is not ours.", "We asked.")

    cedar = public_get(api, "/public/api/v1/boards/cedar").json()
    assert [item["id"] for item in cedar["items"]] == [ids["laundry"]]
    top = public_get(api, "/public/api/v1/boards/north-west").json()
    assert ids["elsewhere"] not in [item["id"] for item in top["items"]]


def test_board_filters_and_pages_with_counts_over_the_whole_subtree(api: Api) -> None:
    ids = plant_board(api)
    only_done = public_get(api, "/public/api/v1/boards/meadowbank", status="done").json()
    assert [item["id"] for item in only_done["items"]] == [ids["laundry"]]
    assert only_done["counts"]["couldnt_do"] == 1
    outdoors = public_get(api, "/public/api/v1/boards/meadowbank", theme="outdoors").json()
    assert [item["id"] for item in outdoors["items"]] == [ids["garden"]]
    assert public_get(api, "/public/api/v1/boards/meadowbank", theme="out").json()["items"] == []

    first = public_get(api, "/public/api/v1/boards/meadowbank", limit=1).json()
    second = public_get(api, "/public/api/v1/boards/meadowbank", limit=1, page=2).json()
    third = public_get(api, "/public/api/v1/boards/meadowbank", limit=1, page=3).json()
    assert [i["id"] for i in first["items"] + second["items"]] == [ids["garden"], ids["laundry"]]
    assert third["items"] == [] and third["counts"]["done"] == 1


def test_board_refuses_bad_paging_and_unknown_units(api: Api) -> None:
    api.organisation()
    for params in ({"page": 0}, {"page": "x"}, {"limit": 0}, {"limit": 101}, {"status": "x"}):
        answer = public_get(api, "/public/api/v1/boards/cedar", **params)
        assert answer.status_code == 422, (params, answer.text)
    assert public_get(api, "/public/api/v1/boards/nowhere").status_code == 404
    assert public_get(api, "/public/boards/nowhere").status_code == 404
    assert "Page not found" in public_get(api, "/public/boards/nowhere").text
    assert public_get(api, "/public/metrics/nowhere").status_code == 404
    assert public_get(api, "/public/boards/nowhere/feed.atom").status_code == 404
    assert public_get(api, "/public/boards/nowhere/poster").status_code == 404


def test_a_published_item_is_visible_at_once_and_read_your_writes_is_accepted(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    answer = api.post(f"/api/v1/items/{item['id']}/publish", {})
    position = answer.headers.get("X-Yswd-Position")
    assert position is not None
    board = public_get(api, "/public/api/v1/boards/cedar", min_position=position).json()
    assert [i["id"] for i in board["items"]] == [item["id"]]
    assert public_get(api, "/public/api/v1/boards/cedar", min_position=-1).status_code == 422


def test_nothing_personal_or_private_reaches_any_public_output(api: Api) -> None:
    plant_board(api)
    pages = [
        "/public/api/v1/boards/north-west",
        "/public/api/v1/boards/cedar",
        "/public/api/v1/metrics",
        "/public",
        "/public/boards/north-west",
        "/public/boards/cedar",
        "/public/boards/cedar?status=done",
        "/public/metrics/cedar",
        "/public/boards/cedar/feed.atom",
        "/public/boards/cedar/poster",
    ]
    for path in pages:
        answer = api.client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        for secret in (SECRET_NAME, SECRET_DETAIL, ORIGINAL_WORDING, "detail", "contributor"):
            assert secret not in answer.text, (path, secret)
        assert "A secretary" not in answer.text and "admin" not in answer.text.lower()
    board_html = api.client.get("/public/boards/cedar").text
    assert "The washing machine is broken." in board_html
    assert "We replaced the machine." in board_html
    never = api.client.get("/public/boards/north-west").text
    assert "Never published" not in never


def test_pages_escape_what_people_wrote(api: Api) -> None:
    api.organisation()
    nasty = "<script>alert('x')</script> & <b>"
    item = api.raise_item(title=nasty, you_said=nasty)
    publish(api, item["id"])
    act(api, item["id"], "complete", {"we_did": nasty})
    for path in ("/public/boards/cedar", "/public/boards/cedar/poster"):
        text = api.client.get(path).text
        assert "<script>alert" not in text and "&lt;script&gt;" in text
    feed = api.client.get("/public/boards/cedar/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert "<script>alert" not in feed.text and "&lt;script&gt;" in feed.text
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.find("a:entry/a:title", ns) is not None
    assert nasty in (root.find("a:entry/a:title", ns).text or "")  # type: ignore[union-attr]


def test_metrics_over_http_follow_the_contract_definitions(api: Api) -> None:
    api.organisation()

    def raised(days_ago: int, **extra: Any) -> str:
        on = (TODAY - timedelta(days=days_ago)).isoformat()
        item_id = str(api.raise_item(raised_on=on, **extra)["id"])
        publish(api, item_id)
        return item_id

    answered = raised(10)  # first response today: 10 days, on time
    act(api, answered, "respond", {"response": "Looking into it."})
    late = raised(40)  # first response today: 40 days, after its 28-day target
    act(api, late, "complete", {"we_did": "Fixed."})
    raised(30)  # open, past target, no response: overdue
    raised(2)  # open, target ahead: not measured
    due_soon = raised(20)
    act(
        api,
        due_soon,
        "refer",
        {"to_unit_id": "willow", "due_on": (TODAY - timedelta(days=1)).isoformat()},
    )  # due date passed, no response: overdue
    unpublished = api.raise_item(raised_on=(TODAY - timedelta(days=50)).isoformat())
    act(api, unpublished["id"], "respond", {"response": "Not public."})
    raised(5, forum_id="elsewhere-cm")

    answer = public_get(api, "/public/api/v1/metrics", unit_id="meadowbank")
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    extras = {"repeats", "referral_steps", "referral_destinations"}  # not in the contract
    # small numbers (contract 1.1, threshold 5): the figures below 5, and those computed
    # over fewer than 5 items, are null. The definitions' hand-worked answers over these
    # rows (open 4, responded 1, done 1, medians 25.0 / 37.0 / 40.0, 25.0%, overdue 2)
    # are kept in tests/unit/test_response_times.py.
    assert {key: value for key, value in figures.items() if key not in extras} == {
        "items_raised": 5,
        "open": None,
        "responded": None,
        "done": None,
        "couldnt_do": 0,
        "median_days_to_first_response": None,  # over 2
        "p90_days_to_first_response": None,
        "median_days_to_close": None,  # over 1
        "responded_within_target_pct": None,  # over 4 measured
        "overdue": None,
        "suppressed": [
            "open",
            "responded",
            "done",
            "median_days_to_first_response",
            "p90_days_to_first_response",
            "median_days_to_close",
            "responded_within_target_pct",
            "overdue",
            # the one referral (referred 1, answered 0), per step and per destination
            "referral_steps[0].referred",
            "referral_destinations[0].referred",
        ],
    }
    everywhere = public_get(api, "/public/api/v1/metrics").json()
    assert everywhere["items_raised"] == 6
    window = public_get(
        api,
        "/public/api/v1/metrics",
        unit_id="cedar",
        **{"from": (TODAY - timedelta(days=30)).isoformat(), "to": TODAY.isoformat()},
    ).json()
    assert window["items_raised"] is None  # 4
    only_old = public_get(
        api, "/public/api/v1/metrics", unit_id="cedar", to=(TODAY - timedelta(days=40)).isoformat()
    ).json()
    assert only_old["items_raised"] is None and only_old["median_days_to_close"] is None  # 1, 40.0
    empty = public_get(api, "/public/api/v1/metrics", unit_id="willow").json()
    assert empty["items_raised"] == 0 and empty["median_days_to_first_response"] is None

    assert public_get(api, "/public/api/v1/metrics", unit_id="nowhere").status_code == 404
    assert public_get(api, "/public/api/v1/metrics", **{"from": "2026-13-01"}).status_code == 422
    assert public_get(api, "/public/api/v1/metrics", to="yesterday").status_code == 422
    page = api.client.get("/public/metrics/meadowbank")
    assert page.status_code == 200 and "Fewer than 5 items: not shown" in page.text
    assert api.client.get("/public/metrics/meadowbank?from=nonsense").status_code == 422


def test_new_activity_moves_an_item_to_the_top(api: Api) -> None:
    ids = plant_board(api)
    act(api, ids["laundry"], "verify", {"confirmed": True})
    board = public_get(api, "/public/api/v1/boards/meadowbank").json()
    assert [item["id"] for item in board["items"]] == [ids["laundry"], ids["garden"]]
    assert board["items"][0]["verified"] is True
    html = api.client.get("/public/boards/meadowbank").text
    assert html.index("Laundry") < html.index("Garden")
    assert "Checked: people told us the change really happened." in html


def test_index_lists_every_unit_as_a_tree(api: Api) -> None:
    api.organisation()
    html = api.client.get("/public").text
    for unit_id in ("north-west", "meadowbank", "cedar", "willow", "elsewhere"):
        assert f'href="/public/boards/{unit_id}"' in html
    # children are nested inside their parent's list, after it
    assert html.index("North West") < html.index("Meadowbank") < html.index("Cedar ward")
    assert html.count('<ul class="tree">') == 3  # roots, North West's, Meadowbank's
