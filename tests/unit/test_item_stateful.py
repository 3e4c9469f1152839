"""Random command sequences on one item, checked against the contract's transition table.

Each command either succeeds exactly as the table says (status, version, fields) or
raises ``TransitionNotAllowed`` and changes nothing: not the version, not the status,
not the pending events, not any field.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from yswd.aggregates.errors import InvalidInput, TransitionNotAllowed
from yswd.aggregates.item import Channel, Item, Status

OPEN = {Status.RAISED, Status.REFERRED, Status.RESPONDED}
#: the contract's table, written out independently of the domain's TRANSITIONS
ALLOWED = {
    "refer": OPEN,
    "respond": OPEN,
    "complete": OPEN,
    "decline": OPEN,
    "progress": OPEN,
    "verify": {Status.DONE},
    "reopen": {Status.DONE, Status.COULDNT_DO},
    "publish": set(Status),
}
START = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)

words = st.text(alphabet="abcdefghij ", min_size=1, max_size=12)
units = st.sampled_from(["cedar", "willow", "meadowbank"])
actors = st.sampled_from(["secretary-1", "manager-1", "moderator-1"])

FIELDS = (
    "status",
    "version",
    "published",
    "you_said",
    "referred_to",
    "due_on",
    "responses",
    "progress",
    "referrals",
    "we_did",
    "because",
    "instead",
    "verified",
    "first_response_at",
    "closed_at",
)


def snapshot(item: Item) -> dict[str, Any]:
    return copy.deepcopy({name: getattr(item, name) for name in FIELDS}) | {
        "pending": len(item.pending_events)
    }


class ItemMachine(RuleBasedStateMachine):
    item: Item
    clock: datetime

    @initialize()
    def raise_it(self) -> None:
        self.clock = START
        self.item = Item.raise_item(
            "item-1",
            forum_id="cedar-cm",
            unit_id="cedar",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title="Laundry",
            you_said="The washing machine is broken.",
            detail=None,
            contributor=None,
            themes=[],
            actor="secretary-1",
            now=self.clock,
        )
        self.responses = 0
        self.progress = 0
        self.here = self.item.unit_id  # where the item is now, for the referral-back rule
        self.came_from: set[str] = set()
        self.first_response_at: datetime | None = None

    def now(self) -> datetime:
        self.clock += timedelta(hours=1)
        return self.clock

    def attempt(self, command: str, call: Any) -> bool:
        """Run one command; True if it was applied. Checks refusals change nothing."""
        before = snapshot(self.item)
        if before["status"] in ALLOWED[command]:
            call()
            after = snapshot(self.item)
            assert after["version"] == before["version"] + 1
            assert after["pending"] == before["pending"] + 1
            assert self.item.modified_on == self.clock
            return True
        try:
            call()
        except TransitionNotAllowed as refusal:
            assert refusal.command == command
            assert refusal.status == before["status"].value
        else:
            raise AssertionError(f"{command} from {before['status']} was not refused")
        assert snapshot(self.item) == before
        return False

    def first_response(self, at: datetime) -> None:
        if self.first_response_at is None:
            self.first_response_at = at

    @rule(unit=units, due=st.none() | st.integers(0, 60), note=st.none() | words, actor=actors)
    def refer(self, unit: str, due: int | None, note: str | None, actor: str) -> None:
        due_on = None if due is None else date(2026, 11, 2) + timedelta(days=due)
        now = self.now()
        back_without_report = unit in self.came_from and not (note and note.strip())
        if back_without_report and self.item.status in ALLOWED["refer"]:
            before = snapshot(self.item)
            with pytest.raises(InvalidInput, match="progress report"):
                self.item.refer(unit, due_on, note, actor, now)
            assert snapshot(self.item) == before
            return
        if self.attempt("refer", lambda: self.item.refer(unit, due_on, note, actor, now)):
            self.came_from.add(self.here)
            self.here = unit
            assert self.item.status is Status.REFERRED
            assert (self.item.referred_to, self.item.due_on) == (unit, due_on)
            assert self.item.referrals[-1]["to_unit_id"] == unit

    @rule(text=words, actor=actors)
    def respond(self, text: str, actor: str) -> None:
        now = self.now()
        if self.attempt("respond", lambda: self.item.respond(text, actor, now)):
            self.responses += 1
            self.first_response(now)
            assert self.item.status is Status.RESPONDED
            assert self.item.responses[-1]["response"] == text

    @rule(text=words, actor=actors)
    def complete(self, text: str, actor: str) -> None:
        now = self.now()
        if self.attempt("complete", lambda: self.item.complete(text, actor, now)):
            self.first_response(now)
            assert self.item.status is Status.DONE
            assert (self.item.we_did, self.item.because, self.item.instead) == (text, None, None)
            assert self.item.closed_at == now
            assert self.item.verified is False

    @rule(because=words, instead=st.none() | words, actor=actors)
    def decline(self, because: str, instead: str | None, actor: str) -> None:
        now = self.now()
        if self.attempt("decline", lambda: self.item.decline(because, instead, actor, now)):
            self.first_response(now)
            assert self.item.status is Status.COULDNT_DO
            assert (self.item.because, self.item.instead) == (because, instead)
            assert self.item.we_did is None
            assert self.item.closed_at == now

    @rule(note=words, actor=actors)
    def progress(self, note: str, actor: str) -> None:
        status = self.item.status
        now = self.now()
        if self.attempt("progress", lambda: self.item.note_progress(note, actor, now)):
            self.progress += 1
            assert self.item.status is status
            assert self.item.progress[-1]["note"] == note

    @rule(confirmed=st.booleans(), note=st.none() | words, actor=actors)
    def verify(self, confirmed: bool, note: str | None, actor: str) -> None:
        we_did = self.item.we_did
        now = self.now()
        if self.attempt("verify", lambda: self.item.verify(confirmed, note, actor, now)):
            if confirmed:
                assert self.item.status is Status.DONE
                assert self.item.verified is True
                assert self.item.we_did == we_did
            else:
                self.assert_reopened()

    @rule(reason=words, actor=actors)
    def reopen(self, reason: str, actor: str) -> None:
        now = self.now()
        if self.attempt("reopen", lambda: self.item.reopen(reason, actor, now)):
            self.assert_reopened()

    @rule(wording=st.none() | words, actor=actors)
    def publish(self, wording: str | None, actor: str) -> None:
        status = self.item.status
        you_said = self.item.you_said
        now = self.now()
        if self.attempt("publish", lambda: self.item.publish(wording, actor, now)):
            assert self.item.published is True
            assert self.item.status is status
            assert self.item.you_said == (wording or you_said)

    def assert_reopened(self) -> None:
        assert self.item.status is Status.RAISED
        assert (self.item.we_did, self.item.because, self.item.instead) == (None, None, None)
        assert self.item.verified is False
        assert self.item.closed_at is None

    @invariant()
    def history_is_kept(self) -> None:
        assert len(self.item.responses) == self.responses
        assert len(self.item.progress) == self.progress
        assert self.item.first_response_at == self.first_response_at
        assert self.item.is_open == (self.item.status in OPEN)
        assert len(self.item.pending_events) == self.item.version

    @invariant()
    def replay_gives_the_same_item(self) -> None:
        replayed: Item | None = None
        for event in self.item.pending_events:
            replayed = event.mutate(replayed)
        assert replayed is not None
        assert {**snapshot(replayed), "pending": None} == {**snapshot(self.item), "pending": None}


ItemMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=20, deadline=None)
TestItemStateMachine = ItemMachine.TestCase
