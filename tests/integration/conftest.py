"""A real uvicorn server on a free local port, over a real SQLite data folder."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings

ADMIN_TOKEN = "integration-admin-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveServer:
    url: str

    def client(self, token: str = ADMIN_TOKEN) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


def wait_until_up(url: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):  # not listening yet
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    container = build(Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN))
    port = free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield LiveServer(url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()


def setup_ward(server: LiveServer) -> dict[str, Any]:
    """A ward with a forum, one raised item, and the item as created."""
    with server.client() as admin:
        for body in (
            {"id": "trust", "name": "Trust", "parent_id": None},
            {"id": "cedar", "name": "Cedar ward", "parent_id": "trust"},
        ):
            assert admin.post("/api/v1/units", json=body).status_code == 201
        forum = {"id": "cedar-cm", "name": "Meeting", "unit_id": "cedar", "kind": "other"}
        assert admin.post("/api/v1/forums", json=forum).status_code == 201
        item = admin.post(
            "/api/v1/items",
            json={
                "forum_id": "cedar-cm",
                "channel": "community_meeting",
                "raised_on": "2026-11-02",
                "title": "Laundry",
                "you_said": "The washing machine is broken.",
            },
        )
        assert item.status_code == 201, item.text
        return dict(item.json())
