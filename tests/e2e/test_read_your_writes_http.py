"""Embedded read-your-writes: item commands leave the read models to the next read.

The background runner is not started here (``manage_lifecycle=False``), so nothing
but the next request can bring the read models up: what these tests see is the
middleware's doing, not a race with the runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.adapters.http.app import create_app
from yswd.bootstrap import Container, build
from yswd.settings import Settings


@pytest.fixture
def container(data_dir: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN))
    yield built
    built.close()


@pytest.fixture
def quiet_api(container: Container) -> Iterator[Api]:
    with TestClient(create_app(container, manage_lifecycle=False)) as client:
        yield Api(client)


def position(answer: object) -> int:
    return int(answer.headers["X-Yswd-Position"])  # type: ignore[attr-defined]


def test_item_commands_answer_before_the_read_models_apply_them(
    quiet_api: Api, container: Container
) -> None:
    quiet_api.organisation()
    first = quiet_api.post(
        "/api/v1/items",
        {
            "forum_id": "cedar-cm",
            "channel": "community_meeting",
            "raised_on": "2026-11-02",
            "title": "Laundry",
            "you_said": "The washing machine has been broken for two weeks.",
        },
    )
    assert first.status_code == 201
    item_id = first.json()["id"]
    published = quiet_api.post(f"/api/v1/items/{item_id}/publish", None)
    assert published.status_code == 200
    responded = quiet_api.post(
        f"/api/v1/items/{item_id}/respond", {"response": "A new machine is on order."}
    )
    assert responded.status_code == 200
    # three acknowledged writes, none applied yet: the commands did not wait
    assert container.runner.applied() < position(first) < position(responded)
    assert container.unapplied_writes()

    # the next read sees all of them, staff and public alike
    listed = quiet_api.get("/api/v1/items")
    assert [row["id"] for row in listed.json()["items"]] == [item_id]
    assert listed.json()["items"][0]["status"] == "responded"
    assert container.runner.applied() >= position(responded)
    assert not container.unapplied_writes()
    board = quiet_api.client.get("/public/api/v1/boards/cedar").json()
    assert [row["responses"][0]["response"] for row in board["items"]] == [
        "A new machine is on order."
    ]


def test_a_write_that_reads_read_models_sees_earlier_item_commands(
    quiet_api: Api, container: Container
) -> None:
    """Bulk publish is not an item command: it catches up first, like a read."""
    quiet_api.organisation()
    ids = [quiet_api.raise_item(title=f"Item {n}")["id"] for n in range(3)]
    assert container.unapplied_writes()
    moderator = quiet_api.user("moderator", "meadowbank")  # a write that catches up first
    answer = quiet_api.post("/api/v1/items/bulk/publish", {"item_ids": ids}, moderator)
    assert answer.status_code == 200, answer.text
    assert [result["status"] for result in answer.json()["results"]] == [200, 200, 200]


def test_a_page_sees_the_api_write_just_before_it(quiet_api: Api, container: Container) -> None:
    quiet_api.organisation()
    item_id = quiet_api.raise_item(title="Garden hours")["id"]
    assert quiet_api.post(f"/api/v1/items/{item_id}/publish", None).status_code == 200
    assert container.unapplied_writes()
    page = quiet_api.client.get("/public/boards/cedar")
    assert page.status_code == 200
    assert "Garden hours" in page.text
    assert not container.unapplied_writes()
