"""Every error status of the contract, each refused request leaving the state unchanged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Api


@pytest.fixture
def data_dir(shm_data_dir: Path) -> Path:
    return shm_data_dir


ITEM = {
    "forum_id": "cedar-cm",
    "channel": "community_meeting",
    "raised_on": "2026-11-02",
    "title": "Laundry",
    "you_said": "The washing machine has been broken for two weeks.",
}


@pytest.fixture
def org(api: Api) -> Api:
    api.organisation()
    return api


def state(api: Api, item_id: str | None = None) -> dict[str, Any]:
    """Everything a refused request must not change."""
    listed = api.get("/api/v1/items")
    assert listed.status_code == 200, listed.text
    snapshot: dict[str, Any] = {"items": sorted(i["id"] for i in listed.json()["items"])}
    if item_id is not None:
        item = api.get(f"/api/v1/items/{item_id}").json()
        snapshot["item"] = {k: item[k] for k in ("version", "status", "updated_at")}
    return snapshot


@pytest.fixture
def item(org: Api) -> Iterator[dict[str, Any]]:
    yield org.raise_item()


def raw_post(api: Api, path: str, content: bytes | str, **headers: str) -> Any:
    return api.client.post(
        path,
        content=content,
        headers={**api.admin, "Content-Type": "application/json", **headers},
    )


# -- 400/422 -----------------------------------------------------------------------


MALFORMED_JSON_IS_REFUSED_CASES: list[Any] = [
    '{"forum_id": "cedar-cm",',
    "not json",
    "",
    "[]",
    "null",
    '"a string"',
    "\xff\xfe",
]


def test_malformed_json_is_refused(org: Api, item: dict[str, Any]) -> None:
    for content in MALFORMED_JSON_IS_REFUSED_CASES:
        before = state(org, item["id"])
        answer = raw_post(org, "/api/v1/items", content.encode("latin-1"))
        assert answer.status_code in (400, 422), answer.text
        assert "detail" in answer.json()
        answer = raw_post(org, f"/api/v1/items/{item['id']}/respond", content.encode("latin-1"))
        assert answer.status_code in (400, 422), answer.text
        assert state(org, item["id"]) == before


INVALID_ITEM_BODIES_ARE_REFUSED_CASES: list[Any] = [
    {"title": 5},
    {"title": ["a"]},
    {"you_said": None},
    {"title": ""},
    {"title": "   "},
    {"title": "x" * 201},
    {"you_said": "x" * 4001},
    {"channel": "carrier_pigeon"},
    {"channel": None},
    {"forum_id": "Cedar CM"},
    {"forum_id": "-cedar"},
    {"forum_id": "x" * 65},
    {"raised_on": "2026-13-45"},
    {"raised_on": "20261101"},
    {"raised_on": "2026-02-30"},
    {"raised_on": "yesterday"},
    {"raised_on": 20261101},
    {"raised_on": "2026-11-02T10:00:00+00:00"},
    {"raised_on": "9999-12-31"},
    {"raised_on": "0001-01-01"},
    {"raised_on": None},
    {"themes": "not-a-list"},
    {"contributor": 42},
    {"detail": "x" * 4001},
]


def test_invalid_item_bodies_are_refused(org: Api) -> None:
    for change in INVALID_ITEM_BODIES_ARE_REFUSED_CASES:
        before = state(org)
        answer = org.post("/api/v1/items", {**ITEM, **change})
        assert answer.status_code in (400, 422), answer.text
        assert answer.json()["detail"]
        assert state(org) == before


UNREPRESENTABLE_JSON_IS_REFUSED_NOT_A_CRASH_CASES: list[Any] = [
    b'{"title": NaN}',
    b'{"title": Infinity}',
    b'{"raised_on": -Infinity}',
    b"[" * 20_000,
]


def test_unrepresentable_json_is_refused_not_a_crash(org: Api) -> None:
    for content in UNREPRESENTABLE_JSON_IS_REFUSED_NOT_A_CRASH_CASES:
        answer = raw_post(org, "/api/v1/items", content)
        assert answer.status_code in (400, 422), answer.text
        assert answer.json()["detail"]


def test_extreme_dates_leave_the_service_working(org: Api, item: dict[str, Any]) -> None:
    """A far-future date once broke the read models for every later write."""
    for raised_on in ("9999-12-31", "2999-12-31"):
        org.post("/api/v1/items", {**ITEM, "raised_on": raised_on})
    org.post(f"/api/v1/items/{item['id']}/refer", {"to_unit_id": "willow", "due_on": "9999-12-31"})
    assert org.raise_item()["status"] == "raised"
    assert org.post(f"/api/v1/items/{item['id']}/respond", {"response": "Yes"}).status_code == 200
    assert len(state(org)["items"]) == 3


REQUIRED_ITEM_FIELDS_CASES: list[Any] = ["forum_id", "channel", "raised_on", "title", "you_said"]


def test_required_item_fields(org: Api) -> None:
    for missing in REQUIRED_ITEM_FIELDS_CASES:
        body = {k: v for k, v in ITEM.items() if k != missing}
        assert org.post("/api/v1/items", body).status_code in (400, 422)
        assert state(org) == {"items": []}


def test_boundary_lengths_are_accepted(org: Api) -> None:
    answer = org.post("/api/v1/items", {**ITEM, "title": "t" * 200, "you_said": "y" * 4000})
    assert answer.status_code == 201, answer.text
    assert len(answer.json()["title"]) == 200


INVALID_ORGANISATION_BODIES_ARE_REFUSED_CASES: list[Any] = [
    ("/api/v1/units", {"id": "Bad Slug", "name": "x", "parent_id": None}),
    ("/api/v1/units", {"id": "bad_slug", "name": "x", "parent_id": None}),
    ("/api/v1/units", {"id": "a" * 65, "name": "x", "parent_id": None}),
    ("/api/v1/units", {"id": "", "name": "x", "parent_id": None}),
    ("/api/v1/units", {"id": "ok", "name": "", "parent_id": None}),
    ("/api/v1/units", {"id": "ok", "name": "x", "parent_id": "Not A Slug"}),
    ("/api/v1/units", {"id": 7, "name": "x", "parent_id": None}),
    ("/api/v1/forums", {"id": "f", "name": "x", "unit_id": "cedar", "kind": "party"}),
    ("/api/v1/forums", {"id": "F!", "name": "x", "unit_id": "cedar", "kind": "other"}),
    ("/api/v1/forums", {"id": "f", "name": "x", "unit_id": "cedar"}),
    ("/api/v1/users", {"name": "x", "role": "overlord", "scopes": []}),
    ("/api/v1/users", {"name": "x", "role": "manager", "scopes": "cedar"}),
    ("/api/v1/users", {"name": "x", "role": "manager", "scopes": ["Bad Slug"]}),
    ("/api/v1/users", {"role": "manager", "scopes": []}),
]


def test_invalid_organisation_bodies_are_refused(org: Api) -> None:
    for path, body in INVALID_ORGANISATION_BODIES_ARE_REFUSED_CASES:
        answer = org.post(path, body)
        assert answer.status_code in (400, 422), answer.text
        if "id" in body and isinstance(body["id"], str):
            kind = path.rsplit("/", 1)[1]
            assert org.get(f"/api/v1/{kind}/{body['id']}").status_code in (404, 405)


INVALID_COMMAND_BODIES_ARE_REFUSED_CASES: list[Any] = [
    ("refer", {"to_unit_id": "Not A Slug"}),
    ("refer", {"to_unit_id": "willow", "due_on": "2026-13-45"}),
    ("refer", {"to_unit_id": "willow", "due_on": "20261130"}),
    ("refer", {"to_unit_id": "willow", "due_on": "2026-10-01"}),  # before raised_on
    ("refer", {}),
    ("respond", {}),
    ("respond", {"response": ""}),
    ("respond", {"response": "x" * 4001}),
    ("respond", {"response": 12}),
    ("complete", {"we_did": None}),
    ("decline", {"instead": "something"}),
    ("progress", {"note": ["a"]}),
    ("verify", {"confirmed": "yes"}),
    ("verify", {}),
    ("reopen", {}),
    ("publish", {"you_said": ""}),
    ("publish", {"you_said": "x" * 4001}),
]


def test_invalid_command_bodies_are_refused(org: Api, item: dict[str, Any]) -> None:
    for command, body in INVALID_COMMAND_BODIES_ARE_REFUSED_CASES:
        before = state(org, item["id"])
        answer = org.post(f"/api/v1/items/{item['id']}/{command}", body)
        assert answer.status_code in (400, 422), answer.text
        assert state(org, item["id"]) == before


UNREADABLE_IF_MATCH_IS_REFUSED_CASES: list[Any] = ["abc", "-1", "1.5", "", "9" * 40]


def test_unreadable_if_match_is_refused(org: Api, item: dict[str, Any]) -> None:
    for if_match in UNREADABLE_IF_MATCH_IS_REFUSED_CASES:
        before = state(org, item["id"])
        answer = org.post(
            f"/api/v1/items/{item['id']}/respond", {"response": "Booked."}, **{"If-Match": if_match}
        )
        assert answer.status_code in (400, 409, 422), answer.text
        assert state(org, item["id"]) == before


INVALID_LIST_FILTERS_ARE_REFUSED_CASES: list[Any] = [
    {"status": "closed"},
    {"overdue": "perhaps"},
    {"limit": "0"},
    {"limit": "x"},
    {"offset": "-1"},
    {"offset": "9" * 30},
    {"min_position": "9" * 30},
]


def test_a_future_min_position_does_not_hang(org: Api) -> None:
    started = time.monotonic()
    assert org.get("/api/v1/items", min_position=2**40).status_code == 200
    assert time.monotonic() - started < 3


def test_invalid_list_filters_are_refused(org: Api) -> None:
    for query in INVALID_LIST_FILTERS_ARE_REFUSED_CASES:
        assert org.get("/api/v1/items", **query).status_code in (400, 422)


# -- 401 -------------------------------------------------------------------------


MISSING_OR_BAD_TOKENS_ARE_401_CASES: list[Any] = [
    None,
    "Bearer",
    "Bearer ",
    "Bearer wrong-token",
    "Basic dXNlcjpwYXNz",
    "test-admin-token",
]


def test_missing_or_bad_tokens_are_401(org: Api, item: dict[str, Any]) -> None:
    for authorization in MISSING_OR_BAD_TOKENS_ARE_401_CASES:
        before = state(org, item["id"])
        headers = {} if authorization is None else {"Authorization": authorization}
        requests = [
            ("GET", "/api/v1/items", None),
            ("GET", f"/api/v1/items/{item['id']}", None),
            ("POST", "/api/v1/items", ITEM),
            ("POST", f"/api/v1/items/{item['id']}/respond", {"response": "x"}),
            ("POST", "/api/v1/units", {"id": "new-unit", "name": "New", "parent_id": None}),
            (
                "POST",
                "/api/v1/forums",
                {"id": "f2", "name": "F", "unit_id": "cedar", "kind": "other"},
            ),
            ("POST", "/api/v1/users", {"name": "x", "role": "admin", "scopes": []}),
        ]
        for method, path, body in requests:
            answer = org.client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["detail"]
        assert state(org, item["id"]) == before
        assert org.get("/api/v1/units/new-unit").status_code == 404


# -- 403 -------------------------------------------------------------------------


def test_role_and_scope_refusals_are_403_and_change_nothing(org: Api, item: dict[str, Any]) -> None:
    before = state(org, item["id"])
    secretary = org.user("secretary", "cedar")
    elsewhere_manager = org.user("manager", "elsewhere")
    assert (
        org.post(f"/api/v1/items/{item['id']}/respond", {"response": "x"}, secretary).status_code
        == 403
    )
    assert (
        org.post(
            f"/api/v1/items/{item['id']}/respond", {"response": "x"}, elsewhere_manager
        ).status_code
        == 403
    )
    assert org.post("/api/v1/items", ITEM, elsewhere_manager).status_code == 403
    assert (
        org.post(
            "/api/v1/units", {"id": "u9", "name": "U", "parent_id": "cedar"}, secretary
        ).status_code
        == 403
    )
    assert state(org, item["id"]) == before
    assert org.get("/api/v1/units/u9").status_code == 404


# -- 404 -------------------------------------------------------------------------


UNKNOWN_ITEMS_ARE_404_CASES: list[Any] = [
    "refer",
    "respond",
    "complete",
    "decline",
    "progress",
    "verify",
    "reopen",
    "publish",
]


def test_unknown_items_are_404(org: Api) -> None:
    for command in UNKNOWN_ITEMS_ARE_404_CASES:
        bodies = {
            "refer": {"to_unit_id": "willow"},
            "respond": {"response": "x"},
            "complete": {"we_did": "x"},
            "decline": {"because": "x"},
            "progress": {"note": "x"},
            "verify": {"confirmed": True},
            "reopen": {"reason": "x"},
            "publish": {},
        }
        answer = org.post(f"/api/v1/items/no-such-item/{command}", bodies[command])
        assert answer.status_code == 404, answer.text
        assert org.get("/api/v1/items/no-such-item").status_code == 404


def test_unknown_ids_in_bodies_are_404_and_create_nothing(org: Api, item: dict[str, Any]) -> None:
    before = state(org, item["id"])
    assert org.post("/api/v1/items", {**ITEM, "forum_id": "no-forum"}).status_code == 404
    assert (
        org.post(
            "/api/v1/forums", {"id": "f3", "name": "F", "unit_id": "no-unit", "kind": "other"}
        ).status_code
        == 404
    )
    assert (
        org.post("/api/v1/units", {"id": "u3", "name": "U", "parent_id": "no-unit"}).status_code
        == 404
    )
    assert (
        org.post(
            "/api/v1/users", {"name": "x", "role": "manager", "scopes": ["no-unit"]}
        ).status_code
        == 404
    )
    assert (
        org.post(f"/api/v1/items/{item['id']}/refer", {"to_unit_id": "no-unit"}).status_code == 404
    )
    assert state(org, item["id"]) == before
    assert org.get("/api/v1/forums/f3").status_code == 404
    assert org.get("/api/v1/units/u3").status_code == 404


# -- 409 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "command", "body"),
    [
        ([], "verify", {"confirmed": True}),
        ([], "reopen", {"reason": "x"}),
        ([("complete", {"we_did": "Fixed."})], "respond", {"response": "x"}),
        ([("complete", {"we_did": "Fixed."})], "complete", {"we_did": "x"}),
        ([("complete", {"we_did": "Fixed."})], "refer", {"to_unit_id": "willow"}),
        ([("decline", {"because": "No."})], "verify", {"confirmed": True}),
        ([("decline", {"because": "No."})], "progress", {"note": "x"}),
        ([("decline", {"because": "No."})], "decline", {"because": "x"}),
    ],
)
def test_transitions_not_allowed_are_409(
    org: Api, item: dict[str, Any], setup: list[Any], command: str, body: Any
) -> None:
    for step, step_body in setup:
        assert org.post(f"/api/v1/items/{item['id']}/{step}", step_body).status_code == 200
    before = state(org, item["id"])
    answer = org.post(f"/api/v1/items/{item['id']}/{command}", body)
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"]
    assert state(org, item["id"]) == before


def test_duplicate_ids_are_409(org: Api) -> None:
    unit = org.post("/api/v1/units", {"id": "cedar", "name": "Other", "parent_id": None})
    assert unit.status_code == 409, unit.text
    assert org.get("/api/v1/units/cedar").json()["name"] == "Cedar ward"
    forum = org.post(
        "/api/v1/forums", {"id": "cedar-cm", "name": "Other", "unit_id": "willow", "kind": "other"}
    )
    assert forum.status_code == 409, forum.text
    assert org.get("/api/v1/forums/cedar-cm").json()["unit_id"] == "cedar"


def test_stale_if_match_is_409_and_writes_nothing(org: Api, item: dict[str, Any]) -> None:
    path = f"/api/v1/items/{item['id']}"
    moved = org.post(f"{path}/progress", {"note": "Parts ordered."}, **{"If-Match": "1"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["version"] == 2
    assert moved.headers["ETag"] == '"2"'
    before = state(org, item["id"])
    stale = org.post(f"{path}/respond", {"response": "Booked."}, **{"If-Match": "1"})
    assert stale.status_code == 409
    assert state(org, item["id"]) == before
    assert org.get(path).json()["responses"] == []
    fresh = org.post(f"{path}/respond", {"response": "Booked."}, **{"If-Match": '"2"'})
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 3


# -- 413 -------------------------------------------------------------------------


def big_item() -> bytes:
    return json.dumps({**ITEM, "detail": "x" * 70 * 1024}).encode()


def test_a_70_kb_body_is_413(org: Api, item: dict[str, Any]) -> None:
    before = state(org, item["id"])
    answer = raw_post(org, "/api/v1/items", big_item())
    assert answer.status_code == 413
    assert answer.json()["detail"]
    answer = raw_post(org, f"/api/v1/items/{item['id']}/progress", big_item())
    assert answer.status_code == 413
    assert state(org, item["id"]) == before


def test_a_70_kb_body_sent_in_chunks_without_length_is_413(org: Api) -> None:
    payload = big_item()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 8192):
            yield payload[start : start + 8192]

    answer = org.client.post(
        "/api/v1/items",
        content=chunks(),
        headers={**org.admin, "Content-Type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in answer.request.headers}
    assert answer.status_code == 413, answer.text
    assert state(org) == {"items": []}


def test_a_body_just_under_the_limit_is_accepted(org: Api) -> None:
    # detail is limited to 4000 characters, so pad an ignored extra field instead
    body = json.dumps({**ITEM, "padding": "x" * (60 * 1024)}).encode()
    assert len(body) < 64 * 1024
    assert raw_post(org, "/api/v1/items", body).status_code == 201


# -- idempotency -------------------------------------------------------------------


def test_idempotency_key_replay_returns_the_first_response(org: Api) -> None:
    first = org.post("/api/v1/items", ITEM, **{"Idempotency-Key": "meeting-2026-11-02-1"})
    assert first.status_code == 201
    again = org.post("/api/v1/items", ITEM, **{"Idempotency-Key": "meeting-2026-11-02-1"})
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.json() == first.json()
    assert state(org) == {"items": [first.json()["id"]]}
    other = org.post(
        "/api/v1/items", {**ITEM, "title": "Other"}, **{"Idempotency-Key": "meeting-2026-11-02-1"}
    )
    assert other.status_code in (409, 422), other.text
    assert state(org) == {"items": [first.json()["id"]]}
    fresh = org.post("/api/v1/items", ITEM, **{"Idempotency-Key": "meeting-2026-11-02-2"})
    assert fresh.status_code == 201
    assert fresh.json()["id"] != first.json()["id"]


def test_idempotency_key_replay_for_units_and_forums(org: Api) -> None:
    unit = {"id": "oak", "name": "Oak ward", "parent_id": "meadowbank"}
    first = org.post("/api/v1/units", unit, **{"Idempotency-Key": "k1"})
    again = org.post("/api/v1/units", unit, **{"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert org.post("/api/v1/units", unit).status_code == 409  # without the key: a duplicate
    forum = {"id": "oak-cm", "name": "Oak meeting", "unit_id": "oak", "kind": "other"}
    first = org.post("/api/v1/forums", forum, **{"Idempotency-Key": "k2"})
    again = org.post("/api/v1/forums", forum, **{"Idempotency-Key": "k2"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()


def test_item_replay_survives_later_changes(org: Api) -> None:
    first = org.post("/api/v1/items", ITEM, **{"Idempotency-Key": "k"}).json()
    org.post(f"/api/v1/items/{first['id']}/respond", {"response": "Booked."})
    again = org.post("/api/v1/items", ITEM, **{"Idempotency-Key": "k"})
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert len(state(org)["items"]) == 1


# -- operations ----------------------------------------------------------------


def test_healthz_and_openapi(api: Api) -> None:
    assert api.client.get("/healthz").status_code == 200
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/units",
        "/api/v1/forums",
        "/api/v1/users",
        "/api/v1/items",
        "/api/v1/items/{item_id}",
        "/api/v1/items/{item_id}/publish",
        "/api/v1/items/{item_id}/refer",
        "/api/v1/items/{item_id}/respond",
        "/api/v1/items/{item_id}/complete",
        "/api/v1/items/{item_id}/decline",
        "/api/v1/items/{item_id}/progress",
        "/api/v1/items/{item_id}/verify",
        "/api/v1/items/{item_id}/reopen",
        "/healthz",
    ):
        assert path in paths, path


# -- no input makes the service fail -------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=5,
)
FIELDS = [
    "id", "name", "parent_id", "unit_id", "kind", "role", "scopes", "forum_id", "channel",
    "raised_on", "title", "you_said", "detail", "contributor", "themes", "to_unit_id",
    "due_on", "note", "response", "we_did", "because", "instead", "confirmed", "reason",
]  # fmt: skip
PLAUSIBLE = st.sampled_from(
    ["cedar", "willow", "cedar-cm", "other", "manager", "2026-11-02", "2026-13-45", "9999-12-31"]
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(
        ["", "publish", "refer", "respond", "complete", "decline", "progress", "verify", "reopen"]
    ),
    organisation=st.sampled_from(["/api/v1/units", "/api/v1/forums", "/api/v1/users"]),
    body=st.dictionaries(st.sampled_from(FIELDS), PLAUSIBLE | JSON_VALUES, max_size=8),
)
def test_no_body_makes_the_service_fail(
    org: Api, item: dict[str, Any], command: str, organisation: str, body: dict[str, Any]
) -> None:
    path = f"/api/v1/items/{item['id']}/{command}" if command else "/api/v1/items"
    for target in (path, organisation):
        answer = org.post(target, body)
        assert answer.status_code < 500, (target, body, answer.text)
        if answer.status_code >= 400:
            assert answer.json()["detail"]
