"""The README's run command: `yswd serve --demo` as a real process, checked over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port, wait_until_up

TOKEN = "demo-admin-token"


@contextmanager
def serve_demo(data_dir: Path, admin_token: str | None) -> Iterator[tuple[str, list[str]]]:
    """``python -m yswd serve --demo`` as the README runs it; yields its URL and output."""
    port = free_port()
    env = {**os.environ, "YSWD_DATA_DIR": str(data_dir)}
    for name in ("YSWD_DATABASE_URL", "YSWD_NATS_URL", "YSWD_ADMIN_TOKEN"):
        env.pop(name, None)
    if admin_token is not None:
        env["YSWD_ADMIN_TOKEN"] = admin_token
    command = [sys.executable, "-m", "yswd", "serve", "--demo", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        cwd=data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        wait_until_up(url, seconds=60)
        yield url, output
    finally:
        process.terminate()
        try:
            text, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            text, _ = process.communicate()
        output.append(text)
        assert f"http://127.0.0.1:{port}/" in text, text


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serve_demo(tmp_path / "data", TOKEN) as (url, output):
        yield url
    assert "demo admin token: demo-admin-token" in output[0], output


def test_the_printed_address_leads_to_the_public_index(served: str) -> None:
    answer = httpx.get(served + "/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/public"
    index = httpx.get(served + "/", follow_redirects=True)
    assert index.status_code == 200
    assert "text/html" in index.headers["content-type"]


def test_a_demo_without_an_admin_token_prints_one_that_works(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve_demo(data, None) as (url, _):
        pass  # the token is printed at start; read it once the process has ended
    with serve_demo(data, None) as (url, output_again):
        printed = (data / "demo-admin-token").read_text().strip()
        answer = httpx.get(url + "/api/v1/items", headers={"Authorization": f"Bearer {printed}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["items"], "the demo items are there"
    assert f"demo admin token: {printed}" in output_again[0], "the same token every time"


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
