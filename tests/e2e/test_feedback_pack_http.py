"""The feedback pack a secretary reads out, and the commissioners' export."""

from __future__ import annotations

import csv
import io

from tests.e2e.conftest import Api


def test_the_pack_lists_what_came_back_since_the_last_meeting(api: Api) -> None:
    api.organisation()
    secretary = api.user("secretary", "cedar")
    answered = api.raise_item(title="Ward phone", you_said="Calls can be overheard.")
    silent = api.raise_item(title="Laundry")
    declined = api.raise_item(title="Garden", you_said="Unescorted garden access.")
    api.post(f"/api/v1/items/{answered['id']}/respond", {"response": "A phone hood is ordered."})
    api.post(
        f"/api/v1/items/{declined['id']}/decline",
        {"because": "Leave is decided at care reviews.", "instead": "Escorted garden hours."},
    )

    pack = api.get("/api/v1/forums/cedar-cm/feedback", secretary, since="2000-01-01").json()

    titles = {entry["item"]["title"]: entry["came_back"] for entry in pack["items"]}
    assert set(titles) == {"Ward phone", "Garden"}
    assert silent["id"] not in {entry["item"]["id"] for entry in pack["items"]}
    assert titles["Ward phone"][0] == {
        "kind": "response",
        "text": "A phone hood is ordered.",
        "recorded_at": titles["Ward phone"][0]["recorded_at"],
    }
    assert titles["Garden"][0]["kind"] == "couldnt_do"
    assert "Escorted garden hours." in titles["Garden"][0]["text"]

    later = api.get("/api/v1/forums/cedar-cm/feedback", secretary, since="2999-01-01").json()
    assert later["items"] == []

    page = api.get("/api/v1/forums/cedar-cm/feedback", secretary, since="2000-01-01", format="html")
    assert page.status_code == 200
    assert "A phone hood is ordered." in page.text and "<h1>" in page.text


def test_the_pack_is_refused_outside_scope_and_for_bad_dates(api: Api) -> None:
    api.organisation()
    willow = api.user("secretary", "willow")
    assert (
        api.get("/api/v1/forums/cedar-cm/feedback", willow, since="2026-01-01").status_code == 403
    )
    assert api.get("/api/v1/forums/cedar-cm/feedback", willow, since="soon").status_code == 422
    assert api.get("/api/v1/forums/nope/feedback", willow, since="2026-01-01").status_code == 404


def test_the_export_has_lifecycle_dates_and_no_personal_data(api: Api) -> None:
    api.organisation()
    item = api.raise_item(
        contributor="Zebedee Marker", detail="private-marker", title="=HYPERLINK(1)"
    )
    api.post(f"/api/v1/items/{item['id']}/complete", {"we_did": "Fixed."})
    answer = api.get("/api/v1/exports/items.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "Zebedee" not in answer.text and "private-marker" not in answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert rows[0]["id"] == item["id"]
    assert rows[0]["status"] == "done"
    assert rows[0]["first_response_at"] == rows[0]["closed_at"] != ""
    assert rows[0]["title"] == "'=HYPERLINK(1)"
