"""Units whose ids begin alike are kept apart, over HTTP.

Ward 1 (``ward-1``), its garden annexe (``ward-1-garden``, below it) and Ward 10
(``ward-10``, its neighbour) share the first letters of their ids. Every scoped read
finds a unit's items by the unit's path (``projections/sql.py: subtree``), so a
manager of Ward 1, its public board and the admin's Ward 1 filter must see Ward 1 and
its annexe, and what Ward 10 referred to Ward 1, and never Ward 10's own items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Api


@pytest.fixture
def data_dir(shm_data_dir: Path) -> Path:
    return shm_data_dir


class Wards:
    """north-west > meadowbank > ward-1 > ward-1-garden; meadowbank > ward-10."""

    def __init__(self, api: Api) -> None:
        self.api = api
        for unit_id, name, parent in (
            ("north-west", "North West", None),
            ("meadowbank", "Meadowbank", "north-west"),
            ("ward-1", "Ward 1", "meadowbank"),
            ("ward-1-garden", "Ward 1 garden annexe", "ward-1"),
            ("ward-10", "Ward 10", "meadowbank"),
        ):
            body = {"id": unit_id, "name": name, "parent_id": parent}
            assert api.post("/api/v1/units", body).status_code == 201
            forum = {
                "id": f"{unit_id}-cm",
                "name": f"{name} community meeting",
                "unit_id": unit_id,
                "kind": "community_meeting",
            }
            assert api.post("/api/v1/forums", forum).status_code == 201
        self.ward_1 = self.published("ward-1-cm", "Ward 1's laundry")
        self.garden = self.published("ward-1-garden-cm", "The annexe's bench")
        self.ward_10 = self.published("ward-10-cm", "Ward 10's television")
        self.referred = self.published("ward-10-cm", "Ward 10 asks Ward 1 for its kettle")
        answer = api.post(
            f"/api/v1/items/{self.referred['id']}/refer",
            {"to_unit_id": "ward-1", "note": "Ward 1 keeps the spare kettle."},
        )
        assert answer.status_code == 200, answer.text

    def published(self, forum_id: str, title: str) -> dict[str, Any]:
        item = self.api.raise_item(forum_id, title=title)
        answer = self.api.post(f"/api/v1/items/{item['id']}/publish", {})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def listed(self, token: str | None = None, **params: Any) -> set[str]:
        answer = self.api.get("/api/v1/items", token, **params)
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()["items"]}

    def on_board(self, unit_id: str) -> set[str]:
        answer = self.api.client.get(f"/public/api/v1/boards/{unit_id}")
        assert answer.status_code == 200, answer.text
        return {item["id"] for item in answer.json()["items"]}


@pytest.fixture
def wards(api: Api) -> Wards:
    return Wards(api)


def ids(*items: dict[str, Any]) -> set[str]:
    return {item["id"] for item in items}


def test_a_ward_manager_sees_the_ward_its_annexe_and_what_was_referred_to_it(
    wards: Wards,
) -> None:
    manager = wards.api.user("manager", "ward-1")
    assert wards.listed(manager) == ids(wards.ward_1, wards.garden, wards.referred)
    neighbour = wards.api.user("manager", "ward-10")
    assert wards.listed(neighbour) == ids(wards.ward_10, wards.referred)
    annexe = wards.api.user("manager", "ward-1-garden")
    assert wards.listed(annexe) == ids(wards.garden)


def test_the_admin_s_unit_filter_keeps_neighbours_apart(wards: Wards) -> None:
    assert wards.listed(unit_id="ward-1") == ids(wards.ward_1, wards.garden, wards.referred)
    assert wards.listed(unit_id="ward-10") == ids(wards.ward_10, wards.referred)
    assert wards.listed(referred_to="ward-1") == ids(wards.referred)
    assert wards.listed(referred_to="ward-10") == set()
    everything = ids(wards.ward_1, wards.garden, wards.ward_10, wards.referred)
    assert wards.listed(unit_id="meadowbank") == everything


def test_a_ward_s_public_board_shows_only_what_was_raised_under_it(wards: Wards) -> None:
    assert wards.on_board("ward-1") == ids(wards.ward_1, wards.garden)
    assert wards.on_board("ward-10") == ids(wards.ward_10, wards.referred)
    assert wards.on_board("ward-1-garden") == ids(wards.garden)
    everything = ids(wards.ward_1, wards.garden, wards.ward_10, wards.referred)
    assert wards.on_board("north-west") == everything
    assert wards.api.client.get("/public/api/v1/boards/ward").status_code == 404
