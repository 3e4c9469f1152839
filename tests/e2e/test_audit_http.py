"""Audit routes over HTTP on a real SQLite data folder: history, verify, forget."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.e2e.conftest import Api


def test_history_lists_every_event_oldest_first_with_hashes(api: Api) -> None:
    api.organisation()
    item = api.raise_item(contributor="Ada Marker", detail="private words")
    path = f"/api/v1/items/{item['id']}"
    assert api.post(f"{path}/publish", {}).status_code == 200
    assert api.post(f"{path}/respond", {"response": "We will fix it."}).status_code == 200
    auditor = api.user("auditor")

    answer = api.get(f"{path}/history", auditor)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["item_id"] == item["id"]
    assert body["as_of"] is None
    types = [event["type"] for event in body["events"]]
    assert types == ["item_raised", "item_published", "response_posted"]
    assert [event["version"] for event in body["events"]] == [1, 2, 3]
    assert all(len(event["hash"]) == 64 for event in body["events"])
    assert len({event["hash"] for event in body["events"]}) == 3
    raised = body["events"][0]
    assert raised["data"]["contributor"] == "Ada Marker"
    assert raised["data"]["detail"] == "private words"
    assert raised["actor"].startswith("admin-")
    assert body["events"][2]["data"] == {"response": "We will fix it."}
    assert body["state"]["status"] == "responded"
    assert body["state"]["version"] == 3


def test_history_as_of_shows_the_item_as_it_stood(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    path = f"/api/v1/items/{item['id']}"
    api.post(f"{path}/publish", {})
    everything = api.get(f"{path}/history").json()["events"]
    api.post(f"{path}/respond", {"response": "Done soon."})
    as_of = everything[-1]["recorded_at"]

    body = api.get(f"{path}/history", as_of=as_of).json()
    assert [event["version"] for event in body["events"]] == [1, 2]
    assert body["state"]["status"] == "raised"
    assert body["state"]["published"] is True
    assert datetime.fromisoformat(body["as_of"]) == datetime.fromisoformat(as_of)


def test_history_refusals(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    path = f"/api/v1/items/{item['id']}/history"
    secretary = api.user("secretary")
    assert api.get(path, secretary).status_code == 403
    assert api.get("/api/v1/items/nope/history").status_code == 404
    assert api.get(path, as_of="not a date").status_code == 422
    early = api.get(path, as_of="2000-01-01T00:00:00Z")
    assert early.status_code == 404
    assert "did not exist" in early.json()["detail"]


def test_verify_and_forget_roles(api: Api, data_dir: Path) -> None:
    api.organisation()
    api.raise_item(contributor="Bea Example", detail="Quokka-shaped secret")
    auditor = api.user("auditor")
    manager = api.user("manager")
    answer = api.get("/api/v1/audit/verify", auditor)
    assert answer.status_code == 200
    assert answer.json()["ok"] is True
    assert answer.json()["events_checked"] > 0
    assert api.get("/api/v1/audit/verify", manager).status_code == 403
    forget = "/api/v1/contributors/forget"
    assert api.post(forget, {"contributor": "Bea Example"}, auditor).status_code == 403
    assert api.post(forget, {"contributor": ""}).status_code == 422
    done = api.post(forget, {"contributor": "  bea   EXAMPLE "})
    assert done.status_code == 200, done.text
    assert done.json() == {"contributor_erased": True, "items_affected": 1}
    listed = api.get("/api/v1/items").json()
    rows = listed["items"] if isinstance(listed, dict) else listed
    assert [row["contributor"] for row in rows] == ["[erased]"]
    assert api.get("/api/v1/audit/verify", auditor).json()["ok"] is True
    # the server is still running (projection thread included): scan its files now
    for path in data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"Bea Example" not in data, path.name
            assert b"Quokka-shaped" not in data, path.name


def test_history_respects_an_auditors_scope(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    elsewhere = api.raise_item(forum_id="elsewhere-cm")
    auditor = api.user("auditor", "meadowbank")
    assert api.get(f"/api/v1/items/{item['id']}/history", auditor).status_code == 200
    assert api.get(f"/api/v1/items/{elsewhere['id']}/history", auditor).status_code == 403
