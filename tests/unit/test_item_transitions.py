"""The transition table, exhaustively: every command from every status."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from yswd.aggregates.errors import TransitionNotAllowed
from yswd.aggregates.item import TRANSITIONS, Channel, Item, Status

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

# a route from "raised" to each status
ROUTES = {
    Status.RAISED: [],
    Status.REFERRED: [("refer",)],
    Status.RESPONDED: [("respond",)],
    Status.DONE: [("complete",)],
    Status.COULDNT_DO: [("decline",)],
}

EXPECTED = {
    "refer": ({Status.RAISED, Status.REFERRED, Status.RESPONDED}, Status.REFERRED),
    "respond": ({Status.RAISED, Status.REFERRED, Status.RESPONDED}, Status.RESPONDED),
    "complete": ({Status.RAISED, Status.REFERRED, Status.RESPONDED}, Status.DONE),
    "decline": ({Status.RAISED, Status.REFERRED, Status.RESPONDED}, Status.COULDNT_DO),
    "progress": ({Status.RAISED, Status.REFERRED, Status.RESPONDED}, None),
    "verify": ({Status.DONE}, None),
    "reopen": ({Status.DONE, Status.COULDNT_DO}, Status.RAISED),
}


def raised_item() -> Item:
    return Item.raise_item(
        "abc",
        forum_id="cedar-community-meeting",
        unit_id="cedar",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title="Laundry",
        you_said="The washing machine has been broken for two weeks.",
        detail=None,
        contributor=None,
        themes=["facilities"],
        actor="secretary-1",
        now=NOW,
    )


def send(item: Item, command: str) -> None:
    actor = "manager-1"
    if command == "refer":
        item.refer("provider", None, "Over to estates", actor, NOW)
    elif command == "respond":
        item.respond("An engineer is booked.", actor, NOW)
    elif command == "complete":
        item.complete("The machine was replaced.", actor, NOW)
    elif command == "decline":
        item.decline("It is under a lease.", "We use the laundry on Oak ward.", actor, NOW)
    elif command == "progress":
        item.note_progress("Parts ordered.", actor, NOW)
    elif command == "verify":
        item.verify(True, "Seen working.", actor, NOW)
    elif command == "reopen":
        item.reopen("It broke again.", actor, NOW)


def item_in(status: Status) -> Item:
    item = raised_item()
    for (command,) in ROUTES[status]:
        send(item, command)
    assert item.status is status
    return item


def test_the_domain_table_is_the_contract_table() -> None:
    assert {c: (set(a), t) for c, (a, t) in TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("command", list(EXPECTED))
def test_every_command_from_every_status(status: Status, command: str) -> None:
    item = item_in(status)
    allowed_from, leads_to = EXPECTED[command]
    version = item.version
    if status in allowed_from:
        send(item, command)
        assert item.version == version + 1
        assert item.status is (leads_to or status)
    else:
        with pytest.raises(TransitionNotAllowed):
            send(item, command)
        assert item.version == version
        assert item.status is status
        assert len(item.pending_events) == version


def test_a_declined_item_says_why_and_what_instead() -> None:
    item = item_in(Status.COULDNT_DO)
    assert item.because == "It is under a lease."
    assert item.instead == "We use the laundry on Oak ward."
    assert item.first_response_at == NOW


def test_reopening_clears_the_outcome_but_keeps_the_responses() -> None:
    item = item_in(Status.RESPONDED)
    send(item, "complete")
    send(item, "reopen")
    assert item.status is Status.RAISED
    assert item.we_did is None
    assert item.closed_at is None
    assert item.responses[0]["response"] == "An engineer is booked."


def test_verification_that_fails_reopens_the_item() -> None:
    item = item_in(Status.DONE)
    item.verify(False, "Still broken.", "secretary-1", NOW)
    assert item.status is Status.RAISED
    assert not item.verified
