"""Items over HTTP: a ward's community meeting item, through its life."""

from __future__ import annotations

from tests.e2e.conftest import Api


def test_a_manager_completes_an_item_a_secretary_raised(api: Api) -> None:
    api.organisation()
    secretary = api.user("secretary", "cedar")
    manager = api.user("manager", "cedar")
    item = api.raise_item(token=secretary, contributor="Ian", detail="room 4")
    assert item["status"] == "raised" and item["published"] is False and item["version"] == 1

    done = api.post(f"/api/v1/items/{item['id']}/complete", {"we_did": "Replaced it."}, manager)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["we_did"] == "Replaced it."

    listed = api.get("/api/v1/items", secretary, status="done").json()["items"]
    assert [i["id"] for i in listed] == [item["id"]]


def test_a_stale_if_match_is_refused_and_changes_nothing(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    path = f"/api/v1/items/{item['id']}/respond"
    assert api.post(path, {"response": "Booked."}, None, **{"If-Match": "1"}).status_code == 200
    stale = api.post(path, {"response": "Again."}, None, **{"If-Match": "1"})
    assert stale.status_code == 409
    assert api.get(f"/api/v1/items/{item['id']}").json()["version"] == 2


def test_a_body_over_64_kib_is_refused(api: Api) -> None:
    api.organisation()
    answer = api.post("/api/v1/items", {"forum_id": "cedar-cm", "you_said": "x" * 70_000})
    assert answer.status_code == 413
    assert api.get("/api/v1/items").json()["items"] == []
