"""Histories: the state as of an instant equals the fold of the events up to it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.errors import DomainError, Forbidden, InvalidInput, NotFound
from yswd.aggregates.event_types import ITEM_EVENT_TYPES, event_type_name
from yswd.aggregates.item import Channel, Item, item_aggregate_id
from yswd.aggregates.item_views import item_view
from yswd.aggregates.organisation import ForumKind
from yswd.application.audit import parse_instant
from yswd.bootstrap import Container, build

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


COMMANDS: dict[str, Any] = {
    "publish": lambda app, i: app.publish(SYSTEM, i, "Edited wording.", None),
    "refer": lambda app, i: app.refer(SYSTEM, i, "u", None, "please look", None),
    "respond": lambda app, i: app.respond(SYSTEM, i, "We hear you.", None),
    "progress": lambda app, i: app.note_progress(SYSTEM, i, "ordered parts", None),
    "complete": lambda app, i: app.complete(SYSTEM, i, "Fixed it.", None),
    "decline": lambda app, i: app.decline(SYSTEM, i, "No budget", "loan one", None),
    "verify": lambda app, i: app.verify(SYSTEM, i, True, None, None),
    "not_confirmed": lambda app, i: app.verify(SYSTEM, i, False, "still broken", None),
    "reopen": lambda app, i: app.reopen(SYSTEM, i, "it broke again", None),
}


def container_with_item(clock: Clock) -> tuple[Container, str]:
    container = build(memory=True, clock=clock)
    app = container.app
    app.create_unit(SYSTEM, "u", "Unit", None)
    app.create_forum(SYSTEM, "f", "Forum", "u", ForumKind.COMMUNITY_MEETING)
    written = app.raise_item(
        SYSTEM,
        forum_id="f",
        channel=Channel.OTHER,
        raised_on=START.date(),
        title="Laundry",
        you_said="The washer is broken.",
        detail="said by the window",
        contributor="Ann Person",
    )
    return container, written.value.item_id


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def item(clock: Clock) -> Iterator[tuple[Container, str]]:
    container, item_id = container_with_item(clock)
    yield container, item_id
    container.close()


def fold(container: Container, item_id: str, as_of: datetime) -> Item | None:
    item: Item | None = None
    for event in container.app.events.get(item_aggregate_id(item_id)):
        if event.timestamp <= as_of:
            item = event.mutate(item)
    return item


@settings(max_examples=25, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(sorted(COMMANDS)), st.integers(min_value=0, max_value=5000)),
        max_size=12,
    ),
    probes=st.lists(st.integers(min_value=-10, max_value=70_000), min_size=1, max_size=5),
)
def test_state_as_of_equals_fold_of_events_up_to_then(
    steps: list[tuple[str, int]], probes: list[int]
) -> None:
    clock = Clock()
    container, item_id = container_with_item(clock)
    try:
        for command, minutes in steps:
            clock.now += timedelta(minutes=minutes)
            with contextlib.suppress(DomainError):  # not allowed from this status
                COMMANDS[command](container.app, item_id)
        created = next(iter(container.app.events.get(item_aggregate_id(item_id)))).timestamp
        for offset in probes:
            as_of = created + timedelta(minutes=offset)
            expected = fold(container, item_id, as_of)
            if expected is None:
                with pytest.raises(NotFound):
                    container.audit.history(SYSTEM, item_id, as_of)
                continue
            answer = container.audit.history(SYSTEM, item_id, as_of)
            assert answer["state"] == item_view(expected)
            assert [e["version"] for e in answer["events"]] == list(range(1, expected.version + 1))
            assert all(datetime.fromisoformat(e["recorded_at"]) <= as_of for e in answer["events"])
    finally:
        container.close()


def test_history_without_as_of_has_every_event(item: tuple[Container, str], clock: Clock) -> None:
    container, item_id = item
    clock.now += timedelta(hours=1)
    container.app.respond(SYSTEM, item_id, "On it.", None)
    answer = container.audit.history(SYSTEM, item_id)
    assert [e["type"] for e in answer["events"]] == ["item_raised", "response_posted"]
    assert answer["events"][0]["data"]["contributor"] == "Ann Person"
    assert answer["state"]["status"] == "responded"


def test_history_needs_the_audit_role(item: tuple[Container, str]) -> None:
    container, item_id = item
    from yswd.aggregates.access import Principal
    from yswd.aggregates.users import Role

    manager = Principal("m", "M", Role.MANAGER, frozenset())
    with pytest.raises(Forbidden):
        container.audit.history(manager, item_id)


def test_parse_instant() -> None:
    assert parse_instant("2026-11-02T09:00:00Z") == START
    assert parse_instant("2026-11-02T09:00:00") == START
    assert parse_instant(None) is None
    with pytest.raises(InvalidInput):
        parse_instant("yesterday")


def test_every_item_event_class_has_a_distinct_stable_name() -> None:
    classes = [
        value
        for value in vars(Item).values()
        if isinstance(value, type)
        and issubclass(value, Item.Event)
        and value not in (Item.Event, Item.Created)
    ]
    assert set(classes) == set(ITEM_EVENT_TYPES)
    names = [event_type_name(cls) for cls in classes]
    assert len(set(names)) == len(names)
    assert event_type_name(Item.ResponsePosted) == "response_posted"
