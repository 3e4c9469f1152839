"""Bulk publish and bulk refer over HTTP: all or nothing, with a result per item."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api


def raise_items(api: Api, count: int, forum_id: str = "cedar-cm") -> list[str]:
    return [api.raise_item(forum_id, title=f"Item {n}")["id"] for n in range(count)]


def events_of(api: Api, item_id: str) -> int:
    return int(api.get(f"/api/v1/items/{item_id}").json()["version"])


def test_a_moderator_publishes_many_items_in_one_go(api: Api) -> None:
    api.organisation()
    ids = raise_items(api, 3)
    moderator = api.user("moderator", "meadowbank")
    answer = api.post("/api/v1/items/bulk/publish", {"item_ids": ids}, moderator)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["changed"] is True
    assert [(r["item_id"], r["status"]) for r in body["results"]] == [(i, 200) for i in ids]
    assert "X-Yswd-Position" in answer.headers
    for item_id in ids:
        assert api.get(f"/api/v1/items/{item_id}").json()["published"] is True
    board = api.client.get("/public/api/v1/boards/cedar").json()
    assert {item["id"] for item in board["items"]} == set(ids)
    # doing it again changes nothing and says so
    again = api.post("/api/v1/items/bulk/publish", {"item_ids": ids}, moderator).json()
    assert again["changed"] is False
    assert all(r["status"] == 200 and r["detail"] == "Already published." for r in again["results"])


def test_one_bad_item_refuses_the_whole_batch(api: Api) -> None:
    api.organisation()
    ours = raise_items(api, 2)
    theirs = api.raise_item("elsewhere-cm")["id"]
    closed = api.raise_item()["id"]
    api.post(f"/api/v1/items/{closed}/complete", {"we_did": "Fixed."})
    manager = api.user("manager", "meadowbank")
    versions = {item_id: events_of(api, item_id) for item_id in [*ours, theirs, closed]}
    answer = api.post(
        "/api/v1/items/bulk/refer",
        {"item_ids": [*ours, theirs, "no-such-item", closed], "to_unit_id": "willow"},
        manager,
    )
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["changed"] is False and "nothing was changed" in body["detail"]
    assert [(r["item_id"], r["status"]) for r in body["results"]] == [
        (ours[0], 200),
        (ours[1], 200),
        (theirs, 403),
        ("no-such-item", 404),
        (closed, 409),
    ]
    assert all("detail" in r for r in body["results"] if r["status"] != 200)
    assert {item_id: events_of(api, item_id) for item_id in versions} == versions


def test_a_manager_refers_many_items_with_one_due_date(api: Api) -> None:
    api.organisation()
    ids = raise_items(api, 4)
    manager = api.user("manager", "meadowbank")
    answer = api.post(
        "/api/v1/items/bulk/refer",
        {"item_ids": ids, "to_unit_id": "willow", "due_on": "2026-12-01", "note": "Estates"},
        manager,
    )
    assert answer.status_code == 200, answer.text
    assert all(r["status"] == 200 and r["version"] == 2 for r in answer.json()["results"])
    for item_id in ids:
        item = api.get(f"/api/v1/items/{item_id}").json()
        assert item["status"] == "referred"
        assert item["referred_to"] == "willow" and item["due_on"] == "2026-12-01"
    inbox = api.get("/api/v1/items", manager, referred_to="willow").json()["items"]
    assert {item["id"] for item in inbox} == set(ids)


def test_a_due_date_before_an_item_was_raised_refuses_the_batch(api: Api) -> None:
    api.organisation()
    ids = raise_items(api, 2)
    answer = api.post(
        "/api/v1/items/bulk/refer",
        {"item_ids": ids, "to_unit_id": "willow", "due_on": "2026-01-01"},
    )
    assert answer.status_code == 409
    assert {r["status"] for r in answer.json()["results"]} == {422}
    assert all(events_of(api, item_id) == 1 for item_id in ids)


def test_who_may_act_in_bulk(api: Api) -> None:
    api.organisation()
    ids = raise_items(api, 2)
    refer: dict[str, Any] = {"item_ids": ids, "to_unit_id": "willow"}
    assert api.client.post("/api/v1/items/bulk/publish", json={"item_ids": ids}).status_code == 401
    for token in (api.user("secretary", "cedar"), api.user("manager", "cedar")):
        refused = api.post("/api/v1/items/bulk/publish", {"item_ids": ids}, token)
        assert refused.status_code == 403
    for token in (api.user("moderator", "cedar"), api.user("auditor")):
        assert api.post("/api/v1/items/bulk/refer", refer, token).status_code == 403
    outsider = api.user("manager", "elsewhere")
    outside = api.post("/api/v1/items/bulk/refer", refer, outsider)
    assert outside.status_code == 409
    assert {r["status"] for r in outside.json()["results"]} == {403}
    assert all(events_of(api, item_id) == 1 for item_id in ids)


def test_malformed_batches_are_422(api: Api) -> None:
    api.organisation()
    ids = raise_items(api, 1)
    for body in (
        {"item_ids": []},
        {"item_ids": [f"id-{n}" for n in range(201)]},
        {"item_ids": "not-a-list"},
        {"item_ids": [""]},
        {},
    ):
        assert api.post("/api/v1/items/bulk/publish", body).status_code == 422, body
    for body in (
        {"item_ids": ids},
        {"item_ids": ids, "to_unit_id": "Not A Slug"},
        {"item_ids": ids, "to_unit_id": "willow", "due_on": "1/12/2026"},
        {"item_ids": ids, "to_unit_id": "willow", "note": ""},
    ):
        assert api.post("/api/v1/items/bulk/refer", body).status_code == 422, body
    assert (
        api.post("/api/v1/items/bulk/refer", {"item_ids": ids, "to_unit_id": "nowhere"}).status_code
        == 404
    )
    assert events_of(api, ids[0]) == 1
    # 200 distinct ids is the most one batch may name; repeats count once
    many = api.post("/api/v1/items/bulk/publish", {"item_ids": ids * 300})
    assert many.status_code == 422  # more than 200 entries, even if repeated
    repeated = api.post("/api/v1/items/bulk/publish", {"item_ids": ids * 3})
    assert repeated.status_code == 200 and len(repeated.json()["results"]) == 1


def test_bulk_paths_are_not_taken_for_item_ids(api: Api) -> None:
    api.organisation()
    assert api.get("/api/v1/items/bulk").status_code == 404  # no item is called "bulk"
