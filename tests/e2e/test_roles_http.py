"""One block per role: what each may do over HTTP, and what it may not (401/403).

The organisation (see ``Api.organisation``): north-west > meadowbank > cedar, willow;
and an unrelated top-level unit, elsewhere. Each ward has a community meeting forum.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Api


@pytest.fixture
def data_dir(shm_data_dir: Path) -> Path:
    return shm_data_dir


COMMANDS: dict[str, dict[str, Any]] = {
    "publish": {"you_said": "Public wording."},
    "refer": {"to_unit_id": "willow", "note": "Over to Willow."},
    "respond": {"response": "An engineer is booked."},
    "complete": {"we_did": "Replaced the machine."},
    "decline": {"because": "It is leased.", "instead": "Use Oak ward's."},
    "progress": {"note": "Parts ordered."},
    "verify": {"confirmed": True},
    "reopen": {"reason": "It broke again."},
}


class World:
    """Items in cedar, willow and elsewhere, raised by the admin."""

    def __init__(self, api: Api) -> None:
        api.organisation()
        self.api = api
        self.cedar = api.raise_item("cedar-cm")
        self.willow = api.raise_item("willow-cm")
        self.elsewhere = api.raise_item("elsewhere-cm")

    def raised(self, forum_id: str = "cedar-cm") -> dict[str, Any]:
        return self.api.raise_item(forum_id)

    def done(self, forum_id: str = "cedar-cm") -> dict[str, Any]:
        item = self.raised(forum_id)
        answer = self.api.post(f"/api/v1/items/{item['id']}/complete", COMMANDS["complete"])
        assert answer.status_code == 200
        return dict(answer.json())

    def version(self, item: dict[str, Any]) -> int:
        return int(self.api.get(f"/api/v1/items/{item['id']}").json()["version"])

    def ids(self, token: str | None = None, **params: Any) -> set[str]:
        answer = self.api.get("/api/v1/items", token, **params)
        assert answer.status_code == 200, answer.text
        return {i["id"] for i in answer.json()["items"]}


@pytest.fixture
def world(api: Api) -> World:
    return World(api)


def item_for(world: World, command: str, forum_id: str = "cedar-cm") -> dict[str, Any]:
    """An item in a status from which ``command`` is allowed."""
    return world.done(forum_id) if command in ("verify", "reopen") else world.raised(forum_id)


def assert_refused(world: World, token: str, command: str, status: int = 403) -> None:
    item = item_for(world, command)
    version = world.version(item)
    answer = world.api.post(f"/api/v1/items/{item['id']}/{command}", COMMANDS[command], token)
    assert answer.status_code == status, (command, answer.text)
    assert world.version(item) == version


def assert_allowed(world: World, token: str, command: str, forum_id: str = "cedar-cm") -> None:
    item = item_for(world, command, forum_id)
    answer = world.api.post(f"/api/v1/items/{item['id']}/{command}", COMMANDS[command], token)
    assert answer.status_code == 200, (command, answer.text)
    assert answer.json()["version"] == item["version"] + 1


ORGANISATION_WRITES = [
    ("/api/v1/units", {"id": "oak", "name": "Oak ward", "parent_id": "meadowbank"}),
    ("/api/v1/forums", {"id": "cedar-cv", "name": "CV", "unit_id": "cedar", "kind": "other"}),
    ("/api/v1/users", {"name": "Someone", "role": "secretary", "scopes": ["cedar"]}),
]


def assert_no_organisation_writes(world: World, token: str) -> None:
    for path, body in ORGANISATION_WRITES:
        assert world.api.post(path, body, token).status_code == 403, path
    assert world.api.get("/api/v1/units/oak").status_code == 404
    assert world.api.get("/api/v1/forums/cedar-cv").status_code == 404


class TestAdmin:
    def test_creates_the_organisation_and_users(self, api: Api) -> None:
        api.organisation()
        answer = api.post("/api/v1/users", {"name": "Sam", "role": "manager", "scopes": ["cedar"]})
        assert answer.status_code == 201
        user = answer.json()
        assert set(user) >= {"id", "name", "role", "scopes", "token"}
        assert (user["name"], user["role"], user["scopes"]) == ("Sam", "manager", ["cedar"])
        assert api.get("/api/v1/items", user["token"]).status_code == 200

    def test_may_do_everything_everywhere(self, world: World) -> None:
        for command in list(COMMANDS):
            assert_allowed(world, world.api.admin["Authorization"][7:], command, "elsewhere-cm")

    def test_sees_everything(self, world: World) -> None:
        assert world.ids() == {world.cedar["id"], world.willow["id"], world.elsewhere["id"]}

    def test_a_scoped_admin_is_limited_to_its_scope(self, world: World) -> None:
        admin = world.api.user("admin", "meadowbank")
        assert world.api.get(f"/api/v1/items/{world.elsewhere['id']}", admin).status_code == 403
        assert world.ids(admin) == {world.cedar["id"], world.willow["id"]}
        top = {"id": "top", "name": "Top", "parent_id": None}
        assert world.api.post("/api/v1/units", top, admin).status_code == 403
        oak = {"id": "oak", "name": "Oak", "parent_id": "meadowbank"}
        assert world.api.post("/api/v1/units", oak, admin).status_code == 201


class TestSecretary:
    @pytest.fixture
    def token(self, world: World) -> str:
        return world.api.user("secretary", "cedar")

    def test_raises_items_in_forums_in_scope_only(self, world: World, token: str) -> None:
        item = world.api.raise_item("cedar-cm", token)
        assert item["status"] == "raised"
        before = world.ids()
        body = {
            "forum_id": "willow-cm",
            "channel": "other",
            "raised_on": "2026-11-02",
            "title": "T",
            "you_said": "Y",
        }
        assert world.api.post("/api/v1/items", body, token).status_code == 403
        assert world.ids() == before

    def test_may(self, world: World, token: str) -> None:
        for command in ["progress", "reopen", "verify"]:
            assert_allowed(world, token, command)

    def test_may_not(self, world: World, token: str) -> None:
        for command in ["publish", "refer", "respond", "complete", "decline"]:
            assert_refused(world, token, command)

    def test_may_not_out_of_scope(self, world: World, token: str) -> None:
        for command in ["progress", "reopen", "verify"]:
            item = item_for(world, command, "willow-cm")
            answer = world.api.post(
                f"/api/v1/items/{item['id']}/{command}", COMMANDS[command], token
            )
            assert answer.status_code == 403
            assert world.version(item) == item["version"]

    def test_reads_only_in_scope(self, world: World, token: str) -> None:
        assert world.api.get(f"/api/v1/items/{world.cedar['id']}", token).status_code == 200
        assert world.api.get(f"/api/v1/items/{world.willow['id']}", token).status_code == 403
        assert world.ids(token) == {world.cedar["id"]}
        assert world.api.get("/api/v1/units/cedar", token).status_code == 200
        assert world.api.get("/api/v1/units/willow", token).status_code == 403
        assert world.api.get("/api/v1/forums/cedar-cm", token).status_code == 200
        assert world.api.get("/api/v1/forums/willow-cm", token).status_code == 403
        assert world.ids(token, unit_id="willow") == set()

    def test_no_organisation_writes(self, world: World, token: str) -> None:
        assert_no_organisation_writes(world, token)


class TestManager:
    @pytest.fixture
    def token(self, world: World) -> str:
        return world.api.user("manager", "meadowbank")

    def test_may_in_scope_including_descendants(self, world: World, token: str) -> None:
        for command in ["refer", "respond", "complete", "decline", "progress"]:
            assert_allowed(world, token, command, "cedar-cm")
            assert_allowed(world, token, command, "willow-cm")

    def test_may_not(self, world: World, token: str) -> None:
        for command in ["publish", "verify", "reopen"]:
            assert_refused(world, token, command)

    def test_may_not_raise_items(self, world: World, token: str) -> None:
        body = {
            "forum_id": "cedar-cm",
            "channel": "other",
            "raised_on": "2026-11-02",
            "title": "T",
            "you_said": "Y",
        }
        assert world.api.post("/api/v1/items", body, token).status_code == 403

    def test_may_not_out_of_scope(self, world: World, token: str) -> None:
        for command in ["refer", "respond", "complete", "decline", "progress"]:
            item = world.elsewhere
            version = world.version(item)
            answer = world.api.post(
                f"/api/v1/items/{item['id']}/{command}", COMMANDS[command], token
            )
            assert answer.status_code == 403
            assert world.version(item) == version

    def test_a_referral_brings_an_item_into_scope(self, world: World) -> None:
        elsewhere = world.api.user("manager", "elsewhere")
        path = f"/api/v1/items/{world.cedar['id']}"
        assert world.api.get(path, elsewhere).status_code == 403
        assert world.ids(elsewhere) == {world.elsewhere["id"]}
        referred = world.api.post(f"{path}/refer", {"to_unit_id": "elsewhere"})
        assert referred.status_code == 200
        assert world.api.get(path, elsewhere).status_code == 200
        assert world.ids(elsewhere) == {world.elsewhere["id"], world.cedar["id"]}
        answer = world.api.post(f"{path}/respond", COMMANDS["respond"], elsewhere)
        assert answer.status_code == 200
        assert answer.json()["status"] == "responded"

    def test_reads_only_in_scope(self, world: World, token: str) -> None:
        assert world.ids(token) == {world.cedar["id"], world.willow["id"]}
        assert world.api.get(f"/api/v1/items/{world.elsewhere['id']}", token).status_code == 403

    def test_no_organisation_writes(self, world: World, token: str) -> None:
        assert_no_organisation_writes(world, token)


class TestModerator:
    @pytest.fixture
    def token(self, world: World) -> str:
        return world.api.user("moderator", "cedar")

    def test_publishes_in_scope_with_edited_wording(self, world: World, token: str) -> None:
        path = f"/api/v1/items/{world.cedar['id']}/publish"
        answer = world.api.post(path, {"you_said": "The laundry needs fixing."}, token)
        assert answer.status_code == 200
        assert answer.json()["published"] is True
        assert answer.json()["you_said"] == "The laundry needs fixing."
        assert answer.json()["status"] == "raised"

    def test_publishes_without_a_body_change(self, world: World, token: str) -> None:
        answer = world.api.post(f"/api/v1/items/{world.cedar['id']}/publish", {}, token)
        assert answer.status_code == 200
        assert answer.json()["you_said"] == world.cedar["you_said"]
        bare = world.api.client.post(
            f"/api/v1/items/{world.willow['id']}/publish", headers=world.api.admin
        )
        assert bare.status_code == 200, bare.text
        assert bare.json()["published"] is True

    def test_may_not_publish_out_of_scope(self, world: World, token: str) -> None:
        path = f"/api/v1/items/{world.willow['id']}"
        assert world.api.post(f"{path}/publish", {}, token).status_code == 403
        assert world.api.get(path).json()["published"] is False

    def test_may_not(self, world: World, token: str) -> None:
        for command in ["refer", "respond", "complete", "decline", "progress", "verify", "reopen"]:
            assert_refused(world, token, command)

    def test_reads_only_in_scope(self, world: World, token: str) -> None:
        assert world.ids(token) == {world.cedar["id"]}
        assert world.api.get(f"/api/v1/items/{world.willow['id']}", token).status_code == 403

    def test_no_organisation_writes(self, world: World, token: str) -> None:
        assert_no_organisation_writes(world, token)


class TestAuditor:
    @pytest.fixture
    def token(self, world: World) -> str:
        return world.api.user("auditor")

    def test_reads_everything(self, world: World, token: str) -> None:
        assert world.ids(token) == world.ids()
        for item in (world.cedar, world.willow, world.elsewhere):
            assert world.api.get(f"/api/v1/items/{item['id']}", token).status_code == 200

    def test_writes_nothing(self, world: World, token: str) -> None:
        for command in list(COMMANDS):
            assert_refused(world, token, command)

    def test_raises_nothing(self, world: World, token: str) -> None:
        body = {
            "forum_id": "cedar-cm",
            "channel": "other",
            "raised_on": "2026-11-02",
            "title": "T",
            "you_said": "Y",
        }
        before = world.ids()
        assert world.api.post("/api/v1/items", body, token).status_code == 403
        assert world.ids() == before

    def test_no_organisation_writes(self, world: World, token: str) -> None:
        assert_no_organisation_writes(world, token)

    def test_a_scoped_auditor_reads_only_its_scope(self, world: World) -> None:
        token = world.api.user("auditor", "willow")
        assert world.ids(token) == {world.willow["id"]}
        assert world.api.get(f"/api/v1/items/{world.cedar['id']}", token).status_code == 403


class TestPublic:
    def test_healthz(self, api: Api) -> None:
        assert api.client.get("/healthz").status_code == 200

    def test_public_boards_need_no_token(self, world: World) -> None:
        published = world.api.post(f"/api/v1/items/{world.cedar['id']}/publish", {})
        assert published.status_code == 200
        board = world.api.client.get("/public/api/v1/boards/meadowbank")
        assert board.status_code == 200, board.text
        assert [i["id"] for i in board.json()["items"]] == [world.cedar["id"]]
        assert "contributor" not in board.json()["items"][0]
        assert world.api.client.get("/public/api/v1/boards/no-such-unit").status_code == 404

    def test_staff_api_needs_a_token(self, world: World) -> None:
        client = world.api.client
        item = world.cedar["id"]
        for method, path, body in [
            ("GET", "/api/v1/items", None),
            ("GET", f"/api/v1/items/{item}", None),
            ("POST", "/api/v1/items", {"forum_id": "cedar-cm"}),
            *[("POST", f"/api/v1/items/{item}/{c}", b) for c, b in COMMANDS.items()],
            *[("POST", path, body) for path, body in ORGANISATION_WRITES],
        ]:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 401, (method, path)
            bad = client.request(method, path, json=body, headers={"Authorization": "Bearer no"})
            assert bad.status_code == 401, (method, path)
        assert world.version(world.cedar) == 1
