"""The scaled-out topology from ``scripts/dev-topology.sh``: PostgreSQL, NATS,
two ``yswd serve`` replicas and a ``yswd worker``, all real processes on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from yswd.bootstrap import build
from yswd.projections.item_tables import items
from yswd.settings import Settings

from .servers import free_port, nats_server_binary, postgres_available
from .test_nats_relay import stream_contents

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dev-topology.sh"


class Topology:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="yswd-topology-"))
        self.dir.chmod(0o755)  # PostgreSQL runs as its own OS user below it
        self.api_ports = [free_port(), free_port()]
        self.nats_port = free_port()
        self.env = {
            **os.environ,
            "YSWD_TOPOLOGY_DIR": str(self.dir / "state"),
            "PG_PORT": str(free_port()),
            "NATS_PORT": str(self.nats_port),
            "API_PORTS": " ".join(map(str, self.api_ports)),
            "WORKER_METRICS_PORT": str(free_port()),
            "YSWD_ADMIN_TOKEN": "topology-admin-token-0123456789",
            "YSWD_PROJECTION_POLL_SECONDS": "0.1",
        }
        for key in ("YSWD_DATABASE_URL", "YSWD_NATS_URL", "YSWD_DATA_DIR"):
            self.env.pop(key, None)

    def run(self, action: str) -> str:
        done = subprocess.run(
            ["bash", str(SCRIPT), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    @property
    def apis(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    if not postgres_available() or nats_server_binary() is None:
        pytest.skip("PostgreSQL 15 binaries or nats-server are missing")
    built = Topology()
    try:
        built.run("up")
        yield built
    finally:
        built.run("down")
        shutil.rmtree(built.dir, ignore_errors=True)


def board(client: httpx.Client, base: str) -> list[dict[str, Any]]:
    response = client.get(f"{base}/api/v1/items")
    assert response.status_code == 200
    return sorted(response.json()["items"], key=lambda item: item["id"])


def test_items_written_through_both_replicas_show_on_both_and_are_relayed_once(
    topology: Topology,
) -> None:
    one, two = topology.apis
    headers = {"Authorization": f"Bearer {topology.env['YSWD_ADMIN_TOKEN']}"}
    with httpx.Client(headers=headers, timeout=10) as client:
        assert (
            client.post(
                f"{one}/api/v1/units", json={"id": "oak", "name": "Oak ward", "parent_id": None}
            ).status_code
            == 201
        )
        forum = {"id": "oak-cm", "name": "Oak meeting", "unit_id": "oak"}
        forum["kind"] = "community_meeting"
        assert client.post(f"{two}/api/v1/forums", json=forum).status_code == 201
        written = []
        for n in range(6):
            response = client.post(
                f"{(one, two)[n % 2]}/api/v1/items",
                json={
                    "forum_id": "oak-cm",
                    "channel": "community_meeting",
                    "raised_on": "2026-11-01",
                    "title": f"Issue {n}",
                    "you_said": f"The kettle is broken {n}",
                    "contributor": "ZQX-PERSON-4411",
                },
            )
            assert response.status_code == 201, response.text
            written.append(response.json()["id"])

        deadline = time.monotonic() + 5
        while True:
            boards = [board(client, one), board(client, two)]
            if all(len(b) == len(written) for b in boards):
                break
            assert time.monotonic() < deadline, "not visible on both replicas within 5 s"
            time.sleep(0.1)
        assert boards[0] == boards[1]
        assert {item["id"] for item in boards[0]} == set(written)

    # the worker's relay: one message per stored event, no personal data
    deadline = time.monotonic() + 10
    while True:
        try:
            messages = stream_contents(topology.nats_url)[1]
        except Exception:  # the stream is created by the relay
            messages = []
        positions = [body["position"] for _subject, _id, body in messages]
        if positions and len(positions) == max(positions) and len(positions) >= 8:
            break
        assert time.monotonic() < deadline, f"relay incomplete: {positions}"
        time.sleep(0.2)
    ids = [msg_id for _subject, msg_id, _body in messages]
    assert len(ids) == len(set(ids))
    assert positions == list(range(1, len(positions) + 1))
    raised = [b for s, _i, b in messages if s == "yswd.events.item.item_raised"]
    assert sorted(b["aggregate_id"] for b in raised) == sorted(f"item:{i}" for i in written)
    assert all("ZQX-PERSON" not in str(b) for _s, _i, b in messages)


def test_kill_9_of_the_worker_under_write_load(topology: Topology) -> None:
    """After a restart the read models equal a clean rebuild and the stream holds
    exactly one message per stored event."""
    one, two = topology.apis
    headers = {"Authorization": f"Bearer {topology.env['YSWD_ADMIN_TOKEN']}"}
    state = Path(topology.env["YSWD_TOPOLOGY_DIR"])
    stop = threading.Event()
    written: list[str] = []

    def write_load() -> None:
        with httpx.Client(headers=headers, timeout=10) as client:
            n = 0
            while not stop.is_set():
                response = client.post(
                    f"{(one, two)[n % 2]}/api/v1/items",
                    json={
                        "forum_id": "oak-cm",
                        "channel": "community_meeting",
                        "raised_on": "2026-11-02",
                        "title": f"Load {n}",
                        "you_said": f"Under load {n}",
                    },
                )
                assert response.status_code == 201, response.text
                written.append(response.json()["id"])
                n += 1

    writer = threading.Thread(target=write_load)
    writer.start()
    try:
        time.sleep(1.0)
        worker_pid = int((state / "worker.pid").read_text())
        os.kill(worker_pid, signal.SIGKILL)
        time.sleep(1.0)  # writes go on with no worker
        topology.run("start-worker")
        time.sleep(1.0)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert len(written) > 10

    url = f"postgresql://yswd:{(state / 'db-password').read_text().strip()}@127.0.0.1:"
    url += f"{topology.env['PG_PORT']}/yswd"
    # the same data folder as the services: the contributors' key store lives there
    settings = Settings(database_url=url, data_dir=state / "unused", run_projections=False)
    container = build(settings)
    try:
        head = container.runner.head()
        deadline = time.monotonic() + 15
        while min(container.runner.positions().values()) < head:
            assert time.monotonic() < deadline, "the restarted worker did not catch up"
            time.sleep(0.1)
        with container.engine.connect() as conn:
            live = [tuple(r) for r in conn.execute(select(items).order_by(items.c.item_id))]
        assert {row[0] for row in live} >= set(written)

        while True:
            messages = stream_contents(topology.nats_url)[1]
            if len(messages) >= head:
                break
            assert time.monotonic() < deadline, "the relay did not catch up"
            time.sleep(0.2)
        ids = [msg_id for _subject, msg_id, _body in messages]
        assert len(ids) == len(set(ids)) == head
        assert [body["position"] for _s, _i, body in messages] == list(range(1, head + 1))

        container.runner.rebuild()
        with container.engine.connect() as conn:
            rebuilt = [tuple(r) for r in conn.execute(select(items).order_by(items.c.item_id))]
        assert rebuilt == live
    finally:
        container.close()
