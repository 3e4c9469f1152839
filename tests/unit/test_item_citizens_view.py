"""Citizen's View rules on the item: forum referrals, referral back, lack of progress,
repeats, and the v1 -> v2 upcast of stored ``Referred`` events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from eventsourcing.persistence import StoredEvent

from yswd.aggregates.errors import Conflict, InvalidInput
from yswd.aggregates.item import Channel, Item, Status
from yswd.application.service import Yswd
from yswd.bootstrap import build

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def raised(item_id: str = "abc", forum_id: str = "dev-board", unit_id: str = "salford") -> Item:
    return Item.raise_item(
        item_id,
        forum_id=forum_id,
        unit_id=unit_id,
        channel=Channel.CITIZENS_VIEW,
        raised_on=date(2026, 11, 2),
        title="Transport",
        you_said="There is no bus to the day centre after 4pm.",
        detail=None,
        contributor=None,
        themes=["transport"],
        actor="secretary-1",
        now=NOW,
    )


def test_referral_to_a_forum_records_where_it_came_from() -> None:
    item = raised()
    item.refer(
        "city",
        date(2026, 12, 1),
        "For the Partnership Board",
        "manager-1",
        NOW,
        to_forum_id="partnership-board",
    )
    assert item.referred_to == "city"
    assert item.referred_to_forum == "partnership-board"
    step = item.referrals[-1]
    assert step["from_unit_id"] == "salford" and step["from_forum_id"] == "dev-board"
    assert step["to_forum_id"] == "partnership-board"
    assert step["referred_by"] == "manager-1"
    assert step["answered_at"] is None


def test_referral_back_needs_a_progress_report() -> None:
    item = raised()
    item.refer("city", None, None, "manager-1", NOW, to_forum_id="partnership-board")
    later = NOW + timedelta(days=1)
    for note in (None, "   "):
        with pytest.raises(InvalidInput, match="progress report"):
            item.refer("salford", None, note, "manager-2", later, to_forum_id="dev-board")
        with pytest.raises(InvalidInput, match="progress report"):
            item.refer("salford", None, note, "manager-2", later)  # to the unit, no forum named
    assert item.version == 2  # refused: nothing recorded
    item.refer(
        "salford",
        None,
        "Buses reviewed; report due in March.",
        "manager-2",
        later,
        to_forum_id="dev-board",
    )
    assert item.referred_to_forum == "dev-board"
    assert item.referrals[-1]["from_forum_id"] == "partnership-board"


def test_referral_onward_needs_no_note() -> None:
    item = raised()
    item.refer("city", None, None, "manager-1", NOW, to_forum_id="partnership-board")
    item.refer("transport-team", None, None, "manager-1", NOW + timedelta(hours=1))
    assert item.referred_to == "transport-team" and item.referred_to_forum is None
    # a different forum of a unit the item came from is not "back"
    item.refer("city", None, None, "manager-1", NOW + timedelta(hours=2), to_forum_id="other")
    assert item.referred_to_forum == "other"


def test_each_referral_step_stops_its_clock_at_the_first_answer() -> None:
    item = raised()
    item.refer("city", None, None, "m", NOW, to_forum_id="partnership-board")
    item.respond("Looking into it", "m", NOW + timedelta(days=3))
    item.respond("Still looking", "m", NOW + timedelta(days=4))
    item.refer("salford", None, "Update: timetable agreed", "m", NOW + timedelta(days=5))
    item.complete("New 6pm bus", "m", NOW + timedelta(days=9))
    assert [step["answered_at"] for step in item.referrals] == [
        NOW + timedelta(days=3),
        NOW + timedelta(days=9),
    ]


def test_lack_of_progress_notes_are_kept_with_their_kind() -> None:
    item = raised()
    item.note_progress("Waiting for the bus company", "m", NOW, kind="lack_of_progress")
    item.note_progress("Met the bus company", "m", NOW)
    assert item.progress[0]["kind"] == "lack_of_progress"
    assert "kind" not in item.progress[1]
    with pytest.raises(InvalidInput):
        item.note_progress("x", "m", NOW, kind="gossip")
    item.complete("done", "m", NOW)
    with pytest.raises(Conflict):
        item.note_progress("late", "m", NOW, kind="lack_of_progress")


def test_a_repeat_is_recorded_on_both_items() -> None:
    original, repeat = raised("one"), raised("two")
    repeat.link_as_repeat_of(original, "secretary-1", NOW)
    assert repeat.repeat_of == "one"
    assert [entry["item_id"] for entry in original.repeats] == ["two"]
    assert original.status is Status.RAISED  # a repeat changes no status


def test_repeat_rules() -> None:
    one, two, three = raised("one"), raised("two"), raised("three")
    with pytest.raises(InvalidInput, match="itself"):
        one.link_as_repeat_of(one, "s", NOW)
    two.link_as_repeat_of(one, "s", NOW)
    with pytest.raises(Conflict, match="already a repeat of this item"):
        one.link_as_repeat_of(two, "s", NOW)  # a repeat of itself, the other way round
    with pytest.raises(Conflict, match="already linked"):
        two.link_as_repeat_of(three, "s", NOW)
    with pytest.raises(Conflict, match="itself a repeat"):
        three.link_as_repeat_of(two, "s", NOW)  # no chains: link to 'one' instead
    with pytest.raises(Conflict, match="cannot be a repeat"):
        one.link_as_repeat_of(three, "s", NOW)  # 'one' has repeats of its own
    assert (one.version, two.version, three.version) == (2, 2, 1)
    three.link_as_repeat_of(one, "s", NOW)
    assert len(one.repeats) == 2


def test_a_stored_version_1_referral_still_loads() -> None:
    app = Yswd({"PERSISTENCE_MODULE": "eventsourcing.popo", "ORIGINATOR_ID_TYPE": "text"})
    item = raised()
    item.refer("city", date(2026, 12, 1), "old style", "manager-1", NOW)
    stored = [app.mapper.to_stored_event(event) for event in item.collect_events()]
    state = app.mapper.transcoder.decode(stored[1].state)
    assert state.pop("class_version") == 2
    del state["to_forum_id"]  # exactly what a version 1 event held
    stored[1] = StoredEvent(
        originator_id=stored[1].originator_id,
        originator_version=stored[1].originator_version,
        topic=stored[1].topic,
        state=app.mapper.transcoder.encode(state),
    )
    app.recorder.insert_events(stored)
    loaded: Item = app.repository.get(item.id)
    assert loaded.referred_to == "city" and loaded.referred_to_forum is None
    assert loaded.referrals[0]["to_forum_id"] is None
    assert loaded.referrals[0]["note"] == "old style"
    assert loaded.due_on == date(2026, 12, 1)


def test_a_version_1_referral_loads_through_the_sealing_mapper(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    container = build(memory=True)
    app = container.app
    try:
        item = raised("sealed")
        item.refer("city", None, "old style", "manager-1", NOW)
        events = item.collect_events()
        del events[1].__dict__["to_forum_id"]  # the shape a version 1 event was written in
        with monkeypatch.context() as patch:
            patch.setattr(Item.Referred, "class_version", 1)
            stored = [app.mapper.to_stored_event(event) for event in events]
        app.recorder.insert_events(stored)
        loaded: Item = app.repository.get(item.id)
        assert loaded.referred_to_forum is None
        assert loaded.referrals[0]["note"] == "old style"
    finally:
        container.close()
