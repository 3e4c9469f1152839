"""An HTTP client over the real app, on a real SQLite data folder.

The app runs on the tests' clock (``tests.clock``): it is always ``TODAY`` there,
so dates in tests are written relative to ``TODAY``, never to the machine's date.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clock import ticking_clock
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings

ADMIN_TOKEN = "test-admin-token"


class Api:
    """A thin client that knows the admin token and makes users of each role."""

    def __init__(self, client: TestClient, clock: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        #: the app's clock (as given to ``build``), for tests that compare instants with "now"
        self.clock = clock or (lambda: datetime.now(UTC))

    def post(self, path: str, body: Any, token: str | None = None, **headers: str) -> Any:
        auth = {"Authorization": f"Bearer {token}"} if token else self.admin
        return self.client.post(path, json=body, headers={**auth, **headers})

    def get(self, path: str, token: str | None = None, **params: Any) -> Any:
        auth = {"Authorization": f"Bearer {token}"} if token else self.admin
        return self.client.get(path, headers=auth, params=params)

    def user(self, role: str, *scopes: str) -> str:
        answer = self.post(
            "/api/v1/users", {"name": f"A {role}", "role": role, "scopes": list(scopes)}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def organisation(self) -> None:
        for unit in (
            {"id": "north-west", "name": "North West", "parent_id": None},
            {"id": "meadowbank", "name": "Meadowbank", "parent_id": "north-west"},
            {"id": "cedar", "name": "Cedar ward", "parent_id": "meadowbank"},
            {"id": "willow", "name": "Willow ward", "parent_id": "meadowbank"},
            {"id": "elsewhere", "name": "Another trust", "parent_id": None},
        ):
            assert self.post("/api/v1/units", unit).status_code == 201
        for forum in (
            {
                "id": "cedar-cm",
                "name": "Cedar community meeting",
                "unit_id": "cedar",
                "kind": "community_meeting",
            },
            {
                "id": "willow-cm",
                "name": "Willow community meeting",
                "unit_id": "willow",
                "kind": "community_meeting",
            },
            {
                "id": "elsewhere-cm",
                "name": "Elsewhere meeting",
                "unit_id": "elsewhere",
                "kind": "community_meeting",
            },
        ):
            assert self.post("/api/v1/forums", forum).status_code == 201

    def raise_item(self, forum_id: str = "cedar-cm", token: str | None = None, **extra: Any) -> Any:
        body = {
            "forum_id": forum_id,
            "channel": "community_meeting",
            "raised_on": "2026-11-02",  # three weeks before TODAY: due, not yet overdue
            "title": "Laundry",
            "you_said": "The washing machine has been broken for two weeks.",
            **extra,
        }
        answer = self.post("/api/v1/items", body, token)
        assert answer.status_code == 201, answer.text
        return answer.json()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "yswd-data"


@pytest.fixture
def shm_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A real SQLite data folder on memory-backed /dev/shm where there is one.

    Still the real store, only without the disk's fsync cost; a module opts in
    by overriding ``data_dir`` with it.
    """
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path / "yswd-data"
        return
    folder = Path(tempfile.mkdtemp(prefix="yswd-test-", dir=shm))
    try:
        yield folder / "yswd-data"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def api(data_dir: Path) -> Iterator[Api]:
    clock = ticking_clock()
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=clock)
    with TestClient(create_app(container)) as client:
        yield Api(client, clock)
    container.close()


@pytest.fixture
def counting_api(data_dir: Path) -> Iterator[Api]:
    """``api`` with small-number suppression off (threshold 1), for tests of how a figure
    is computed from a handful of items; ``test_small_numbers_http.py`` tests suppression."""
    clock = ticking_clock()
    settings = Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN, small_number_threshold=1)
    container = build(settings, clock=clock)
    with TestClient(create_app(container)) as client:
        yield Api(client, clock)
    container.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for a module's browser tests (each test opens its own context)."""
    from tests.e2e.browser_support import chromium_browser

    with chromium_browser() as chromium:
        yield chromium
