"""The Citizen's View flow over HTTP: Development Board -> Partnership Board and back,
the receiving forum's agenda, lack-of-progress notes, and per-step metrics."""

from __future__ import annotations

from tests.clock import TODAY, days_ago
from tests.e2e.conftest import Api

XSS = '<script>alert("x")</script>'


def boards(api: Api) -> None:
    api.organisation()
    for forum in (
        {
            "id": "dev-board",
            "name": "Development Board",
            "unit_id": "meadowbank",
            "kind": "development_board",
        },
        {
            "id": "partnership-board",
            "name": "Partnership Board",
            "unit_id": "north-west",
            "kind": "partnership_board",
        },
    ):
        assert api.post("/api/v1/forums", forum).status_code == 201


def test_refer_to_a_forum_and_back_with_a_progress_report(api: Api) -> None:
    boards(api)
    manager = api.user("manager", "north-west")
    item = api.raise_item(
        "dev-board",
        channel="citizens_view",
        title="Transport",
        you_said="No bus to the day centre after 4pm.",
    )
    path = f"/api/v1/items/{item['id']}"

    assert api.post(f"{path}/refer", {"to_forum_id": "no-such-forum"}, manager).status_code == 404
    wrong = api.post(
        f"{path}/refer", {"to_unit_id": "willow", "to_forum_id": "partnership-board"}, manager
    )
    assert wrong.status_code == 422, wrong.text
    assert api.post(f"{path}/refer", {}, manager).status_code == 422

    up = api.post(
        f"{path}/refer",
        {"to_forum_id": "partnership-board", "due_on": TODAY.isoformat(), "note": "Citizen's View"},
        manager,
    )
    assert up.status_code == 200, up.text
    referred = up.json()
    assert referred["status"] == "referred"
    assert referred["referred_to"] == "north-west"  # the forum's own unit
    assert referred["referred_to_forum"] == "partnership-board"
    step = referred["referrals"][0]
    assert (step["from_unit_id"], step["from_forum_id"]) == ("meadowbank", "dev-board")

    back = {"to_unit_id": "meadowbank", "to_forum_id": "dev-board"}
    refused = api.post(f"{path}/refer", back, manager)
    assert refused.status_code == 422 and "progress report" in refused.text
    assert api.get(path, manager).json()["version"] == referred["version"]  # nothing written

    with_report = api.post(
        f"{path}/refer", {**back, "note": "Bus company asked; reply due."}, manager
    )
    assert with_report.status_code == 200, with_report.text
    assert with_report.json()["referred_to_forum"] == "dev-board"

    # the contract's plain unit referral still works exactly as before
    plain = api.raise_item()
    answer = api.post(f"/api/v1/items/{plain['id']}/refer", {"to_unit_id": "willow"})
    assert answer.status_code == 200 and answer.json()["referred_to"] == "willow"
    assert answer.json()["referred_to_forum"] is None


def test_the_receiving_forum_gets_an_agenda(api: Api) -> None:
    boards(api)
    secretary = api.user("secretary", "north-west")
    outsider = api.user("secretary", "willow")
    first = api.raise_item("dev-board", title="Urgent care", raised_on=days_ago(60))
    second = api.raise_item("dev-board", title=XSS, you_said=f"Said {XSS}")
    for item, note in ((first, "older referral"), (second, f"newer {XSS}")):
        answer = api.post(
            f"/api/v1/items/{item['id']}/refer", {"to_forum_id": "partnership-board", "note": note}
        )
        assert answer.status_code == 200, answer.text
    own = api.raise_item("partnership-board", title="Carer's charter", raised_on=days_ago(40))
    closed = api.raise_item("partnership-board", title="ATOS")
    api.post(f"/api/v1/items/{closed['id']}/complete", {"we_did": "Advice sessions started."})

    agenda = api.get("/api/v1/forums/partnership-board/agenda", secretary)
    assert agenda.status_code == 200, agenda.text
    body = agenda.json()
    assert [entry["item"]["id"] for entry in body["referred"]] == [second["id"], first["id"]]
    referral = body["referred"][1]["referral"]
    assert referral["from_forum_id"] == "dev-board" and referral["note"] == "older referral"
    assert referral["referred_by"].startswith("admin-")
    # first was raised 60 days ago: overdue, with no lack-of-progress note yet
    assert body["referred"][1]["overdue"] and body["referred"][1]["needs_lack_of_progress_note"]
    assert [entry["item"]["id"] for entry in body["raised"]] == [own["id"]]
    assert body["raised"][0]["overdue"]
    assert [entry["item"]["id"] for entry in body["closed"]] == [closed["id"]]
    later = api.get("/api/v1/forums/partnership-board/agenda", secretary, since="2999-01-01")
    assert later.json()["closed"] == []

    note = api.post(
        f"/api/v1/items/{own['id']}/progress",
        {"note": "Waiting for the carers' survey.", "kind": "lack_of_progress"},
        secretary,
    )
    assert note.status_code == 200, note.text
    assert note.json()["progress"][-1]["kind"] == "lack_of_progress"
    assert (
        api.post(
            f"/api/v1/items/{own['id']}/progress", {"note": "x", "kind": "gossip"}, secretary
        ).status_code
        == 422
    )
    body = api.get("/api/v1/forums/partnership-board/agenda", secretary).json()
    entry = body["raised"][0]
    assert not entry["needs_lack_of_progress_note"]
    assert [n["note"] for n in entry["lack_of_progress"]] == ["Waiting for the carers' survey."]

    page = api.get("/api/v1/forums/partnership-board/agenda", secretary, format="html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert XSS not in page.text
    assert "&lt;script&gt;" in page.text
    assert "Development Board" in page.text  # where it was referred from, by name
    assert "by Administrator" in page.text  # who referred it, by name
    assert "Why there has been a lack of progress" in page.text

    assert api.get("/api/v1/forums/partnership-board/agenda", outsider).status_code == 403
    assert api.get("/api/v1/forums/nope/agenda", secretary).status_code == 404
    assert api.client.get("/api/v1/forums/partnership-board/agenda").status_code == 401


def test_each_referral_step_has_its_own_clock_in_the_metrics(counting_api: Api) -> None:
    api = counting_api
    boards(api)
    item = api.raise_item("dev-board", raised_on=days_ago(3))
    path = f"/api/v1/items/{item['id']}"
    assert api.post(f"{path}/publish", None).status_code == 200
    api.post(f"{path}/refer", {"to_forum_id": "partnership-board"})
    api.post(f"{path}/respond", {"response": "We are on it."})
    api.post(f"{path}/refer", {"to_forum_id": "dev-board", "note": "Report back"})
    answer = api.client.get("/public/api/v1/metrics", params={"unit_id": "meadowbank"})
    assert answer.status_code == 200
    figures = answer.json()
    assert figures["items_raised"] == 1
    assert figures["referral_steps"] == [
        {"step": 1, "referred": 1, "answered": 1, "median_days_to_answer": 0.0},
        {"step": 2, "referred": 1, "answered": 0, "median_days_to_answer": None},
    ]
    destinations = {
        (entry["to_forum_id"], entry["answered"]) for entry in figures["referral_destinations"]
    }
    assert destinations == {("partnership-board", 1), ("dev-board", 0)}


def test_an_item_that_passed_through_a_forum_is_on_its_closed_list(api: Api) -> None:
    boards(api)
    item = api.raise_item("dev-board", title="Length of stay")
    path = f"/api/v1/items/{item['id']}"
    api.post(f"{path}/refer", {"to_forum_id": "partnership-board"})
    api.post(f"{path}/refer", {"to_unit_id": "willow"})  # onward, out of the forum's unit
    api.post(f"{path}/complete", {"we_did": "Discharge planning starts on admission."})
    body = api.get("/api/v1/forums/partnership-board/agenda").json()
    assert [entry["item"]["id"] for entry in body["closed"]] == [item["id"]]
    assert body["referred"] == [] and body["raised"] == []
