"""Crypto-shredding and row seals on the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from eventsourcing.domain import CanSnapshotAggregate, MetaDomainEvent

from yswd.adapters.crypto import ERASED, ShreddingMapper, normalise_name
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.errors import Forbidden, InvalidInput
from yswd.aggregates.item import Channel, item_aggregate_id
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.bootstrap import Container, build, fixed_clock


@pytest.fixture
def container() -> Iterator[Container]:
    built = build(memory=True, clock=fixed_clock(datetime(2026, 11, 2, 10, tzinfo=UTC)))
    built.app.create_unit(SYSTEM, "u", "Unit", None)
    built.app.create_forum(SYSTEM, "f", "Forum", "u", ForumKind.COMMUNITY_MEETING)
    yield built
    built.close()


def raise_item(container: Container, contributor: str | None, detail: str | None) -> str:
    return container.app.raise_item(
        SYSTEM,
        forum_id="f",
        channel=Channel.OTHER,
        raised_on=date(2026, 11, 2),
        title="Food",
        you_said="More fruit, please.",
        detail=detail,
        contributor=contributor,
    ).value.item_id


def stored_bytes(container: Container, item_id: str) -> bytes:
    events = container.app.recorder.select_events(item_aggregate_id(item_id))
    return b"".join(bytes(event.state) for event in events)


def test_personal_fields_are_never_stored_in_plain(container: Container) -> None:
    item_id = raise_item(container, "Quentin Plainname", "Told me at breakfast")
    raw = stored_bytes(container, item_id)
    assert b"Quentin" not in raw
    assert b"breakfast" not in raw
    assert b"More fruit" in raw  # the public wording is not personal
    item = container.app.get_item(SYSTEM, item_id)
    assert (item.contributor, item.detail) == ("Quentin Plainname", "Told me at breakfast")


def test_forget_erases_one_contributor_only(container: Container) -> None:
    gone = raise_item(container, "Rita Gone", "secret one")
    gone_again = raise_item(container, "rita  GONE", None)
    kept = raise_item(container, "Sam Kept", "secret two")
    anonymous = raise_item(container, None, "secret three")
    container.runner.catch_up()
    before = len(container.audit.history(SYSTEM, gone)["events"])

    answer = container.audit.forget(SYSTEM, "Rita Gone")
    assert answer == {"contributor_erased": True, "items_affected": 2}

    history = container.audit.history(SYSTEM, gone)
    assert len(history["events"]) == before
    assert history["events"][0]["data"]["contributor"] == ERASED
    assert history["events"][0]["data"]["detail"] == ERASED
    again = container.app.get_item(SYSTEM, gone_again)
    assert (again.contributor, again.detail) == (ERASED, None)
    assert container.app.get_item(SYSTEM, kept).contributor == "Sam Kept"
    assert container.app.get_item(SYSTEM, anonymous).detail == "secret three"
    rows = {row["id"]: row for row in container.staff_items.list_items(SYSTEM)}
    assert rows[gone]["contributor"] == ERASED
    assert rows[gone]["detail"] == ERASED
    assert rows[kept]["detail"] == "secret two"
    assert container.audit.verify(SYSTEM)["ok"] is True
    assert container.audit.forget(SYSTEM, "Nobody Known")["items_affected"] == 0


def test_forget_is_for_admins_only(container: Container) -> None:
    auditor = Principal("a", "Auditor", Role.AUDITOR, frozenset())
    with pytest.raises(Forbidden):
        container.audit.forget(auditor, "Anyone")
    with pytest.raises(InvalidInput):
        container.audit.forget(SYSTEM, "   ")


def test_row_seal_detects_any_change(container: Container) -> None:
    item_id = raise_item(container, None, None)
    mapper = container.app.mapper
    assert isinstance(mapper, ShreddingMapper)
    (stored,) = container.app.recorder.select_events(item_aggregate_id(item_id))
    assert mapper.seal_ok(stored)
    state = bytes(stored.state)
    assert not mapper.seal_ok(replace(stored, state=state[:-1] + b"!"))
    assert not mapper.seal_ok(replace(stored, originator_id="item:other"))
    assert not mapper.seal_ok(replace(stored, originator_version=2))
    assert not mapper.seal_ok(replace(stored, topic=stored.topic + "X"))
    assert not mapper.seal_ok(replace(stored, state=b"short"))


def test_names_are_normalised() -> None:
    assert normalise_name("  Ann   SMITH ") == normalise_name("ann smith")


class ItemSnapshot(CanSnapshotAggregate[str], metaclass=MetaDomainEvent):
    """A snapshot class for string ids, as an app that enables snapshotting would add."""

    originator_id: str
    originator_version: int
    timestamp: datetime
    topic: str
    state: Any


def test_item_snapshots_are_sealed_and_shredded_too(container: Container) -> None:
    item_id = raise_item(container, "Tara Snapshot", "snapshot detail")
    item = container.app.get_item(SYSTEM, item_id)
    mapper = container.app.mapper
    assert isinstance(mapper, ShreddingMapper)
    stored = mapper.to_stored_event(ItemSnapshot.take(item))
    assert b"Tara" not in bytes(stored.state)
    assert b"snapshot detail" not in bytes(stored.state)
    restored = mapper.to_domain_event(stored)
    assert restored.state["contributor"] == "Tara Snapshot"  # type: ignore[attr-defined]
    container.audit.forget(SYSTEM, "Tara Snapshot")
    erased = mapper.to_domain_event(stored)
    assert erased.state["contributor"] == ERASED  # type: ignore[attr-defined]
    assert erased.state["detail"] == ERASED  # type: ignore[attr-defined]
