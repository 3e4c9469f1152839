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


def get_board(api: Api, unit_id: str) -> list[str]:
    answer = api.client.get(f"/public/api/v1/boards/{unit_id}")
    assert answer.status_code == 200
    return sorted(item["title"] for item in answer.json()["items"])


def figures(api: Api, unit_id: str) -> dict[str, object]:
    """A unit's public figures (small numbers held back: compared whole, not read)."""
    answer = api.client.get("/public/api/v1/metrics", params={"unit_id": unit_id})
    assert answer.status_code == 200
    return dict(answer.json())


def test_a_ward_s_answers_are_kept_while_another_ward_changes(
    quiet_api: Api, container: Container
) -> None:
    """Each unit's answers follow the items raised under it, and only those: a write in
    Willow keeps Cedar's board; one in Cedar renews Cedar's and its trust's and region's."""
    quiet_api.organisation()
    laundry = quiet_api.raise_item(title="Laundry")["id"]
    quiet_api.post(f"/api/v1/items/{laundry}/publish", None)
    cache = container.runner.answers
    assert get_board(quiet_api, "cedar") == ["Laundry"]
    assert get_board(quiet_api, "meadowbank") == ["Laundry"]
    cedar_figures = figures(quiet_api, "cedar")
    misses = cache.misses

    tv = quiet_api.raise_item("willow-cm", title="Television")["id"]
    quiet_api.post(f"/api/v1/items/{tv}/publish", None)
    assert get_board(quiet_api, "cedar") == ["Laundry"]
    assert figures(quiet_api, "cedar") == cedar_figures
    assert cache.misses == misses  # both kept
    assert get_board(quiet_api, "meadowbank") == ["Laundry", "Television"]  # renewed
    assert get_board(quiet_api, "willow") == ["Television"]
    assert cache.misses == misses + 2

    garden = quiet_api.raise_item(title="Garden hours")["id"]
    quiet_api.post(f"/api/v1/items/{garden}/publish", None)
    misses = cache.misses
    assert get_board(quiet_api, "cedar") == ["Garden hours", "Laundry"]
    figures(quiet_api, "cedar")
    assert cache.misses == misses + 2  # both renewed
    assert get_board(quiet_api, "meadowbank") == ["Garden hours", "Laundry", "Television"]
    assert get_board(quiet_api, "north-west") == ["Garden hours", "Laundry", "Television"]
    assert get_board(quiet_api, "willow") == ["Television"]  # kept: nothing of Willow's moved

    # withdrawn from the public (a safeguarding restriction): gone at once
    flagged = quiet_api.post(
        f"/api/v1/items/{garden}/safeguarding",
        {"reason": "The person named someone who hurt them."},
    )
    assert flagged.status_code in (200, 201), flagged.text
    assert get_board(quiet_api, "cedar") == ["Laundry"]


def test_a_rebuild_renews_every_unit_s_answers(quiet_api: Api, container: Container) -> None:
    quiet_api.organisation()
    laundry = quiet_api.raise_item(title="Laundry")["id"]
    quiet_api.post(f"/api/v1/items/{laundry}/publish", None)
    assert get_board(quiet_api, "cedar") == ["Laundry"]
    misses = container.runner.answers.misses
    container.runner.rebuild()
    assert get_board(quiet_api, "cedar") == ["Laundry"]
    assert container.runner.answers.misses == misses + 1
