"""Audited reads on the in-memory store: the record of a read, its read model, its message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from yswd.adapters.nats_relay import envelope
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.disclosure import Disclosure, ReadKind
from yswd.aggregates.errors import Forbidden
from yswd.aggregates.event_types import event_type_name
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.bootstrap import Container, build, fixed_clock

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
NAME = "Ada Marker"
MANAGER = Principal("m-1", "Manny", Role.MANAGER, frozenset({"cedar"}))
AUDITOR = Principal("a-1", "Audrey", Role.AUDITOR, frozenset())
#: issue 16: managers no longer see contributors, so a name-only read is a secretary's
SECRETARY = Principal("s-1", "Sian", Role.SECRETARY, frozenset({"cedar"}))


@pytest.fixture
def container() -> Iterator[Container]:
    built = build(memory=True, clock=fixed_clock(NOW))
    app = built.app
    app.create_unit(SYSTEM, "cedar", "Cedar ward", None)
    app.create_forum(SYSTEM, "cedar-cm", "Meeting", "cedar", ForumKind.COMMUNITY_MEETING)
    yield built
    built.close()


def raise_item(container: Container, contributor: str | None, detail: str | None = None) -> str:
    return container.app.raise_item(
        SYSTEM,
        forum_id="cedar-cm",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title="Garden",
        you_said="The garden is locked.",
        contributor=contributor,
        detail=detail,
    ).value.item_id


def read_records(container: Container) -> list[Disclosure.IdentifiableDataRead]:
    notifications = container.app.recorder.select_notifications(start=1, limit=1000)
    events = [container.app.mapper.to_domain_event(n) for n in notifications]
    return [e for e in events if isinstance(e, Disclosure.IdentifiableDataRead)]


def test_reading_a_contributors_item_is_recorded_before_it_is_returned(
    container: Container,
) -> None:
    item_id = raise_item(container, NAME, "private words")
    item = container.app.get_item(MANAGER, item_id)
    assert item.contributor == NAME
    (record,) = read_records(container)
    assert record.originator_id.startswith("read:")
    assert (record.reader_id, record.role, record.kind, record.item_ids) == (
        "m-1",
        "manager",
        "item",
        [item_id],
    )
    assert record.timestamp == NOW
    assert record.actor == "m-1"
    assert event_type_name(record) == "identifiable_data_read"


def test_an_item_with_nothing_identifiable_is_not_recorded(container: Container) -> None:
    item_id = raise_item(container, None)
    container.app.get_item(MANAGER, item_id)
    assert read_records(container) == []


def test_a_refused_read_is_not_recorded(container: Container) -> None:
    item_id = raise_item(container, NAME)
    outsider = Principal("o-1", "Otto", Role.MANAGER, frozenset({"elsewhere"}))
    with pytest.raises(Forbidden):
        container.app.get_item(outsider, item_id)
    assert read_records(container) == []


def test_the_relayed_message_names_no_one(container: Container) -> None:
    item_id = raise_item(container, NAME, "private words")
    container.app.get_item(MANAGER, item_id)
    notification = container.app.recorder.select_notifications(start=1, limit=1000)[-1]
    message = envelope(container.app, notification)
    assert message.subject == "yswd.events.read.identifiable_data_read"
    body = json.loads(message.body)
    assert body["aggregate"] == "read"
    assert NAME not in message.body.decode()
    assert item_id not in message.body.decode()


def test_the_access_log_lists_reads_for_auditors_only(container: Container) -> None:
    first = raise_item(container, NAME)
    second = raise_item(container, "Bea Example")
    container.app.get_item(SECRETARY, first)
    container.app.record_read(AUDITOR, ReadKind.ITEM_LIST, [second, first, second])
    container.app.record_read(AUDITOR, ReadKind.ITEM_LIST, [])  # nothing read, nothing recorded
    listed = container.audit.reads(AUDITOR)
    assert listed["total"] == 2
    assert [(r["reader_id"], r["kind"], r["item_ids"]) for r in listed["reads"]] == [
        ("a-1", "item_list", sorted([first, second])),
        ("s-1", "item", [first]),
    ]
    assert [r["read_at"] for r in listed["reads"]] == [NOW.isoformat()] * 2
    assert container.audit.reads(AUDITOR, item_id=second)["total"] == 1
    assert container.audit.reads(AUDITOR, user_id="s-1")["reads"][0]["item_ids"] == [first]
    with pytest.raises(Forbidden):
        container.audit.reads(MANAGER)
    # a rebuilt read model gives the same list
    container.runner.rebuild(["access_log"])
    assert container.audit.reads(AUDITOR) == listed
