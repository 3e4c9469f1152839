"""The README's run command: `yswd serve --demo` as a real process, checked over HTTP."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port, wait_until_up

TOKEN = "demo-admin-token"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    executable = shutil.which("yswd")
    command = [executable] if executable else [sys.executable, "-m", "yswd.adapters.cli"]
    port = free_port()
    env = {**os.environ, "YSWD_DATA_DIR": str(tmp_path / "data"), "YSWD_ADMIN_TOKEN": TOKEN}
    env.pop("YSWD_DATABASE_URL", None)
    env.pop("YSWD_NATS_URL", None)
    process = subprocess.Popen(
        [*command, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, seconds=60)
        yield url
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        assert "demo admin token: demo-admin-token" in output, output
        assert f"http://127.0.0.1:{port}/" in output, output


def test_serve_demo_answers_with_the_demo_data(served: str) -> None:
    with httpx.Client(base_url=served, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert client.get("/healthz").status_code == 200
        items = client.get("/api/v1/items").json()["items"]
        titles = {item["title"] for item in items}
        for expected in ("Transport", "ATOS", "Urgent Care"):
            assert any(expected.lower() in title.lower() for title in titles), titles
        statuses = {item["status"] for item in items}
        assert {"done", "couldnt_do"} <= statuses
        assert {"raised", "referred", "responded"} & statuses
        forum = client.get("/api/v1/forums/salford-dev-board").json()
        assert forum["kind"] == "development_board"
        assert client.get("/api/v1/items", headers={"Authorization": "Bearer x"}).status_code == 401
        # the channels: Citizen's View on the Partnership Board's agenda, a gap box, a template
        agenda = client.get("/api/v1/forums/salford-partnership-board/agenda?since=2010-12-01")
        assert agenda.status_code == 200, agenda.text
        assert "Forum feedback" in agenda.text
        box = client.get("/public/api/v1/gap-boxes/cedar-winter").json()
        assert box["open"] is True
        templates = client.get("/api/v1/units/meadowbank-cedar/templates").json()["templates"]
        assert [t["id"] for t in templates] == ["passed-to-estates"]
