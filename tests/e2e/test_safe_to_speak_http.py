"""Safe to speak, over HTTP: identity held back, the reveal, and the safeguarding route.

Given Cedar ward's community meeting, where a patient said something in front of
staff: the manager answering the item never learns who said it, unless they
break glass with a written reason that auditors and the advocate can read; and
a disclosure leaves every ordinary queue and public surface at once and waits
for the ward's safeguarding lead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clock import NOW
from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings

#: the admin's token, where a helper would otherwise use its own default role
ADMIN = ""

REASON = "Needed to arrange a one-to-one meeting about the complaint."


class MovableClock:
    """The tests' clock, which a test can move forward (the acknowledgement clock)."""

    def __init__(self, start: datetime = NOW) -> None:
        self.start = start
        self.origin = time.monotonic()
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return self.start + self.offset + timedelta(seconds=time.monotonic() - self.origin)

    def move(self, by: timedelta) -> None:
        self.offset += by


@pytest.fixture
def data_dir(shm_data_dir: Path) -> Path:
    return shm_data_dir


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def api(data_dir: Path, clock: MovableClock) -> Iterator[Api]:
    settings = Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN, safeguarding_ack_hours=24)
    container = build(settings, clock=clock)
    with TestClient(create_app(container)) as client:
        yield Api(client, clock)
    container.close()


class Ward:
    """Cedar ward's staff, each with a token, and an item a patient raised."""

    def __init__(self, api: Api) -> None:
        api.organisation()
        self.api = api
        self.secretary = api.user("secretary", "cedar")
        self.manager = api.user("manager", "cedar")
        self.moderator = api.user("moderator", "cedar")
        self.advocate = api.user("advocate", "cedar")
        self.lead = api.user("safeguarding_lead", "cedar")
        self.auditor = api.user("auditor", "cedar")
        self.willow_lead = api.user("safeguarding_lead", "willow")
        self.willow_advocate = api.user("advocate", "willow")

    def raised(self, **extra: Any) -> dict[str, Any]:
        return dict(
            self.api.raise_item("cedar-cm", self.secretary, contributor="Sam Jones", **extra)
        )

    def published(self) -> dict[str, Any]:
        item = self.raised()
        answer = self.api.post(f"/api/v1/items/{item['id']}/publish", {}, self.moderator)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def flag(self, item: dict[str, Any], token: str | None = None) -> Any:
        return self.api.post(
            f"/api/v1/items/{item['id']}/safeguarding",
            {"reason": "They said another patient hits them at night."},
            self.secretary if token is None else token or None,
        )

    def item(self, item: dict[str, Any], token: str | None = None) -> Any:
        return self.api.get(f"/api/v1/items/{item['id']}", token)

    def listed(self, token: str | None = None, **params: Any) -> set[str]:
        answer = self.api.get("/api/v1/items", token, **params)
        assert answer.status_code == 200, answer.text
        return {found["id"] for found in answer.json()["items"]}

    def queue(self, token: str | None = None) -> list[dict[str, Any]]:
        answer = self.api.get("/api/v1/safeguarding", self.lead if token is None else token or None)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["items"])


@pytest.fixture
def ward(api: Api) -> Ward:
    return Ward(api)


# -- who sees the contributor ------------------------------------------------------------


def test_managers_and_moderators_are_told_only_that_someone_raised_it(ward: Ward) -> None:
    item = ward.raised()
    for token in (ward.manager, ward.moderator):
        shown = ward.item(item, token).json()
        assert shown["contributor"] is None
        assert shown["contributor_held"] is True
        listed = ward.api.get("/api/v1/items", token).json()["items"]
        assert [(i["contributor"], i["contributor_held"]) for i in listed] == [(None, True)]
    for token in (ward.secretary, ward.advocate, ward.auditor, None):  # None: the admin
        shown = ward.item(item, token).json()
        assert shown["contributor"] == "Sam Jones"
        assert not shown.get("contributor_held")


def test_an_item_nobody_is_named_on_is_not_held(ward: Ward) -> None:
    item = ward.api.raise_item("cedar-cm", ward.secretary)
    shown = ward.item(item, ward.manager).json()
    assert shown["contributor"] is None and shown["contributor_held"] is False


def test_command_answers_hold_the_contributor_back_from_managers(ward: Ward) -> None:
    item = ward.raised()
    answer = ward.api.post(
        f"/api/v1/items/{item['id']}/respond", {"response": "An engineer is booked."}, ward.manager
    )
    assert answer.status_code == 200
    assert answer.json()["contributor"] is None and answer.json()["contributor_held"] is True
    answer = ward.api.post(f"/api/v1/items/{item['id']}/publish", {}, ward.moderator)
    assert answer.json()["contributor"] is None


def test_the_feedback_pack_holds_the_contributor_back_from_managers(ward: Ward) -> None:
    item = ward.raised()
    ward.api.post(f"/api/v1/items/{item['id']}/respond", {"response": "Booked."}, ward.manager)
    pack = ward.api.get("/api/v1/forums/cedar-cm/feedback", ward.manager, since="2026-11-01")
    assert pack.status_code == 200, pack.text
    [entry] = pack.json()["items"]
    assert entry["item"]["contributor"] is None and entry["item"]["contributor_held"] is True
    pack = ward.api.get("/api/v1/forums/cedar-cm/feedback", ward.secretary, since="2026-11-01")
    assert pack.json()["items"][0]["item"]["contributor"] == "Sam Jones"


def test_the_csv_export_never_names_anyone(ward: Ward) -> None:
    ward.raised()
    export = ward.api.get("/api/v1/exports/items.csv", ward.manager)
    assert export.status_code == 200
    assert "Sam Jones" not in export.text


# -- the reveal ---------------------------------------------------------------------------


def test_a_manager_reveals_with_a_reason_and_it_is_recorded(ward: Ward, api: Api) -> None:
    item = ward.raised()
    answer = api.post(f"/api/v1/items/{item['id']}/reveal", {"reason": REASON}, ward.manager)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"contributor": "Sam Jones"}

    manager_id = api.get("/api/v1/me", ward.manager).json().get("id")
    for token in (ward.auditor, ward.advocate, None):
        reveals = api.get("/api/v1/audit/reveals", token, unit_id="cedar")
        assert reveals.status_code == 200, reveals.text
        [reveal] = reveals.json()["reveals"]
        assert reveal["item_id"] == item["id"]
        assert reveal["reason"] == REASON
        assert reveal["user_id"] == manager_id
        assert datetime.fromisoformat(reveal["at"]).tzinfo is not None
    # the reveal is in the item's history, with who, when and why
    history = api.get(f"/api/v1/items/{item['id']}/history").json()
    [event] = [e for e in history["events"] if e["type"] == "contributor_revealed"]
    assert event["actor"] == manager_id and event["data"]["reason"] == REASON
    # and the manager's item view still holds the name back
    assert ward.item(item, ward.manager).json()["contributor"] is None


def test_a_short_reason_is_refused_and_nothing_is_recorded(ward: Ward, api: Api) -> None:
    item = ward.raised()
    before = ward.item(item).json()["version"]
    answer = api.post(
        f"/api/v1/items/{item['id']}/reveal", {"reason": "just curious"}, ward.manager
    )
    assert answer.status_code == 422
    assert ward.item(item).json()["version"] == before
    assert api.get("/api/v1/audit/reveals").json()["reveals"] == []


def test_only_a_manager_in_scope_may_reveal(ward: Ward, api: Api) -> None:
    item = ward.raised()
    for token in (ward.moderator, ward.secretary, ward.advocate, ward.lead, ward.auditor):
        answer = api.post(f"/api/v1/items/{item['id']}/reveal", {"reason": REASON}, token)
        assert answer.status_code == 403, (token, answer.text)
    willow_manager = api.user("manager", "willow")
    answer = api.post(f"/api/v1/items/{item['id']}/reveal", {"reason": REASON}, willow_manager)
    assert answer.status_code == 403
    assert api.get("/api/v1/audit/reveals").json()["reveals"] == []


def test_reveals_are_listed_for_auditors_admins_and_the_advocate_of_the_scope(
    ward: Ward, api: Api
) -> None:
    item = ward.raised()
    api.post(f"/api/v1/items/{item['id']}/reveal", {"reason": REASON}, ward.manager)
    assert api.get("/api/v1/audit/reveals", ward.willow_advocate).json()["reveals"] == []
    for token in (ward.manager, ward.moderator, ward.secretary, ward.lead):
        assert api.get("/api/v1/audit/reveals", token).status_code == 403
    assert api.get("/api/v1/audit/reveals", ward.advocate, unit_id="willow").status_code == 403
    assert api.get("/api/v1/audit/reveals", unit_id="nowhere").status_code == 404
    assert api.get("/api/v1/audit/reveals", unit_id="willow").json()["reveals"] == []


# -- safeguarding --------------------------------------------------------------------------


def test_a_flag_answers_with_the_acknowledgement_clock(ward: Ward, api: Api) -> None:
    item = ward.raised()
    answer = ward.flag(item)
    assert answer.status_code == 200, answer.text
    flag = answer.json()["safeguarding"]
    flagged_at = datetime.fromisoformat(flag["flagged_at"])
    assert datetime.fromisoformat(flag["ack_due_at"]) - flagged_at == timedelta(hours=24)
    assert flag["acknowledged_at"] is None and flag["closed_at"] is None
    assert flag["outcome"] is None


def test_an_item_can_be_flagged_as_it_is_raised(ward: Ward) -> None:
    item = ward.raised(safeguarding=True)
    assert item["safeguarding"]["flagged_at"] is not None
    assert [found["id"] for found in ward.queue()] == [item["id"]]


@pytest.mark.parametrize("role", ["secretary", "manager", "moderator", "advocate"])
def test_each_role_that_may_flag_can(ward: Ward, role: str) -> None:
    token = {
        "secretary": ward.secretary,
        "manager": ward.manager,
        "moderator": ward.moderator,
        "advocate": ward.advocate,
    }[role]
    item = ward.raised()
    assert ward.flag(item, token).status_code == 200
    assert [found["id"] for found in ward.queue()] == [item["id"]]


def test_leads_and_auditors_may_not_flag_and_nobody_outside_scope(ward: Ward, api: Api) -> None:
    item = ward.raised()
    for token in (ward.auditor, ward.willow_advocate):
        assert ward.flag(item, token).status_code == 403
    assert ward.queue() == []


def test_a_flagged_item_is_404_for_everyone_but_leads_auditors_and_admins(
    ward: Ward, api: Api
) -> None:
    item = ward.raised()
    ward.flag(item)
    for token in (ward.secretary, ward.manager, ward.moderator, ward.advocate):
        assert ward.item(item, token).status_code == 404
        assert item["id"] not in ward.listed(token)
        if token != ward.moderator:  # a moderator may not add progress at all (403)
            answer = api.post(f"/api/v1/items/{item['id']}/progress", {"note": "x"}, token)
            assert answer.status_code == 404
    for token in (ward.lead, ward.auditor, None):
        assert ward.item(item, token).status_code == 200
        assert item["id"] in ward.listed(token)
    assert ward.item(item, ward.willow_lead).status_code == 403  # out of scope, as ever


def test_publish_is_409_while_flagged(ward: Ward, api: Api) -> None:
    item = ward.raised()
    ward.flag(item)
    for token in (ward.moderator, None):
        answer = api.post(f"/api/v1/items/{item['id']}/publish", {}, token)
        assert answer.status_code == 409, answer.text


def test_the_queue_lists_open_flags_in_scope_oldest_first(
    ward: Ward, api: Api, clock: MovableClock
) -> None:
    first = ward.raised()
    ward.flag(first)
    clock.move(timedelta(hours=2))
    second = ward.raised(safeguarding=True)
    willow = api.raise_item("willow-cm", None, safeguarding=True)
    queue = ward.queue()
    assert [found["id"] for found in queue] == [first["id"], second["id"]]
    assert [found["ack_overdue"] for found in queue] == [False, False]
    assert [found["id"] for found in ward.queue(ward.willow_lead)] == [willow["id"]]
    assert len(ward.queue(ADMIN)) == 3
    assert len(ward.queue(ward.auditor)) == 2
    for token in (ward.secretary, ward.manager, ward.moderator, ward.advocate):
        assert api.get("/api/v1/safeguarding", token).status_code == 403


def test_an_unacknowledged_flag_goes_overdue_and_shows_in_status_and_metrics(
    ward: Ward, api: Api, clock: MovableClock
) -> None:
    item = ward.raised(safeguarding=True)
    assert api.get("/api/v1/status").json()["safeguarding_ack_overdue"] == 0
    clock.move(timedelta(hours=25))
    [found] = ward.queue()
    assert found["ack_overdue"] is True
    assert api.get("/api/v1/status").json()["safeguarding_ack_overdue"] == 1
    assert "yswd_safeguarding_ack_overdue 1.0" in api.client.get("/metrics").text
    acknowledged = api.post(
        f"/api/v1/items/{item['id']}/safeguarding/acknowledge",
        {"note": "Spoken to the patient; a plan is in place."},
        ward.lead,
    )
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["safeguarding"]["acknowledged_at"] is not None
    assert ward.queue()[0]["ack_overdue"] is False
    assert api.get("/api/v1/status").json()["safeguarding_ack_overdue"] == 0


def test_only_a_lead_in_scope_acknowledges_and_closes(ward: Ward, api: Api) -> None:
    item = ward.raised(safeguarding=True)
    for token in (ward.secretary, ward.manager, ward.moderator, ward.advocate, ward.auditor):
        for step, body in (
            ("acknowledge", {"note": "Seen."}),
            ("close", {"outcome": "Done.", "return_to_workflow": True}),
        ):
            answer = api.post(f"/api/v1/items/{item['id']}/safeguarding/{step}", body, token)
            assert answer.status_code in (403, 404), (step, answer.text)
    answer = api.post(
        f"/api/v1/items/{item['id']}/safeguarding/acknowledge", {"note": "Seen."}, ward.willow_lead
    )
    assert answer.status_code == 403
    assert ward.queue()[0]["safeguarding"]["acknowledged_at"] is None


def test_bad_safeguarding_bodies_are_422_and_change_nothing(ward: Ward, api: Api) -> None:
    item = ward.raised()
    assert (
        api.post(f"/api/v1/items/{item['id']}/safeguarding", {}, ward.secretary).status_code == 422
    )
    assert ward.queue() == []
    ward.flag(item)
    close = f"/api/v1/items/{item['id']}/safeguarding/close"
    assert api.post(close, {"outcome": "x"}, ward.lead).status_code == 422
    answer = api.post(close, {"outcome": "x", "return_to_workflow": "maybe"}, ward.lead)
    assert answer.status_code == 422
    assert len(ward.queue()) == 1
    assert ward.flag(item, ADMIN).status_code == 409  # already flagged


def _public_surfaces(api: Api, item: dict[str, Any]) -> dict[str, str]:
    answers = {
        "board": api.client.get("/public/api/v1/boards/cedar").text,
        "board page": api.client.get("/public/boards/cedar").text,
        "feed": api.client.get("/public/boards/cedar/feed.atom").text,
        "poster": api.client.get("/public/boards/cedar/poster").text,
        "parent board": api.client.get("/public/api/v1/boards/north-west").text,
        "metrics": api.client.get("/public/api/v1/metrics", params={"unit_id": "cedar"}).text,
        "clips": api.client.get(f"/public/api/v1/items/{item['id']}/clips").text,
        "open311": api.client.get(
            "/open311/v2/requests.json", params={"jurisdiction_id": "cedar"}
        ).text,
        "open311 one": api.client.get(f"/open311/v2/requests/{item['id']}.json").text,
    }
    return answers


def test_a_published_item_leaves_every_public_surface_at_once_when_flagged(
    ward: Ward, api: Api
) -> None:
    item = ward.published()
    ward.api.post(f"/api/v1/items/{item['id']}/respond", {"response": "Booked."}, ward.manager)
    before = _public_surfaces(api, item)
    for name in ("board", "board page", "feed", "poster", "parent board", "open311"):
        assert item["id"] in before[name] or "Laundry" in before[name], name
    # one item: the count itself may be held back as a small number (null), never 0
    assert '"items_raised":0' not in before["metrics"].replace(" ", "")

    assert ward.flag(item).status_code == 200
    after = _public_surfaces(api, item)
    for name, text in after.items():
        if name not in ("clips", "open311 one"):  # their 404 names the id asked for
            assert item["id"] not in text, name
        assert "washing machine" not in text, name
    assert '"items_raised":0' in after["metrics"].replace(" ", "")
    assert api.client.get(f"/public/api/v1/items/{item['id']}/clips").status_code == 404
    assert api.client.get(f"/open311/v2/requests/{item['id']}.json").status_code == 404


def test_a_flagged_item_is_left_out_of_packs_agendas_and_exports(ward: Ward, api: Api) -> None:
    item = ward.raised()
    api.post(f"/api/v1/items/{item['id']}/respond", {"response": "Booked."}, ward.manager)
    ward.flag(item)
    pack = api.get("/api/v1/forums/cedar-cm/feedback", since="2026-11-01").json()
    assert pack["items"] == []
    agenda = api.get("/api/v1/forums/cedar-cm/agenda").text
    assert item["id"] not in agenda
    export = api.get("/api/v1/exports/items.csv").text
    assert item["id"] not in export


def test_closing_back_to_the_workflow_restores_the_item_exactly(ward: Ward, api: Api) -> None:
    item = ward.published()
    api.post(f"/api/v1/items/{item['id']}/respond", {"response": "Booked."}, ward.manager)
    board_before = api.client.get("/public/api/v1/boards/cedar").json()
    manager_before = ward.item(item, ward.manager).json()
    ward.flag(item)
    api.post(f"/api/v1/items/{item['id']}/safeguarding/acknowledge", {"note": "Seen."}, ward.lead)
    closed = api.post(
        f"/api/v1/items/{item['id']}/safeguarding/close",
        {"outcome": "No safeguarding concern after talking to them.", "return_to_workflow": True},
        ward.lead,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["safeguarding"]["outcome"].startswith("No safeguarding")
    assert closed.json()["safeguarding"]["closed_at"] is not None
    assert ward.queue() == []

    assert api.client.get("/public/api/v1/boards/cedar").json() == board_before
    manager_after = ward.item(item, ward.manager).json()
    assert manager_after.pop("version") > manager_before.pop("version")
    assert manager_after == manager_before
    assert item["id"] in ward.listed(ward.manager)
    again = api.post(f"/api/v1/items/{item['id']}/complete", {"we_did": "Fixed."}, ward.manager)
    assert again.status_code == 200


def test_closing_without_a_return_keeps_it_restricted_for_good(ward: Ward, api: Api) -> None:
    item = ward.published()
    ward.flag(item)
    closed = api.post(
        f"/api/v1/items/{item['id']}/safeguarding/close",
        {"outcome": "Referred to the local authority.", "return_to_workflow": False},
        ward.lead,
    )
    assert closed.status_code == 200
    assert ward.queue() == []
    assert ward.item(item, ward.manager).status_code == 404
    assert item["id"] not in ward.listed(ward.secretary)
    assert item["id"] not in api.client.get("/public/api/v1/boards/cedar").text
    assert api.post(f"/api/v1/items/{item['id']}/publish", {}).status_code == 409
    assert ward.item(item, ward.lead).status_code == 200
    assert ward.flag(item, ADMIN).status_code == 409


# -- possible disclosures --------------------------------------------------------------


def test_raising_words_that_suggest_harm_warns_and_never_flags(ward: Ward, api: Api) -> None:
    item = api.raise_item(
        "cedar-cm", ward.secretary, title="Nights", you_said="He hit me when the staff left."
    )
    [warning] = [w for w in item["warnings"] if w["kind"] == "possible_disclosure"]
    assert warning["field"] == "you_said" and "safeguarding" in warning["suggestion"]
    assert item.get("safeguarding") is None
    assert ward.queue() == []
    assert ward.item(item, ward.manager).status_code == 200


def test_ordinary_wording_raises_no_disclosure_warning(ward: Ward, api: Api) -> None:
    item = api.raise_item(
        "cedar-cm", ward.secretary, title="Kitchen", you_said="The kettle is broken."
    )
    assert [w for w in item.get("warnings", []) if w["kind"] == "possible_disclosure"] == []


@pytest.mark.parametrize(
    ("text", "warns"),
    [
        ("he hit me", True),
        ("I want to kill myself", True),
        ("Staff took my money", True),
        ("the kettle is broken", False),
        ("we hit our target for activities", False),
    ],
)
def test_the_wording_check_warns_of_possible_disclosures(
    ward: Ward, api: Api, text: str, warns: bool
) -> None:
    answer = api.post("/api/v1/wording/check", {"text": text, "field": "you_said"}, ward.manager)
    assert answer.status_code == 200
    kinds = [w["kind"] for w in answer.json()["warnings"]]
    assert ("possible_disclosure" in kinds) is warns


def test_new_roles_are_accepted_and_unknown_ones_refused(api: Api) -> None:
    api.organisation()
    for role in ("advocate", "safeguarding_lead"):
        answer = api.post("/api/v1/users", {"name": "Someone", "role": role, "scopes": ["cedar"]})
        assert answer.status_code == 201 and answer.json()["role"] == role
    answer = api.post("/api/v1/users", {"name": "Someone", "role": "overlord", "scopes": []})
    assert answer.status_code == 422


def test_the_new_endpoints_are_typed_in_openapi(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    for path in (
        "/api/v1/safeguarding",
        "/api/v1/items/{item_id}/safeguarding",
        "/api/v1/items/{item_id}/reveal",
        "/api/v1/audit/reveals",
    ):
        assert path in document["paths"], path


_: Callable[..., Any] = test_the_new_endpoints_are_typed_in_openapi


# -- flags at raise from every door, and the staff pages ---------------------------------


def test_a_minutes_import_flags_rows_marked_safeguarding(ward: Ward, api: Api) -> None:
    csv = (
        "title,you_said,safeguarding\n"
        "Garden,We would like a bench in the garden.,\n"
        "Nights,Someone comes into my room at night.,yes\n"
    )
    answer = api.client.post(
        "/api/v1/forums/cedar-cm/minutes?dry_run=false",
        content=csv.encode(),
        headers={"Authorization": f"Bearer {ward.secretary}", "Content-Type": "text/csv"},
    )
    assert answer.status_code == 201, answer.text
    [flagged] = ward.queue()
    assert flagged["title"] == "Nights"
    assert {item["title"] for item in api.get("/api/v1/items", ward.manager).json()["items"]} == {
        "Garden"
    }
    bad = csv.replace(",yes", ",perhaps")
    answer = api.client.post(
        "/api/v1/forums/cedar-cm/minutes?dry_run=false",
        content=bad.encode(),
        headers={"Authorization": f"Bearer {ward.secretary}", "Content-Type": "text/csv"},
    )
    assert answer.status_code == 422


def test_a_worried_gap_box_suggestion_goes_straight_to_the_lead(ward: Ward, api: Api) -> None:
    box = {
        "id": "cedar-box",
        "unit_id": "cedar",
        "forum_id": "cedar-cm",
        "question": "What would make the ward better?",
        "opens_on": "2026-11-01",
        "closes_on": "2026-12-31",
    }
    assert api.post("/api/v1/gap-boxes", box, ward.moderator).status_code == 201
    path = "/public/api/v1/gap-boxes/cedar-box/suggestions"
    answer = api.client.post(path, json={"suggestion": "More fruit please."})
    assert answer.status_code == 201
    answer = api.client.post(
        path, json={"suggestion": "A patient keeps threatening me.", "worried": True}
    )
    assert answer.status_code == 201
    [flagged] = ward.queue()
    assert flagged["you_said"] == "A patient keeps threatening me."
    assert flagged["channel"] == "gap_box"
    seen = {i["you_said"] for i in api.get("/api/v1/items", ward.moderator).json()["items"]}
    assert seen == {"More fruit please."}


def _browser(api: Api, token: str) -> Any:
    from tests.e2e.test_staff_pages import Browser

    browser = Browser(api)
    assert browser.sign_in(token).status_code == 303
    return browser


def test_the_meeting_log_checkbox_flags_the_item(ward: Ward, api: Api) -> None:
    browser = _browser(api, ward.secretary)
    page = browser.get("/staff/meetings/new")
    assert 'name="safeguarding_1"' in page.text
    answer = browser.submit(
        "/staff/meetings/new",
        "/staff/meetings/new",
        {
            "forum_id": "cedar-cm",
            "meeting_date": "2026-11-02",
            "title_1": "Nights",
            "you_said_1": "Someone shouts threats at night.",
            "channel_1": "community_meeting",
            "safeguarding_1": "yes",
        },
    )
    assert answer.status_code in (200, 303), answer.text
    [flagged] = ward.queue()
    assert flagged["title"] == "Nights"


def test_a_manager_s_item_page_holds_the_name_back_and_offers_the_reveal(
    ward: Ward, api: Api
) -> None:
    item = ward.raised()
    browser = _browser(api, ward.manager)
    page = browser.get(f"/staff/items/{item['id']}")
    assert page.status_code == 200
    assert "Sam Jones" not in page.text
    assert "will be seen by auditors and by the advocate" in page.text
    short = browser.submit(
        f"/staff/items/{item['id']}", f"/staff/items/{item['id']}/reveal", {"reason": "why"}
    )
    assert short.status_code == 422 and "Sam Jones" not in short.text
    shown = browser.submit(
        f"/staff/items/{item['id']}", f"/staff/items/{item['id']}/reveal", {"reason": REASON}
    )
    assert shown.status_code == 200 and "Sam Jones" in shown.text
    assert len(api.get("/api/v1/audit/reveals").json()["reveals"]) == 1
    # the timeline, as the auditor reads it, says so
    auditor = _browser(api, ward.auditor)
    assert "revealed to a manager" in auditor.get(f"/staff/items/{item['id']}").text


def test_the_lead_s_queue_page_acknowledges_and_closes(
    ward: Ward, api: Api, clock: MovableClock
) -> None:
    item = ward.raised(safeguarding=True)
    clock.move(timedelta(hours=30))
    lead = _browser(api, ward.lead)
    page = lead.get("/staff/safeguarding")
    assert page.status_code == 200
    assert "Laundry" in page.text and "Acknowledgement overdue" in page.text
    answer = lead.submit(
        "/staff/safeguarding",
        f"/staff/items/{item['id']}/safeguarding/acknowledge",
        {"note": "Spoken with the ward manager."},
    )
    assert answer.status_code == 303
    assert "Acknowledgement overdue" not in lead.get("/staff/safeguarding").text
    answer = lead.submit(
        "/staff/safeguarding",
        f"/staff/items/{item['id']}/safeguarding/close",
        {"outcome": "Resolved with the patient."},
    )
    assert answer.status_code == 422  # where it goes next must be chosen
    answer = lead.submit(
        "/staff/safeguarding",
        f"/staff/items/{item['id']}/safeguarding/close",
        {"outcome": "Resolved with the patient.", "return_to_workflow": "yes"},
    )
    assert answer.status_code == 303
    assert ward.queue() == []
    assert ward.item(item, ward.manager).status_code == 200
    secretary = _browser(api, ward.secretary)
    assert secretary.get("/staff/safeguarding").status_code == 403


# -- the board says "done" only while it is true; an erased person is never shown ----------


def test_the_board_stops_saying_done_when_the_change_did_not_happen(ward: Ward, api: Api) -> None:
    item = ward.published()
    api.post(f"/api/v1/items/{item['id']}/complete", {"we_did": "New machine."}, ward.manager)
    [shown] = api.client.get("/public/api/v1/boards/cedar").json()["items"]
    assert (shown["status"], shown["we_did"]) == ("done", "New machine.")
    checked = api.post(
        f"/api/v1/items/{item['id']}/verify",
        {"confirmed": False, "note": "Still broken."},
        ward.secretary,
    )
    assert checked.status_code == 200
    [shown] = api.client.get("/public/api/v1/boards/cedar").json()["items"]
    assert (shown["status"], shown["we_did"], shown["verified"]) == ("raised", None, False)
    assert "New machine" not in api.client.get("/public/boards/cedar").text


def test_an_erased_person_is_shown_to_nobody(ward: Ward, api: Api) -> None:
    item = ward.raised()
    assert api.post("/api/v1/contributors/forget", {"contributor": "Sam Jones"}).status_code == 200
    for token in (ward.secretary, ward.advocate, ward.auditor, ADMIN):
        assert "Sam Jones" not in ward.item(item, token).text
        assert "Sam Jones" not in api.get("/api/v1/items", token).text
    answer = api.post(f"/api/v1/items/{item['id']}/reveal", {"reason": REASON}, ward.manager)
    assert "Sam Jones" not in answer.text


def test_bulk_actions_cannot_reach_a_flagged_item(ward: Ward, api: Api) -> None:
    item = ward.raised()
    ward.flag(item)
    refer = {"item_ids": [item["id"]], "to_unit_id": "willow"}
    answer = api.post("/api/v1/items/bulk/refer", refer, ward.manager)
    assert answer.status_code == 409, answer.text
    assert [r["status"] for r in answer.json()["results"]] == [404]
    answer = api.post("/api/v1/items/bulk/publish", {"item_ids": [item["id"]]}, ward.moderator)
    assert answer.status_code == 409
    assert ward.item(item).json()["published"] is False
