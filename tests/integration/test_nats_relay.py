"""The NATS relay against a real nats-server with JetStream on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from yswd.adapters.nats_relay import (
    STREAM,
    NatsRelay,
    aggregate_of,
    message_id,
    relay_position,
)
from yswd.adapters.persistence import write_transaction
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.event_types import event_type_name
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.bootstrap import Container, build
from yswd.settings import Settings

from .servers import Nats, nats_or_skip

MARKERS = ("ZQX-CONTRIBUTOR-7731", "ZQX-DETAIL-7732", "ZQX-YOUSAID-7733", "ZQX-NAME-7734")


@pytest.fixture(scope="module")
def nats_server() -> Iterator[Nats]:
    yield from nats_or_skip()


@pytest.fixture
def container(tmp_path: Path, nats_server: Nats) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path / "data", run_projections=False))
    yield built
    built.close()
    asyncio.run(_delete_stream(nats_server.url))


async def _delete_stream(url: str) -> None:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(url)
    try:
        with suppress(NotFoundError):  # nothing to delete is fine
            await nc.jetstream().delete_stream(STREAM)
    finally:
        await nc.close()


def create_stream_with_short_dedup_window(url: str, seconds: float = 0.5) -> None:
    """So that JetStream's own dedup cannot hide a duplicate: the relay must not send it."""

    async def create() -> None:
        import nats
        from nats.js.api import StorageType, StreamConfig

        nc = await nats.connect(url)
        try:
            await nc.jetstream().add_stream(
                StreamConfig(
                    name=STREAM,
                    subjects=["yswd.events.>"],
                    storage=StorageType.FILE,
                    duplicate_window=seconds,
                )
            )
        finally:
            await nc.close()

    asyncio.run(create())


def stream_contents(url: str) -> tuple[Any, list[tuple[str, str, dict[str, Any]]]]:
    """The stream's config and every message: (subject, Nats-Msg-Id, body)."""

    async def read() -> tuple[Any, list[tuple[str, str, dict[str, Any]]]]:
        import nats

        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            info = await js.stream_info(STREAM)
            found = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(STREAM, seq=seq)
                headers = msg.headers or {}
                found.append((msg.subject, headers["Nats-Msg-Id"], json.loads(msg.data)))
            return info.config, found
        finally:
            await nc.close()

    return asyncio.run(read())


def write_events(container: Container, start: int, count: int) -> None:
    app = container.app
    if start == 0:
        app.create_unit(SYSTEM, "oak", "Oak ward", None)
        app.create_forum(SYSTEM, "oak-cm", "Oak meeting", "oak", ForumKind.COMMUNITY_MEETING)
        app.create_user(SYSTEM, f"Dr {MARKERS[3]}", Role.MANAGER, ["oak"])
    for n in range(start, start + count):
        item = app.raise_item(
            SYSTEM,
            forum_id="oak-cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 2, 1),
            title=f"Kettle {n}",
            you_said=f"The kettle is broken {MARKERS[2]}",
            detail=f"Private detail {MARKERS[1]}",
            contributor=f"Patient {MARKERS[0]}",
        ).value
        if n % 2:
            app.respond(SYSTEM, item.item_id, f"We will fix it {n}", None)


class Running:
    """A relay in its own thread, as the worker runs it."""

    def __init__(self, container: Container, url: str) -> None:
        self.relay = NatsRelay(container.app, container.engine, url, poll_seconds=0.05)
        self.relay.create_tables()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.relay.run_forever, args=(self.stop,))
        self.thread.start()

    def wait_for(self, position: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.relay.recorded_position() < position:
            assert time.monotonic() < deadline, "the relay did not catch up"
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def expected_messages(container: Container) -> dict[str, tuple[str, int]]:
    """Message id -> (subject, position), for every stored event."""
    found = {}
    for n in container.app.recorder.select_notifications(start=1, limit=100_000):
        event = container.app.mapper.to_domain_event(n)
        aggregate = aggregate_of(str(n.originator_id))
        subject = f"yswd.events.{aggregate}.{event_type_name(event)}"
        found[message_id(str(n.originator_id), n.originator_version)] = (subject, n.id)
    return found


def assert_exactly_one_message_per_event(container: Container, url: str) -> None:
    _config, messages = stream_contents(url)
    expected = expected_messages(container)
    ids = [msg_id for _subject, msg_id, _body in messages]
    assert len(ids) == len(set(ids)), "a message was published twice"
    assert len(messages) == container.app.recorder.max_notification_id()
    assert set(ids) == set(expected)
    for subject, msg_id, body in messages:
        assert (subject, body["position"]) == expected[msg_id]
        assert body["id"] == msg_id
    # in log order
    assert [body["position"] for _s, _i, body in messages] == sorted(
        position for _subject, position in expected.values()
    )


def test_one_message_per_stored_event_without_personal_data(
    container: Container, nats_server: Nats
) -> None:
    write_events(container, 0, 15)
    running = Running(container, nats_server.url)
    try:
        running.wait_for(container.runner.head())
    finally:
        running.close()

    config, messages = stream_contents(nats_server.url)
    assert config.duplicate_window >= 120
    assert getattr(config.storage, "value", config.storage) == "file"
    assert config.subjects == ["yswd.events.>"]
    assert_exactly_one_message_per_event(container, nats_server.url)
    raised = [body for subject, _i, body in messages if subject == "yswd.events.item.item_raised"]
    assert len(raised) == 15
    assert {"id", "type", "aggregate_id", "version", "recorded_at"} <= set(raised[0])
    assert raised[0]["type"] == "item_raised"
    assert any(s.startswith("yswd.events.token.") for s, _i, _b in messages)
    for subject, msg_id, body in messages:
        text = subject + msg_id + json.dumps(body)
        for marker in MARKERS:
            assert marker not in text
        # token aggregates' ids are derived from token hashes: never sent as they are
        if body["aggregate"] == "token":
            assert body["aggregate_id"] not in {
                str(n.originator_id)
                for n in container.app.recorder.select_notifications(start=1, limit=10_000)
            }


def test_a_restarted_relay_publishes_no_duplicates(container: Container, nats_server: Nats) -> None:
    create_stream_with_short_dedup_window(nats_server.url)
    write_events(container, 0, 10)
    first = Running(container, nats_server.url)
    first.wait_for(container.runner.head())
    first.close()
    time.sleep(0.6)  # past the dedup window

    # as if the relay died after JetStream's ack but before recording its position
    with write_transaction(container.engine) as conn:
        conn.execute(update(relay_position).values(position=3))
    write_events(container, 10, 10)
    second = Running(container, nats_server.url)
    try:
        second.wait_for(container.runner.head())
    finally:
        second.close()

    assert_exactly_one_message_per_event(container, nats_server.url)


def test_two_relays_at_once_still_publish_each_event_once(
    container: Container, nats_server: Nats
) -> None:
    create_stream_with_short_dedup_window(nats_server.url, seconds=0.1)
    write_events(container, 0, 5)
    relays = [Running(container, nats_server.url), Running(container, nats_server.url)]
    try:
        write_events(container, 5, 25)
        for running in relays:
            running.wait_for(container.runner.head())
    finally:
        for running in relays:
            running.close()

    assert_exactly_one_message_per_event(container, nats_server.url)


def test_the_worker_command_projects_and_relays_until_sigterm(
    tmp_path: Path, nats_server: Nats
) -> None:
    data_dir = tmp_path / "data"
    container = build(Settings(data_dir=data_dir, run_projections=False))
    env = {
        **os.environ,
        "YSWD_DATA_DIR": str(data_dir),
        "YSWD_NATS_URL": nats_server.url,
        "YSWD_PROJECTION_POLL_SECONDS": "0.05",
    }
    env.pop("YSWD_DATABASE_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "yswd.cli", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        write_events(container, 0, 8)
        head = container.runner.head()
        deadline = time.monotonic() + 20
        while min(container.runner.positions().values()) < head:
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            assert time.monotonic() < deadline, "the worker did not project the events"
            time.sleep(0.05)
        while True:
            with suppress(Exception):  # the stream is not there yet
                if len(stream_contents(nats_server.url)[1]) == head:
                    break
            if time.monotonic() > deadline:
                worker.kill()
                pytest.fail(worker.communicate()[1].decode()[-3000:])
            time.sleep(0.1)
        assert container.staff_items.count() == 8

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
        assert_exactly_one_message_per_event(container, nats_server.url)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        container.close()
        asyncio.run(_delete_stream(nats_server.url))


def consumer_count(url: str) -> int:
    async def count() -> int:
        import nats

        nc = await nats.connect(url)
        try:
            return int((await nc.jetstream().stream_info(STREAM)).state.consumer_count)
        finally:
            await nc.close()

    return asyncio.run(count())


def test_nats_tail_prints_events_as_they_are_published(
    container: Container, nats_server: Nats
) -> None:
    create_stream_with_short_dedup_window(nats_server.url, seconds=120)
    env = {**os.environ, "YSWD_NATS_URL": nats_server.url}
    tail = subprocess.Popen(
        [sys.executable, "-m", "yswd.cli", "nats", "tail", "--count", "3"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while consumer_count(nats_server.url) == 0:
            assert tail.poll() is None, tail.communicate()[1]
            assert time.monotonic() < deadline, "yswd nats tail never subscribed"
            time.sleep(0.1)
        write_events(container, 0, 1)
        running = Running(container, nats_server.url)
        try:
            running.wait_for(container.runner.head())
        finally:
            running.close()
        out, _err = tail.communicate(timeout=15)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    lines = out.strip().splitlines()
    assert len(lines) == 3
    subject, body = lines[0].split(" ", 1)
    first = json.loads(body)
    assert first["position"] == 1
    assert first["aggregate_id"] == "unit:oak"
    assert subject == f"yswd.events.unit.{first['type']}"


def test_nats_down_for_a_while_then_the_relay_catches_up_once(
    container: Container, nats_server: Nats
) -> None:
    write_events(container, 0, 5)
    running = Running(container, nats_server.url)
    try:
        running.wait_for(container.runner.head())
        nats_server.stop()
        write_events(container, 5, 10)  # writes do not need NATS
        time.sleep(2.0)
        assert running.relay.recorded_position() < container.runner.head()
        nats_server.start()  # same port, same JetStream folder
        running.wait_for(container.runner.head(), timeout=30)
    finally:
        running.close()
        if nats_server.process is None:
            nats_server.start()

    assert_exactly_one_message_per_event(container, nats_server.url)
