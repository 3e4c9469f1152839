"""Public boards and metrics are answered from a cache that the item rows alone invalidate."""

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
    """No background runner: only requests move the read models here."""
    with TestClient(create_app(container, manage_lifecycle=False)) as client:
        yield Api(client)


def board(api: Api) -> list[str]:
    answer = api.client.get("/public/api/v1/boards/cedar")
    assert answer.status_code == 200
    return [item["title"] for item in answer.json()["items"]]


def test_a_board_is_computed_once_until_an_item_changes(
    quiet_api: Api, container: Container
) -> None:
    quiet_api.organisation()
    first = quiet_api.raise_item(title="Laundry", contributor="Sam Jones")["id"]
    quiet_api.post(f"/api/v1/items/{first}/publish", None)
    cache = container.runner.answers

    assert board(quiet_api) == ["Laundry"]
    misses = cache.misses
    assert board(quiet_api) == ["Laundry"]
    assert (cache.misses, cache.hits) == (misses, 1)

    # an audited staff read and a new user move other read models, not the items
    assert quiet_api.get("/api/v1/items").status_code == 200  # shows a contributor: recorded
    quiet_api.user("secretary", "cedar")
    container.runner.catch_up()
    assert board(quiet_api) == ["Laundry"]
    assert cache.misses == misses

    # an item that changes is on the very next answer
    second = quiet_api.raise_item(title="Garden hours")["id"]
    quiet_api.post(f"/api/v1/items/{second}/publish", None)
    assert sorted(board(quiet_api)) == ["Garden hours", "Laundry"]
    assert cache.misses == misses + 1
