"""Outages under write load, against real processes on loopback.

PostgreSQL 15, nats-server with JetStream, one ``yswd serve`` and one
``yswd worker`` (with ``--metrics-port``), all started by ``servers.py``.

- NATS stopped for 30 s: writes go on (201), readiness says NATS is down, and
  after the restart the relay catches up with exactly one message per stored
  event.
- PostgreSQL stopped with ``pg_ctl -m immediate``: every answer meanwhile is a
  201 (before the crash took effect) or a 503 with ``Retry-After``, never a 500
  and never a hang; after the restart the service recovers by itself and every
  acknowledged item is there.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from yswd.adapters.nats_relay import message_id
from yswd.bootstrap import build
from yswd.settings import Settings

from .servers import (
    Nats,
    Postgres,
    YswdProcess,
    free_port,
    nats_or_skip,
    postgres_or_skip,
    running_yswd,
    yswd_env,
)
from .test_nats_relay import stream_contents

pytestmark = pytest.mark.integration

TOKEN = "outage-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
#: generous, for a loaded machine; a request that hangs (20 s and more) still fails it
ANSWER_WITHIN_SECONDS = 10.0


@dataclass
class Stack:
    postgres: Postgres
    nats: Nats
    api: YswdProcess
    worker: YswdProcess
    worker_metrics_port: int
    folder: Path


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture(scope="module")
def nats(postgres: Postgres) -> Iterator[Nats]:
    yield from nats_or_skip()


@pytest.fixture(scope="module")
def stack(
    postgres: Postgres, nats: Nats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("outages")
    env = yswd_env(
        database_url=postgres.url,
        nats_url=nats.url,
        admin_token=TOKEN,
        data_dir=str(folder / "data"),
        projection_poll_seconds="0.1",
        log_format="json",
    )
    api_port, metrics_port = free_port(), free_port()
    with (
        running_yswd(
            ["worker", "--metrics-port", str(metrics_port)], env, folder / "worker.log"
        ) as worker,
        running_yswd(
            ["serve", "--host", "127.0.0.1", "--port", str(api_port)],
            env,
            folder / "api.log",
            port=api_port,
        ) as api,
    ):
        with httpx.Client(base_url=api.url, headers=HEADERS, timeout=30) as client:
            unit = {"id": "birch", "name": "Birch ward", "parent_id": None}
            assert client.post("/api/v1/units", json=unit).status_code == 201
            forum = {"id": "birch-cm", "name": "Meeting", "unit_id": "birch", "kind": "other"}
            assert client.post("/api/v1/forums", json=forum).status_code == 201
        yield Stack(postgres, nats, api, worker, metrics_port, folder)


@dataclass
class Answer:
    started: float
    seconds: float
    status: int | str
    retry_after: str | None = None
    item_id: str | None = None


@dataclass
class WriteLoad:
    """Threads raising items through the API until stopped, recording every answer."""

    url: str
    threads: int = 2
    pause: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _running: list[threading.Thread] = field(default_factory=list)

    def _write(self, lane: int) -> None:
        with httpx.Client(base_url=self.url, headers=HEADERS, timeout=30) as client:
            n = 0
            while not self._stop.is_set():
                started = time.monotonic()
                body = {
                    "forum_id": "birch-cm",
                    "channel": "community_meeting",
                    "raised_on": "2026-11-03",
                    "title": f"Load {lane}-{n}",
                    "you_said": f"Written under an outage {lane}-{n}",
                }
                try:
                    response = client.post("/api/v1/items", json=body)
                except httpx.HTTPError as error:
                    answer = Answer(started, time.monotonic() - started, type(error).__name__)
                else:
                    answer = Answer(
                        started,
                        time.monotonic() - started,
                        response.status_code,
                        response.headers.get("Retry-After"),
                        response.json().get("id") if response.status_code == 201 else None,
                    )
                self.answers.append(answer)
                n += 1
                time.sleep(self.pause)

    def __enter__(self) -> WriteLoad:
        for lane in range(self.threads):
            thread = threading.Thread(target=self._write, args=(lane,), daemon=True)
            thread.start()
            self._running.append(thread)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(timeout=60)

    def acknowledged(self) -> list[str]:
        return [a.item_id for a in self.answers if a.status == 201 and a.item_id]


def readiness(api: YswdProcess) -> tuple[int, dict[str, object]]:
    response = httpx.get(f"{api.url}/readyz", timeout=30)
    return response.status_code, response.json()


def down(api: YswdProcess) -> list[str]:
    """What ``/readyz`` names as down (nothing when it answers 200)."""
    status, body = readiness(api)
    if status == 200:
        return []
    assert status == 503, body
    return list(body["down"])  # type: ignore[call-overload]


def access_log_statuses(process: YswdProcess) -> set[int]:
    """The statuses in the process's JSON request log lines."""
    statuses = set()
    for line in process.log_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "yswd.access":
                statuses.add(int(entry["status"]))
    return statuses


def wait_for(condition: str, check: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {seconds} s: {condition}"
        time.sleep(0.25)


def stored_message_ids(stack: Stack) -> list[str]:
    """The ``Nats-Msg-Id`` every stored event must have, in log order."""
    container = build(
        Settings(
            database_url=stack.postgres.url,
            data_dir=stack.folder / "reader",
            run_projections=False,
        )
    )
    try:
        ids, start = [], 1
        while batch := container.app.recorder.select_notifications(start=start, limit=1000):
            ids += [message_id(str(n.originator_id), n.originator_version) for n in batch]
            start = batch[-1].id + 1
        return ids
    finally:
        container.close()


def streamed_message_ids(stack: Stack) -> list[str]:
    try:
        return [msg_id for _subject, msg_id, _body in stream_contents(stack.nats.url)[1]]
    except Exception:  # NATS still starting, or the stream not made yet
        return []


def worker_metric(stack: Stack, name: str) -> float | None:
    try:
        text = httpx.get(f"http://127.0.0.1:{stack.worker_metrics_port}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def assert_one_message_per_event(stack: Stack) -> None:
    stored: list[str] = []

    def caught_up() -> bool:
        nonlocal stored
        stored = stored_message_ids(stack)
        return len(streamed_message_ids(stack)) >= len(stored)

    wait_for("the relay catches up", caught_up, 90)
    streamed = streamed_message_ids(stack)
    assert len(streamed) == len(set(streamed)), "a message was published twice"
    assert streamed == stored


def test_nats_down_for_30_seconds_under_write_load(stack: Stack) -> None:
    with WriteLoad(stack.api.url) as load:
        time.sleep(1.0)
        stack.nats.stop()
        stopped = time.monotonic()
        wait_for("readiness reports NATS down", lambda: down(stack.api) == ["nats"], 15)
        time.sleep(max(0.0, 30.0 - (time.monotonic() - stopped)))
        during = [a for a in load.answers if a.started >= stopped]
        stack.nats.start()
        time.sleep(1.0)

    assert during, "no write was attempted while NATS was down"
    assert {a.status for a in load.answers} == {201}, {a.status for a in load.answers}
    assert_one_message_per_event(stack)
    wait_for("readiness is back", lambda: readiness(stack.api)[0] == 200, 15)
    wait_for("relay lag is 0", lambda: worker_metric(stack, "yswd_relay_lag_events") == 0, 30)


def test_postgres_crash_under_write_load(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api.url, headers=HEADERS, timeout=30) as client:
        with WriteLoad(stack.api.url) as load:
            time.sleep(1.5)
            stack.postgres.crash()
            crashed = time.monotonic()
            time.sleep(8.0)
            assert "database" in down(stack.api)
            stack.postgres.start()
            restarted = time.monotonic()

            def writes_succeed_again() -> bool:
                return any(a.status == 201 and a.started > restarted for a in load.answers)

            wait_for("writes succeed again without a restart", writes_succeed_again, 60)

        statuses = {a.status for a in load.answers}
        assert statuses <= {201, 503}, statuses  # never a 500, never a hang or reset
        outage = [a for a in load.answers if crashed + 1 < a.started < restarted]
        assert outage, "no write was attempted while PostgreSQL was down"
        assert any(a.status == 503 for a in outage)
        for answer in load.answers:
            if answer.status == 503:
                assert answer.retry_after is not None
        slowest = max(a.seconds for a in load.answers)
        assert slowest < ANSWER_WITHIN_SECONDS, f"an answer took {slowest:.1f} s"

        # every acknowledged item is there, in the event store and in the read model
        acknowledged = load.acknowledged()
        assert any(a.started > restarted for a in load.answers if a.status == 201)
        for item_id in acknowledged:
            assert client.get(f"/api/v1/items/{item_id}").status_code == 200, item_id

        def all_listed() -> bool:
            listed: set[str] = set()
            while True:
                params = {"limit": 1000, "offset": len(listed)}
                response = client.get("/api/v1/items", params=params)
                if response.status_code != 200:
                    return False
                page = {item["id"] for item in response.json()["items"]}
                if not page - listed:
                    return set(acknowledged) <= listed
                listed |= page

        wait_for("the worker applies every acknowledged item", all_listed, 60)
    wait_for("readiness is back", lambda: readiness(stack.api)[0] == 200, 15)
    assert_one_message_per_event(stack)
    assert stack.api.process is not None and stack.api.process.poll() is None
    assert stack.worker.process is not None and stack.worker.process.poll() is None
    # the service's own JSON request log agrees: no request ever ended in a 500
    statuses = access_log_statuses(stack.api)
    assert 201 in statuses and 503 in statuses and 500 not in statuses, statuses
