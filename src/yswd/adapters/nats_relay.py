"""The outbox relay: stored events, after commit, to NATS JetStream.

It follows the notification log (``select_notifications``), which only holds
committed events, so nothing is published before its commit. Each stored event
becomes one message on the stream ``YSWD_EVENTS``, subject
``yswd.events.<aggregate>.<event type>``, with the header ``Nats-Msg-Id`` set
to an id unique to that event. The body is a short JSON envelope built from a
whitelist of safe fields: no contributor, detail, wording, names or token hashes.

Position and duplicates:

- The relay records how far it got (table ``relay_position``) only after
  JetStream has acknowledged the messages.
- On start it also reads the stream's last message and resumes after whichever
  is further on, so a crash between the ack and the record publishes nothing
  twice, even outside the stream's dedup window.
- Every publish carries ``Nats-Expected-Last-Msg-Id`` (the previous event's id),
  so a second relay that is behind cannot interleave: its publish is refused,
  and it re-reads the stream's last message and carries on from there.
- Within the dedup window (at least two minutes) a repeated ``Nats-Msg-Id`` is
  dropped by JetStream itself.

nats-py is asyncio only; the relay runs its own event loop, in its own thread
(see ``yswd.adapters.worker``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Notification
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, select, text, update

from yswd.adapters.persistence import write_transaction
from yswd.aggregates.event_types import event_type_name
from yswd.aggregates.topics import EVENT_NAMES
from yswd.application.service import Yswd
from yswd.projections.tracking import SCHEMA_LOCK_KEY

log = logging.getLogger(__name__)

STREAM = "YSWD_EVENTS"
SUBJECT_PREFIX = "yswd.events"
DUPLICATE_WINDOW_SECONDS = 300.0
#: JetStream's error code for a failed ``Nats-Expected-Last-Msg-Id`` check
WRONG_LAST_MSG_ID = 10070
RELAY_NAME = "nats"

#: aggregates whose ids are themselves secret-derived (token hashes, idempotency
#: keys): their ids go out only as a one-way digest
OPAQUE_AGGREGATES = frozenset({"token", "idem"})

#: event fields that may leave the service: ids, enums, dates, flags. Anything
#: not named here (contributor, detail, you_said, title, names, notes...) stays.
SAFE_FIELDS = frozenset(
    {
        "forum_id",
        "unit_id",
        "parent_id",
        "to_unit_id",
        "channel",
        "kind",
        "role",
        "raised_on",
        "due_on",
        "published",
        "verified",
        "box_id",
        "status",
    }
)

relay_metadata = MetaData()
relay_position = Table(
    "relay_position",
    relay_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
)


def aggregate_of(originator_id: str) -> str:
    prefix, _, _ = originator_id.partition(":")
    return prefix.lower() or "unknown"


def public_aggregate_id(originator_id: str) -> str:
    aggregate = aggregate_of(originator_id)
    if aggregate in OPAQUE_AGGREGATES:
        digest = hashlib.sha256(originator_id.encode()).hexdigest()[:24]
        return f"{aggregate}:{digest}"
    return originator_id


def message_id(originator_id: str, version: int) -> str:
    """Unique to one stored event: its aggregate and version never repeat."""
    return f"{public_aggregate_id(originator_id)}@{version}"


@dataclass(frozen=True)
class Outgoing:
    position: int
    subject: str
    msg_id: str
    body: bytes


def _safe_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def restricted_items(app: Yswd, notifications: Sequence[Notification]) -> frozenset[str]:
    """The items of a batch under a safeguarding restriction now (read from the store).

    Their messages carry the bare envelope only: not even the unit, forum or
    channel of a disclosure leaves the service while it is restricted.
    """
    found = set()
    for originator_id in {str(n.originator_id) for n in notifications}:
        if aggregate_of(originator_id) != "item":
            continue
        try:
            item: Any = app.repository.get(originator_id)
        except Exception:  # a damaged or unreadable item: send it bare, to be safe
            found.add(originator_id)
            continue
        if getattr(item, "restricted", False):
            found.add(originator_id)
    return frozenset(found)


def envelope(
    app: Yswd, notification: Notification, restricted: frozenset[str] = frozenset()
) -> Outgoing:
    """The message for one stored event, with nothing personal in it.

    An event of an item in ``restricted`` (a safeguarding flag) carries no data.
    """
    event = app.mapper.to_domain_event(notification)
    originator_id = str(notification.originator_id)
    aggregate = aggregate_of(originator_id)
    # the stable name of the stored topic; a topic the table does not know (a class
    # nobody pinned) falls back to the name derived from its class
    type_name = EVENT_NAMES.get(notification.topic) or event_type_name(event).lower()
    msg_id = message_id(originator_id, notification.originator_version)
    timestamp = getattr(event, "timestamp", None)
    body: dict[str, Any] = {
        "id": msg_id,
        "type": type_name,
        "aggregate": aggregate,
        "aggregate_id": public_aggregate_id(originator_id),
        "version": notification.originator_version,
        "recorded_at": timestamp.isoformat() if timestamp is not None else None,
        "position": notification.id,
    }
    fields = {
        key: _safe_value(value)
        for key, value in vars(event).items()
        if key in SAFE_FIELDS and isinstance(_safe_value(value), str | bool | int | type(None))
    }
    if fields and originator_id not in restricted:
        body["data"] = fields
    return Outgoing(
        position=notification.id,
        subject=f"{SUBJECT_PREFIX}.{aggregate}.{type_name}",
        msg_id=msg_id,
        body=json.dumps(body, sort_keys=True).encode(),
    )


class FenceRefused(RuntimeError):
    """Another relay published after the message this relay expected to follow."""

    def __init__(self, message: str, expected: str | None) -> None:
        super().__init__(message)
        self.expected = expected


class NatsRelay:
    """Publishes every stored event to JetStream exactly once, in log order."""

    def __init__(
        self,
        app: Yswd,
        engine: Engine,
        nats_url: str,
        *,
        batch_size: int = 200,
        poll_seconds: float = 0.2,
        stream: str = STREAM,
    ) -> None:
        self.app = app
        self.engine = engine
        self.nats_url = nats_url
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.stream = stream
        self.published = 0
        self._last_msg_id: str | None = None
        self._position = 0
        #: the fence JetStream last refused; if the stream's last message is
        #: that very id, the server lost its last-id state (e.g. a restart), so
        #: the next publish goes out once without a fence
        self._refused_fence: str | None = None
        self._skip_fence = False

    # -- position -----------------------------------------------------------------

    def create_tables(self) -> None:
        with write_transaction(self.engine) as conn:
            # in the write transaction: on SQLite a deferred DDL transaction
            # fails at once with "database is locked" while others write
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            relay_metadata.create_all(conn)
            known = conn.scalar(
                select(relay_position.c.position).where(relay_position.c.name == RELAY_NAME)
            )
            if known is None:
                conn.execute(relay_position.insert().values(name=RELAY_NAME, position=0))

    def recorded_position(self) -> int:
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(relay_position.c.position).where(relay_position.c.name == RELAY_NAME)
            )
        return int(found or 0)

    def _record(self, position: int) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(relay_position)
                .where(relay_position.c.name == RELAY_NAME)
                .where(relay_position.c.position < position)
                .values(position=position)
            )

    def lag(self) -> int:
        head = self.app.recorder.max_notification_id() or 0
        return head - self.recorded_position()

    # -- running ------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Run in the calling thread (with its own event loop) until ``stop`` is set."""
        asyncio.run(self._main(stop))

    async def _main(self, stop: threading.Event) -> None:
        import nats

        failing = False  # a traceback for the first failure of a run of them, not every second
        while not stop.is_set():
            nc = None
            try:
                await asyncio.to_thread(self.create_tables)
                nc = await nats.connect(
                    self.nats_url,
                    connect_timeout=2,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                )
                js = nc.jetstream(timeout=5)
                await self._ensure_stream(js)
                await self._resume(js)
                while not stop.is_set():
                    sent = await self._publish_batch(js)
                    if failing and sent:
                        log.info("NATS relay recovered")
                        failing = False
                    if sent == 0:
                        await asyncio.sleep(self.poll_seconds)
            except FenceRefused as refused:
                log.info("relay fence: %s; resuming from the stream", refused)
                self._refused_fence = refused.expected
            except Exception as error:
                if failing:
                    log.warning("NATS relay still failing (%s); retrying", type(error).__name__)
                else:
                    log.exception("NATS relay failed; retrying")
                failing = True
                await asyncio.sleep(1.0)
            finally:
                if nc is not None:
                    try:
                        await nc.close()
                    except Exception:
                        log.debug("closing the NATS connection failed", exc_info=True)

    async def _ensure_stream(self, js: Any) -> None:
        from nats.js.api import StorageType, StreamConfig
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=self.stream,
                    subjects=[f"{SUBJECT_PREFIX}.>"],
                    storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW_SECONDS,
                )
            )
            log.info("created JetStream stream %s", self.stream)

    async def _resume(self, js: Any) -> None:
        """Resume after the recorded position or the stream's last message, if later."""
        position = self.recorded_position()
        last_id: str | None = None
        info = await js.stream_info(self.stream)
        if info.state.last_seq:
            last = await js.get_msg(self.stream, seq=info.state.last_seq)
            headers = last.headers or {}
            last_id = headers.get("Nats-Msg-Id")
            try:
                streamed = int(json.loads(last.data)["position"])
            except (ValueError, KeyError, TypeError):
                streamed = 0
            if streamed > position:
                self._record(streamed)
            position = max(position, streamed)
        self._position = position
        self._last_msg_id = last_id
        self._skip_fence = last_id is not None and last_id == self._refused_fence
        self._refused_fence = None

    async def _publish_batch(self, js: Any) -> int:
        from nats.js.errors import APIError

        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications,
            start=self._position + 1,
            limit=self.batch_size,
        )
        if not notifications:
            return 0
        sent = 0
        restricted = await asyncio.to_thread(restricted_items, self.app, notifications)
        try:
            for notification in notifications:
                outgoing = envelope(self.app, notification, restricted)
                headers = {"Nats-Msg-Id": outgoing.msg_id}
                if self._last_msg_id is not None and not self._skip_fence:
                    headers["Nats-Expected-Last-Msg-Id"] = self._last_msg_id
                try:
                    await js.publish(outgoing.subject, outgoing.body, headers=headers)
                except APIError as error:
                    if error.err_code == WRONG_LAST_MSG_ID:
                        raise FenceRefused(
                            str(error), headers.get("Nats-Expected-Last-Msg-Id")
                        ) from error
                    raise
                self._skip_fence = False
                self._last_msg_id = outgoing.msg_id
                self._position = outgoing.position
                sent += 1
        finally:
            if sent:
                # only what JetStream acknowledged
                await asyncio.to_thread(self._record, self._position)
                self.published += sent
        return sent


def tail(nats_url: str, subject: str = f"{SUBJECT_PREFIX}.>", limit: int | None = None) -> None:
    """Print the stream's messages as they arrive (for ``yswd nats tail``)."""

    async def follow() -> None:
        import nats
        from nats.js.api import DeliverPolicy

        nc = await nats.connect(nats_url, connect_timeout=2)
        js = nc.jetstream()
        sub = await js.subscribe(subject, deliver_policy=DeliverPolicy.NEW, ordered_consumer=True)
        seen = 0
        try:
            async for msg in sub.messages:
                print(msg.subject, msg.data.decode(), flush=True)
                seen += 1
                if limit is not None and seen >= limit:
                    break
        finally:
            await nc.close()

    asyncio.run(follow())
