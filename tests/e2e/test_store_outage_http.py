"""When the database cannot be reached, callers get 503 with Retry-After, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import OperationalError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout

from tests.e2e.conftest import Api
from yswd.adapters.persistence import DatabaseBusy


@pytest.mark.parametrize(
    "outage",
    [
        OperationalError("connection refused"),
        SQLAlchemyOperationalError("SELECT 1", {}, Exception("server closed the connection")),
    ],
    ids=["event store", "read models"],
)
def test_an_unreachable_store_answers_503(
    api: Api, monkeypatch: pytest.MonkeyPatch, outage: Exception
) -> None:
    api.organisation()
    item = api.raise_item()
    container = api.client.app.state.container  # type: ignore[attr-defined]

    def down(*_: Any, **__: Any) -> Any:
        raise outage

    monkeypatch.setattr(container.app, "get_item", down)
    monkeypatch.setattr(container.staff_items, "list_items", down)

    for answer in (api.get(f"/api/v1/items/{item['id']}"), api.get("/api/v1/items")):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "5"
        assert "database" in answer.json()["detail"]


@pytest.mark.parametrize(
    "overload",
    [
        DatabaseBusy("every database connection was busy"),
        SQLAlchemyTimeout("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=["event store pool", "read-model pool"],
)
def test_a_pool_with_every_connection_busy_answers_503_busy_not_unreachable(
    api: Api, monkeypatch: pytest.MonkeyPatch, overload: Exception
) -> None:
    """The soak's 503s said the database could not be reached while it was up and busy."""
    api.organisation()
    item = api.raise_item()
    container = api.client.app.state.container  # type: ignore[attr-defined]

    def busy(*_: Any, **__: Any) -> Any:
        raise overload

    monkeypatch.setattr(container.app, "get_item", busy)
    monkeypatch.setattr(container.staff_items, "list_items", busy)

    for answer in (api.get(f"/api/v1/items/{item['id']}"), api.get("/api/v1/items")):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "2"
        assert "busy" in answer.json()["detail"]
        assert "reach" not in answer.json()["detail"]
