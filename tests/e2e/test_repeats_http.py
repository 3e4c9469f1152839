"""Repeated issues over HTTP: similar candidates, linking, "raised N times", metrics."""

from __future__ import annotations

from tests.clock import days_ago
from tests.e2e.conftest import Api


def test_staff_see_similar_items_and_link_a_repeat(api: Api) -> None:
    api.organisation()
    secretary = api.user("secretary", "cedar")
    outsider = api.user("secretary", "willow")
    original = api.raise_item(
        title="Laundry", you_said="The washing machine is broken.", raised_on=days_ago(30)
    )
    unrelated = api.raise_item(title="Food", you_said="Dinners arrive cold.")
    old = api.raise_item(
        title="Washing machine", you_said="Washing machine broken", raised_on=days_ago(800)
    )
    api.post(f"/api/v1/items/{old['id']}/complete", {"we_did": "Repaired."})
    elsewhere = api.raise_item(
        "willow-cm", title="Laundry", you_said="The washing machine is broken."
    )
    new = api.raise_item(
        title="Washing machine again", you_said="The washing machines are broken again."
    )

    answer = api.get(f"/api/v1/items/{new['id']}/similar", secretary)
    assert answer.status_code == 200, answer.text
    candidates = answer.json()["candidates"]
    ids = [candidate["item"]["id"] for candidate in candidates]
    assert ids[0] == original["id"]
    assert 0 < candidates[0]["score"] <= 1
    assert unrelated["id"] not in ids  # nothing in common
    assert old["id"] not in ids  # closed and more than a year old
    assert elsewhere["id"] not in ids  # another unit
    assert api.get(f"/api/v1/items/{new['id']}/similar", outsider).status_code == 403

    path = f"/api/v1/items/{new['id']}/repeat-of"
    assert api.post(path, {"item_id": new["id"]}, secretary).status_code == 422
    assert api.post(path, {"item_id": "no-such-item"}, secretary).status_code == 404
    assert api.post(path, {"item_id": elsewhere["id"]}, secretary).status_code == 403
    linked = api.post(path, {"item_id": original["id"]}, secretary)
    assert linked.status_code == 200, linked.text
    assert linked.json()["repeat_of"] == original["id"]
    assert api.post(path, {"item_id": unrelated["id"]}, secretary).status_code == 409
    back = api.post(f"/api/v1/items/{original['id']}/repeat-of", {"item_id": new["id"]}, secretary)
    assert back.status_code == 409  # an item cannot repeat a repeat of itself

    stored = api.get(f"/api/v1/items/{original['id']}", secretary).json()
    assert [entry["item_id"] for entry in stored["repeats"]] == [new["id"]]
    assert stored["times_raised"] == 2
    # once linked, the repeat is no longer offered as a candidate for the original
    again = api.get(f"/api/v1/items/{original['id']}/similar", secretary).json()
    assert new["id"] not in [c["item"]["id"] for c in again["candidates"]]


def test_the_board_shows_times_raised_and_the_metrics_count_repeats(counting_api: Api) -> None:
    api = counting_api
    api.organisation()
    original = api.raise_item(title="Laundry", you_said="The washing machine is broken.")
    repeats = [api.raise_item(title="Laundry", you_said="Still broken.") for _ in range(2)]
    for repeat in repeats:
        assert (
            api.post(
                f"/api/v1/items/{repeat['id']}/repeat-of", {"item_id": original["id"]}
            ).status_code
            == 200
        )
    for item in (original, *repeats):
        assert api.post(f"/api/v1/items/{item['id']}/publish", None).status_code == 200

    board = api.client.get("/public/api/v1/boards/cedar").json()
    by_id = {item["id"]: item for item in board["items"]}
    assert by_id[original["id"]]["times_raised"] == 3
    assert by_id[repeats[0]["id"]]["times_raised"] == 1
    page = api.client.get("/public/boards/cedar")
    assert page.status_code == 200 and "Raised 3 times" in page.text

    figures = api.client.get("/public/api/v1/metrics", params={"unit_id": "cedar"}).json()
    assert figures["items_raised"] == 3
    assert figures["repeats"] == 2
