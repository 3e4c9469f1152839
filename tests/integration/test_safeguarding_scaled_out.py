"""Safeguarding scaled out, with NATS stopped: a flag made through one replica reaches
the safeguarding lead through another, because the flag and the queue come from the
event store (PostgreSQL) and the worker's read models, never from the message bus.

Real processes on loopback: PostgreSQL, nats-server (stopped for the test), two
``yswd serve`` replicas and one ``yswd worker``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from yswd.adapters.nats_relay import envelope, restricted_items
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
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

pytestmark = pytest.mark.integration

TOKEN = "safeguarding-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Replicas:
    one: YswdProcess
    two: YswdProcess
    worker: YswdProcess
    nats: Nats


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture(scope="module")
def nats(postgres: Postgres) -> Iterator[Nats]:
    yield from nats_or_skip()


@pytest.fixture(scope="module")
def replicas(
    postgres: Postgres, nats: Nats, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    folder = tmp_path_factory.mktemp("safeguarding")
    env = yswd_env(
        database_url=postgres.url,
        nats_url=nats.url,
        admin_token=TOKEN,
        data_dir=str(folder / "data"),
        projection_poll_seconds="0.1",
    )
    ports = free_port(), free_port(), free_port()
    serve = ["serve", "--host", "127.0.0.1", "--port"]
    with (
        running_yswd(["worker", "--metrics-port", str(ports[2])], env, folder / "w.log") as worker,
        running_yswd([*serve, str(ports[0])], env, folder / "one.log", port=ports[0]) as one,
        running_yswd([*serve, str(ports[1])], env, folder / "two.log", port=ports[1]) as two,
    ):
        yield Replicas(one, two, worker, nats)


def wait_for(what: str, check: Callable[[], Any], seconds: float = 15.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_flag_through_one_replica_reaches_the_lead_through_another_with_nats_stopped(
    replicas: Replicas,
) -> None:
    one, two = replicas.one.url, replicas.two.url
    with httpx.Client(headers=ADMIN, timeout=20) as client:
        unit = {"id": "ash", "name": "Ash ward", "parent_id": None}
        assert client.post(f"{one}/api/v1/units", json=unit).status_code == 201
        forum = {"id": "ash-cm", "name": "Ash meeting", "unit_id": "ash", "kind": "other"}
        assert client.post(f"{one}/api/v1/forums", json=forum).status_code == 201
        tokens = {}
        for role in ("secretary", "safeguarding_lead", "manager"):
            made = client.post(
                f"{one}/api/v1/users", json={"name": role, "role": role, "scopes": ["ash"]}
            )
            assert made.status_code == 201, made.text
            tokens[role] = {"Authorization": f"Bearer {made.json()['token']}"}

        replicas.nats.stop()
        try:
            raised = client.post(
                f"{one}/api/v1/items",
                headers=tokens["secretary"],
                json={
                    "forum_id": "ash-cm",
                    "channel": "community_meeting",
                    "raised_on": time.strftime("%Y-%m-%d", time.gmtime()),
                    "title": "Nights",
                    "you_said": "Someone comes into my room at night.",
                    "contributor": "Robin",
                },
            )
            assert raised.status_code == 201, raised.text
            item_id = raised.json()["id"]
            flagged = client.post(
                f"{one}/api/v1/items/{item_id}/safeguarding",
                headers=tokens["secretary"],
                json={"reason": "A possible disclosure of abuse at night."},
            )
            assert flagged.status_code == 200, flagged.text
            assert flagged.json()["safeguarding"]["flagged_at"]

            def queue() -> list[str]:
                answer = client.get(
                    f"{two}/api/v1/safeguarding", headers=tokens["safeguarding_lead"]
                )
                assert answer.status_code == 200, answer.text
                return [found["id"] for found in answer.json()["items"]]

            assert wait_for("the lead's queue on the other replica", queue) == [item_id]
            # and on that replica it is gone for the manager at once: 404 from the store
            hidden = client.get(f"{two}/api/v1/items/{item_id}", headers=tokens["manager"])
            assert hidden.status_code == 404
            listed = client.get(f"{two}/api/v1/items", headers=tokens["manager"]).json()
            assert item_id not in {found["id"] for found in listed["items"]}
            acknowledged = client.post(
                f"{two}/api/v1/items/{item_id}/safeguarding/acknowledge",
                headers=tokens["safeguarding_lead"],
                json={"note": "Spoken to the ward manager."},
            )
            assert acknowledged.status_code == 200, acknowledged.text
        finally:
            replicas.nats.start()


def test_nats_messages_of_a_flagged_item_carry_the_bare_envelope(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path / "data"), memory=True)
    try:
        container.app.create_unit(SYSTEM, "ash", "Ash ward", None)
        container.app.create_forum(SYSTEM, "ash-cm", "Ash meeting", "ash", ForumKind.OTHER)
        open_item = container.app.raise_item(
            SYSTEM,
            forum_id="ash-cm",
            channel=Channel.OTHER,
            raised_on=date(2026, 11, 2),
            title="Garden",
            you_said="A bench please.",
        ).value
        flagged = container.app.raise_item(
            SYSTEM,
            forum_id="ash-cm",
            channel=Channel.OTHER,
            raised_on=date(2026, 11, 2),
            title="Nights",
            you_said="He hit me.",
            safeguarding=True,
        ).value
        notifications = container.app.recorder.select_notifications(start=1, limit=1000)
        restricted = restricted_items(container.app, notifications)
        assert restricted == {flagged.id}
        bodies: dict[str, list[dict[str, Any]]] = {}
        for notification in notifications:
            body = json.loads(envelope(container.app, notification, restricted).body)
            bodies.setdefault(body["aggregate_id"], []).append(body)
        assert all("data" not in body for body in bodies[flagged.id])
        assert {body["type"] for body in bodies[flagged.id]} == {
            "item_raised",
            "safeguarding_flagged",
        }
        assert any("data" in body for body in bodies[open_item.id])
    finally:
        container.close()
