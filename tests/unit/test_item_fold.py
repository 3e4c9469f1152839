"""The rebuild's plain fold of an item (``projections.item_fold``) equals the domain's.

Random item histories are stored through the real mapper (personal fields
sealed, dates in the transcoder's form), then folded both ways: by the domain
(``to_domain_event`` and ``mutate``, then ``StaffItems.row``) and by
``item_fold`` from ``PlainStates``. Every row must come out the same, text for
text, with the contributor's key kept or destroyed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yswd.adapters.crypto import PlainStates, ShreddingMapper
from yswd.aggregates.errors import Conflict, InvalidInput, TransitionNotAllowed
from yswd.aggregates.item import Channel, Item
from yswd.aggregates.organisation import Unit
from yswd.bootstrap import Container, build
from yswd.projections import item_fold
from yswd.projections.staff_items import StaffItems


class Units:
    """The part of the application a staff row needs: unit paths and the target days."""

    target_days = 28

    def unit(self, unit_id: str) -> Unit:
        unit = Unit.__new__(Unit)
        unit.path = ("trust", unit_id)  # type: ignore[misc]
        return unit

    @property
    def repository(self) -> Any:
        raise AssertionError("a fold from whole histories never loads from the store")


@pytest.fixture(scope="module")
def container() -> Iterator[Container]:
    built = build(memory=True)
    yield built
    built.close()


START = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
#: instants are mostly UTC, as the service records them, but not always
OFFSETS = st.sampled_from(
    [UTC, UTC, UTC, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5))]
)

#: the workflow's own commands come up more often than the rare ones
COMMANDS = st.sampled_from(
    [
        *("complete", "decline", "verify", "not_confirmed", "reopen", "respond") * 2,
        "publish",
        "refer",
        "refer_forum",
        "refer_back",
        "respond",
        "progress",
        "lack_of_progress",
        "complete",
        "decline",
        "verify",
        "not_confirmed",
        "reopen",
        "flag",
        "acknowledge",
        "close_flag",
        "close_flag_for_good",
        "reveal",
        "repeat_of",
        "repeated_by",
    ]
)
STEPS = st.lists(
    st.tuples(COMMANDS, st.integers(min_value=1, max_value=400_000), OFFSETS, st.booleans()),
    max_size=30,
)


def run(item: Item, others: list[Item], command: str, at: datetime, flip: bool) -> None:
    """One command on ``item``; refusals are part of a random history."""
    actor = "user-1" if flip else "user-2"
    with suppress(TransitionNotAllowed, Conflict, InvalidInput):
        if command == "publish":
            item.publish("Reworded for the board" if flip else None, actor, at)
        elif command == "refer":
            item.refer("provider", date(2026, 4, 1) if flip else None, "over to you", actor, at)
        elif command == "refer_forum":
            item.refer("ward", None, None, actor, at, to_forum_id="ward-cm")
        elif command == "refer_back":
            item.refer("ward", None, "progress report" if flip else None, actor, at)
        elif command == "respond":
            item.respond(f"response at {at.isoformat()}", actor, at)
        elif command == "progress":
            item.note_progress("still on it", actor, at)
        elif command == "lack_of_progress":
            item.note_progress("nobody free", actor, at, "lack_of_progress")
        elif command == "complete":
            item.complete("fixed it", actor, at)
        elif command == "decline":
            item.decline("no money", "a volunteer" if flip else None, actor, at)
        elif command in ("verify", "not_confirmed"):
            item.verify(command == "verify", "checked" if flip else None, actor, at)
        elif command == "reopen":
            item.reopen("it broke again", actor, at)
        elif command == "flag":
            item.flag_safeguarding("a worry", at + timedelta(hours=24), actor, at)
        elif command == "acknowledge":
            item.acknowledge_safeguarding("on it", actor, at)
        elif command in ("close_flag", "close_flag_for_good"):
            item.close_safeguarding("dealt with", command == "close_flag", actor, at)
        elif command == "reveal":
            item.reveal_contributor("a court order needs the name", actor, at)
        elif command == "repeat_of":
            item.link_as_repeat_of(others[0], actor, at)
        else:  # another item is linked as a repeat of this one
            repeat = new_item(f"r{len(others)}", None, at)
            others.append(repeat)
            repeat.link_as_repeat_of(item, actor, at)


def new_item(item_id: str, contributor: str | None, at: datetime, detail: bool = False) -> Item:
    return Item.raise_item(
        item_id,
        forum_id="ward-cm",
        unit_id="ward",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 2, 27),
        title="Evening food",
        you_said="Nothing to eat after six",
        detail="Said by several people" if detail else None,
        contributor=contributor,
        themes=["food", "evenings"],
        actor="user-1",
        now=at,
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=STEPS,
    contributor=st.sampled_from([None, "A patient", "Ann Other"]),
    detail=st.booleans(),
    erase=st.booleans(),
)
def test_random_item_histories_fold_to_the_same_staff_row_both_ways(
    container: Container,
    steps: list[tuple[str, int, Any, bool]],
    contributor: str | None,
    detail: bool,
    erase: bool,
) -> None:
    mapper = container.app.mapper
    assert isinstance(mapper, ShreddingMapper)
    item = new_item(f"i{abs(hash((tuple(steps), contributor)))}", contributor, START, detail)
    others = [new_item("original", None, START)]
    for command, minutes, offset, flip in steps:
        at = (START + timedelta(minutes=minutes, microseconds=minutes % 7)).astimezone(offset)
        run(item, others, command, at, flip)
    stored = [mapper.to_stored_event(event) for event in item.collect_events()]
    if erase and contributor is not None:
        mapper.destroy_key(mapper.contributor_key_id(contributor))

    staff = StaffItems(Units())  # type: ignore[arg-type]
    plain = PlainStates(mapper)
    domain: Any = None
    view: item_fold.View | None = None
    for event in stored:
        (state,) = plain.plain_states([(event.topic, str(event.originator_id), event.state)])
        domain_event = mapper.to_domain_event(event)
        domain = domain_event.mutate(domain)
        if view is None:
            view = item_fold.raised(str(event.originator_id), state, event.originator_version)
        else:
            item_fold.apply(view, event.topic, state, event.originator_version)
        if event.topic == item_fold.REVEALED:
            assert item_fold.reveal_row(
                view, state, event.originator_version, staff._path
            ) == staff.reveal_row(domain, domain_event)
    assert view is not None
    item_fold.finished(view)

    assert item_fold.staff_row(view, staff._path, staff.target_days) == staff.row(domain)
    if domain.safeguarding is not None:
        assert item_fold.flag_row(view, staff._path) == staff.flag_row(domain)
    if erase and contributor is not None:
        assert view["contributor"] == "[erased]"


def test_every_item_event_has_a_plain_handler() -> None:
    from yswd.aggregates.topics import event_topics

    assert set(event_topics(Item)) == {*item_fold.HANDLERS, item_fold.RAISED}


def test_a_rebuild_keeps_only_the_most_recently_folded_views() -> None:
    staff = StaffItems(Units(), cache_size=3)  # type: ignore[arg-type]
    staff._keep_views({key: {"version": 1} for key in ("a", "b", "c")})
    staff._keep_views({"a": {"version": 2}, "d": {"version": 1}})

    assert list(staff._views) == ["c", "a", "d"]  # b went: the least recently folded
    assert staff._views["a"] == {"version": 2}


def test_a_staff_rows_columns_are_the_tables() -> None:
    from yswd.projections.item_tables import items

    assert tuple(sorted(items.c.keys())) == item_fold.STAFF_COLUMNS
