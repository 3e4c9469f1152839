"""A rebuild's bulk read of the log (``adapters.bulk_scan``) and its decoder (``PlainStates``).

The scan must hand the runner the same rows as the recorder's notifications, as
``StoredRecord``s, and the decoder the states the mapper would decode: personal
fields opened with the keys kept, read as erased once a key is gone, and an
erasure in the log forgetting the kept keys for the events after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from yswd.adapters.bulk_scan import SQLiteEventScan
from yswd.adapters.crypto import ERASED, SEAL_SIZE, PlainStates, ShreddingMapper
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel, Item
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.topics import CONTRIBUTOR_ERASED_RECORDED
from yswd.bootstrap import Container, build
from yswd.projections.ports import StoredRecord
from yswd.settings import Settings

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path / "data", run_projections=False))
    yield built
    built.close()


def test_the_sqlite_scan_reads_the_recorders_rows_as_records(container: Container) -> None:
    app = container.app
    app.create_unit(SYSTEM, "ward", "A ward", None)
    app.create_forum(SYSTEM, "ward-cm", "Meeting", "ward", ForumKind.COMMUNITY_MEETING)
    for n in range(3):
        app.raise_item(
            SYSTEM,
            forum_id="ward-cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 2, 27),
            title=f"Issue {n}",
            you_said="Nothing to eat after six",
            detail="Said twice",
            contributor="A patient" if n else None,
            themes=["food"],
        )
    scan = container.runner.bulk
    assert isinstance(scan, SQLiteEventScan)
    notifications = app.recorder.select_notifications(start=1, limit=100)

    records = [*scan.stored_events(1, 4), *scan.stored_events(5, 100)]

    assert all(type(record) is StoredRecord for record in records)
    assert [tuple(r) for r in records] == [
        (n.id, n.originator_id, n.originator_version, n.topic, n.state) for n in notifications
    ]
    assert records[-1].id == notifications[-1].id and records[-1].topic == notifications[-1].topic
    states = scan.plain_states(records)
    mapper = app.mapper
    for record, state in zip(records, states, strict=True):
        event = vars(mapper.to_domain_event(notifications[record.id - 1]))
        assert state.keys() <= {*event, "class_version"}
        if record.topic.endswith("Item.Raised"):
            assert (state["contributor"], state["detail"]) == (
                event["contributor"],
                event["detail"],
            )
    assert scan.plain_states([]) == []
    scan.close()


def raised(mapper: ShreddingMapper, item_id: str, contributor: str) -> StoredEvent:
    item = Item.raise_item(
        item_id,
        forum_id="ward-cm",
        unit_id="ward",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 2, 27),
        title="Evening food",
        you_said="Nothing to eat after six",
        detail="Said by several people",
        contributor=contributor,
        themes=["food"],
        actor="user-1",
        now=NOW,
    )
    (event,) = item.collect_events()
    return mapper.to_stored_event(event)


def erasure_recorded() -> StoredEvent:
    state = b"\0" * SEAL_SIZE + orjson.dumps({"item_ids": []})
    topic = CONTRIBUTOR_ERASED_RECORDED
    return StoredEvent(originator_id="erasure", originator_version=1, topic=topic, state=state)


def triples(events: list[StoredEvent]) -> list[tuple[str, str, bytes]]:
    return [(e.topic, str(e.originator_id), e.state) for e in events]


def opened(state: dict[str, Any]) -> tuple[Any, Any]:
    return state["contributor"], state["detail"]


def test_kept_keys_open_states_until_an_erasure_in_the_log() -> None:
    container = build(memory=True)
    mapper = container.app.mapper
    assert isinstance(mapper, ShreddingMapper)
    stored = [raised(mapper, f"i{n}", "Ann Other") for n in range(4)]
    plain = PlainStates(mapper)
    (first,) = plain.plain_states(triples(stored[:1]))
    assert opened(first) == ("Ann Other", "Said by several people")
    assert "sealed" not in first

    mapper.destroy_key(mapper.contributor_key_id("Ann Other"))  # erased since, elsewhere
    before, _, after = plain.plain_states(triples([stored[1], erasure_recorded(), stored[2]]))

    assert opened(before) == ("Ann Other", "Said by several people")  # the key as kept
    assert opened(after) == (ERASED, ERASED)  # read again after the erasure: gone
    plain.forget_keys()
    (again,) = plain.plain_states(triples(stored[3:]))
    assert opened(again) == (ERASED, ERASED)
    assert plain.plain_states([]) == []
    container.close()


def test_at_most_so_many_keys_are_kept_and_a_dropped_one_is_read_again() -> None:
    container = build(memory=True)
    mapper = container.app.mapper
    assert isinstance(mapper, ShreddingMapper)
    people = [f"Person {n}" for n in range(12)]
    stored = [raised(mapper, f"i{n}", name) for n, name in enumerate(people)]
    plain = PlainStates(mapper, kept_keys=4)

    states = [state for event in stored for state in plain.plain_states(triples([event]))]
    assert len(plain._keys) <= 4  # memory is bounded by the cap, not by the contributors
    (again,) = plain.plain_states(triples(stored[:1]))  # its key was dropped: read again

    assert [opened(s)[0] for s in states] == people
    assert opened(again) == ("Person 0", "Said by several people")
    container.close()
