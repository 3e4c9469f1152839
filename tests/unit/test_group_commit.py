"""Group commit: concurrent saves share one transaction, and each still gets its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from yswd.adapters.persistence.group_commit import GroupCommit
from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import build
from yswd.settings import Settings


def stored(originator: str, version: int = 1) -> StoredEvent:
    return StoredEvent(originator, version, "topic", b"{}")


class FakeLog:
    """Hands out positions; a commit takes a while, as an fsync does."""

    def __init__(self, commit_seconds: float = 0.02) -> None:
        self.commit_seconds = commit_seconds
        self.transactions: list[list[str]] = []
        self.taken: set[tuple[str, int]] = set()
        self.last = 0
        self.lock = threading.Lock()

    def insert_events(self, events: Sequence[StoredEvent], **_: Any) -> list[int]:
        time.sleep(self.commit_seconds)
        with self.lock:
            keys = [(str(e.originator_id), e.originator_version) for e in events]
            if len(set(keys)) != len(keys) or self.taken & set(keys):
                raise IntegrityError("duplicate version")
            self.taken |= set(keys)
            self.transactions.append([key[0] for key in keys])
            ids = list(range(self.last + 1, self.last + 1 + len(events)))
            self.last += len(events)
            return ids


def run_together(calls: list[Any]) -> list[Any]:
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def call(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = calls[index]()
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_a_lone_save_is_committed_at_once_on_its_own() -> None:
    log = FakeLog(commit_seconds=0)
    group = GroupCommit(log.insert_events)
    assert group([stored("item:a"), stored("item:b")]) == [1, 2]
    assert log.transactions == [["item:a", "item:b"]]


def test_sixteen_concurrent_saves_share_transactions_and_each_gets_its_own_positions() -> None:
    log = FakeLog()
    group = GroupCommit(log.insert_events)
    outcomes = run_together(
        [lambda i=i: group([stored(f"item:{i}"), stored(f"idem:{i}")]) for i in range(16)]
    )
    assert len(log.transactions) < 16  # the ones that queued went in together
    assert group.calls == 16
    positions = [p for outcome in outcomes for p in outcome]
    assert sorted(positions) == list(range(1, 33))
    for i, outcome in enumerate(outcomes):
        transaction = next(t for t in log.transactions if f"item:{i}" in t)
        offset = transaction.index(f"item:{i}")
        assert outcome[1] == outcome[0] + 1 and transaction[offset + 1] == f"idem:{i}"


def test_a_conflict_in_a_group_fails_only_the_stale_save() -> None:
    log = FakeLog()
    group = GroupCommit(log.insert_events)
    log.taken.add(("item:stale", 2))  # another writer saved version 2 first
    calls = [lambda i=i: group([stored(f"item:{i}")]) for i in range(7)]
    calls.append(lambda: group([stored("item:stale", 2)]))
    outcomes = run_together(calls)
    assert isinstance(outcomes[-1], IntegrityError)
    assert all(isinstance(outcome, list) for outcome in outcomes[:-1])
    assert sorted(p for outcome in outcomes[:-1] for p in outcome) == list(range(1, 8))


def test_an_outage_is_every_callers_error_and_the_next_save_goes_through() -> None:
    up = threading.Event()

    def insert(events: Sequence[StoredEvent], **_: Any) -> list[int]:
        time.sleep(0.01)
        if not up.is_set():
            raise OperationalError("server closed the connection")
        return [1]

    group = GroupCommit(insert)
    outcomes = run_together([lambda i=i: group([stored(f"item:{i}")]) for i in range(5)])
    assert all(isinstance(outcome, OperationalError) for outcome in outcomes)
    up.set()
    assert group([stored("item:x")]) == [1]


def test_a_call_with_a_tracking_record_is_not_grouped() -> None:
    seen: list[dict[str, Any]] = []

    def insert(events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        seen.append(kwargs)
        return [1]

    group = GroupCommit(insert)
    group([stored("item:a")], tracking="a tracking record")
    assert seen == [{"tracking": "a tracking record"}]


def test_concurrent_raises_on_a_sqlite_store_are_all_stored_with_distinct_positions(
    tmp_path: Path,
) -> None:
    container = build(Settings(data_dir=tmp_path, run_projections=False))
    try:
        app = container.app
        app.create_unit(SYSTEM, "ward", "Ward", None)
        before = app.recorder.max_notification_id() or 0
        outcomes = run_together(
            [
                lambda i=i: app.create_unit(SYSTEM, f"unit-{i}", f"Unit {i}", "ward")
                for i in range(12)
            ]
        )
        assert not [o for o in outcomes if isinstance(o, Exception)]
        assert app.recorder.max_notification_id() == before + 12
        assert {app.unit(f"unit-{i}").name for i in range(12)} == {f"Unit {i}" for i in range(12)}
    finally:
        container.close()


@pytest.mark.parametrize("max_events", [1, 3])
def test_a_group_never_exceeds_its_event_budget_but_always_takes_one_caller(
    max_events: int,
) -> None:
    log = FakeLog()
    group = GroupCommit(log.insert_events, max_events=max_events)
    run_together([lambda i=i: group([stored(f"item:{i}"), stored(f"idem:{i}")]) for i in range(6)])
    assert all(len(t) <= max(max_events, 2) for t in log.transactions)
    assert group.calls == 6
