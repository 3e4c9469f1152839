"""A restart on the same data folder loses nothing: events, tokens, read models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from yswd.adapters.http.app import create_app
from yswd.aggregates.users import Role
from yswd.bootstrap import Container, build
from yswd.settings import Settings

ADMIN = {"Authorization": "Bearer restart-admin-token"}


def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, admin_token="restart-admin-token")


def admins(container: Container) -> int:
    """How many admin users are stored (read straight from the event store)."""
    count = 0
    for notification in container.app.recorder.select_notifications(start=1, limit=100_000):
        if notification.originator_id.startswith("user:") and notification.originator_version == 1:
            user = container.app.repository.get(notification.originator_id)
            count += user.role is Role.ADMIN
    return count


def test_a_restart_loses_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = build(settings(data_dir))
    with TestClient(create_app(first)) as client:

        def post(path: str, body: Any, headers: dict[str, str] = ADMIN) -> Any:
            answer = client.post(path, json=body, headers=headers)
            assert answer.status_code in (200, 201), answer.text
            return answer.json()

        post("/api/v1/units", {"id": "trust", "name": "Trust", "parent_id": None})
        post("/api/v1/units", {"id": "cedar", "name": "Cedar", "parent_id": "trust"})
        post(
            "/api/v1/forums",
            {"id": "cedar-cm", "name": "Meeting", "unit_id": "cedar", "kind": "other"},
        )
        secretary = post("/api/v1/users", {"name": "Sue", "role": "secretary", "scopes": ["cedar"]})
        manager = post("/api/v1/users", {"name": "Max", "role": "manager", "scopes": ["trust"]})
        as_secretary = {"Authorization": f"Bearer {secretary['token']}"}
        as_manager = {"Authorization": f"Bearer {manager['token']}"}
        body = {
            "forum_id": "cedar-cm",
            "channel": "other",
            "raised_on": "2026-11-02",
            "title": "Laundry",
            "you_said": "Broken.",
            "contributor": "Ian",
        }
        one = post("/api/v1/items", body, {**as_secretary, "Idempotency-Key": "k1"})
        two = post("/api/v1/items", {**body, "title": "Menus"}, as_secretary)
        post(f"/api/v1/items/{one['id']}/respond", {"response": "Booked."}, as_manager)
        post(f"/api/v1/items/{two['id']}/complete", {"we_did": "New menus."}, as_manager)
        before = {
            item_id: client.get(f"/api/v1/items/{item_id}", headers=ADMIN).json()
            for item_id in (one["id"], two["id"])
        }
        listed_before = client.get("/api/v1/items", headers=ADMIN).json()["items"]
    first.close()

    second = build(settings(data_dir))
    try:
        assert admins(second) == 1
        with TestClient(create_app(second)) as client:
            for item_id, item in before.items():
                assert client.get(f"/api/v1/items/{item_id}", headers=ADMIN).json() == item
            listed = client.get("/api/v1/items", headers=ADMIN).json()["items"]
            assert listed == listed_before
            assert {i["status"] for i in listed} == {"responded", "done"}
            mine = client.get("/api/v1/items", headers=as_secretary)
            assert mine.status_code == 200
            assert {i["id"] for i in mine.json()["items"]} == set(before)
            assert client.get("/api/v1/me", headers=as_manager).json()["name"] == "Max"
            bad = client.get("/api/v1/items", headers={"Authorization": "Bearer not-a-token"})
            assert bad.status_code == 401
            # the idempotency record survived too
            again = client.post(
                "/api/v1/items", json=body, headers={**as_secretary, "Idempotency-Key": "k1"}
            )
            assert again.status_code == 201
            assert again.json()["id"] == one["id"]
            assert len(client.get("/api/v1/items", headers=ADMIN).json()["items"]) == 2
            # and the store keeps taking writes
            moved = client.post(
                f"/api/v1/items/{one['id']}/complete",
                json={"we_did": "Fixed"},
                headers={**as_manager, "If-Match": str(before[one["id"]]["version"])},
            )
            assert moved.status_code == 200, moved.text
    finally:
        second.close()

    third = build(settings(data_dir))
    try:
        assert admins(third) == 1
        assert third.app.authenticate("restart-admin-token").role is Role.ADMIN
    finally:
        third.close()


def test_read_model_rows_are_not_duplicated_by_restarts(tmp_path: Path) -> None:
    from yswd.projections.item_tables import items

    data_dir = tmp_path / "data"
    for _ in range(2):
        container = build(settings(data_dir))
        container.start()
        container.stop()
        container.close()
    container = build(settings(data_dir))
    try:
        container.runner.catch_up()
        with container.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(items)).scalar_one() == 0
        assert admins(container) == 1
    finally:
        container.close()
