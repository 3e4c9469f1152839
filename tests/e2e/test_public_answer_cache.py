"""Public boards and metrics are answered from a cache that the item rows alone invalidate."""

from __future__ import annotations

import re
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


def metrics_page(api: Api, unit_id: str) -> str:
    answer = api.client.get(f"/public/metrics/{unit_id}")
    assert answer.status_code == 200
    return answer.text


def items_raised(page: str) -> str:
    """The page's "Items raised" figure, as shown."""
    found = re.search(r"<dt>Items raised</dt><dd>\s*([^<]*?)\s*</dd>", page)
    assert found is not None, page
    return found.group(1)


def test_a_metrics_page_is_computed_once_until_an_item_under_its_unit_changes(
    quiet_api: Api, container: Container
) -> None:
    """The page computes every figure over the window's rows (seconds for a region on a
    national store): it is kept until an item raised under the unit changes."""
    quiet_api.organisation()
    for title in ("Laundry", "Garden", "Phones", "Visits", "Food", "Noise"):
        item = quiet_api.raise_item(title=title)["id"]
        quiet_api.post(f"/api/v1/items/{item}/publish", None)
    cache = container.runner.answers
    first = metrics_page(quiet_api, "meadowbank")
    misses = cache.misses
    assert metrics_page(quiet_api, "meadowbank") == first
    assert cache.misses == misses

    # a write in another trust keeps the page; one under the unit renews it at once
    other = quiet_api.raise_item(title="Elsewhere", forum_id="elsewhere-cm")["id"]
    quiet_api.post(f"/api/v1/items/{other}/publish", None)
    assert metrics_page(quiet_api, "meadowbank") == first
    assert cache.misses == misses
    more = quiet_api.raise_item(title="Heating")["id"]
    quiet_api.post(f"/api/v1/items/{more}/publish", None)
    renewed = metrics_page(quiet_api, "meadowbank")
    assert cache.misses == misses + 1
    assert renewed != first
    assert items_raised(first) == "6" and items_raised(renewed) == "7"
