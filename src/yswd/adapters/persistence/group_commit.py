"""Group commit: concurrent saves share one transaction and one fsync (issue 19)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.utils import Environment

from yswd.adapters.persistence.sqlite_gate import InsertEvents


class _Waiting:
    """One caller's events in a group commit, and what became of them."""

    __slots__ = ("done", "error", "events", "kwargs", "lead", "result")

    def __init__(self, events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> None:
        self.events = events
        self.kwargs = kwargs
        self.done = threading.Event()
        #: woken to commit the next group rather than because its own was committed
        self.lead = False
        self.result: Sequence[int] | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Concurrent saves share one transaction and one fsync (issue 19).

    Wraps a recorder's ``insert_events``. The first caller commits its own events
    at once; callers that arrive while a commit is in flight queue up, and when it
    ends the first of them commits the whole queue in one transaction. So one
    request alone is never delayed, and N concurrent ones cost one commit, not N
    commits queued on the database's write lock (SQLite's busy handler polls with
    sleeps; PostgreSQL serialises inserts on its table lock anyway). Every caller
    returns only after the transaction holding its events committed: a 201 still
    means stored. When the group's transaction fails on a conflict (another writer
    saved one of those aggregates first), each caller's events are tried again on
    their own, so only the stale ones get ``IntegrityError``. Any other failure (an
    outage) is every caller's error. A call with a ``tracking`` record (or other
    keyword) is passed straight through.
    """

    def __init__(self, insert_events: InsertEvents, max_events: int = 1000) -> None:
        self._insert = insert_events
        self.max_events = max_events
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._committing = False
        #: transactions, and the calls they carried (for tests and benchmarks)
        self.commits = 0
        self.calls = 0

    def __call__(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if any(value is not None for value in kwargs.values()):
            return self._insert(stored_events, **kwargs)
        me = _Waiting(stored_events, kwargs)
        with self._lock:
            self._queue.append(me)
            leading = not self._committing
            self._committing = True
        if not leading:
            me.done.wait()
            if not me.lead:
                return self._outcome(me)
        try:
            with self._lock:
                group = self._take()
            self._commit(group)
        finally:
            with self._lock:
                if self._queue:
                    following = self._queue[0]
                    following.lead = True
                    following.done.set()
                else:
                    self._committing = False
        return self._outcome(me)

    def _take(self) -> list[_Waiting]:
        """The queue's head, up to ``max_events`` events (at least one caller)."""
        group: list[_Waiting] = []
        count = 0
        while self._queue and (not group or count + len(self._queue[0].events) <= self.max_events):
            waiting = self._queue.pop(0)
            group.append(waiting)
            count += len(waiting.events)
        return group

    def _commit(self, group: list[_Waiting]) -> None:
        try:
            events = [event for waiting in group for event in waiting.events]
            try:
                ids = self._insert(events, **group[0].kwargs)
            except IntegrityError as conflict:
                if len(group) == 1:
                    group[0].error = conflict
                else:
                    self._one_by_one(group)
            except BaseException as error:
                for waiting in group:
                    waiting.error = error
            else:
                self.commits += 1
                self.calls += len(group)
                start = 0
                for waiting in group:
                    end = start + len(waiting.events)
                    waiting.result = None if ids is None else list(ids[start:end])
                    start = end
        finally:
            for waiting in group:
                waiting.lead = False
                waiting.done.set()

    def _one_by_one(self, group: list[_Waiting]) -> None:
        for waiting in group:
            try:
                waiting.result = self._insert(waiting.events, **waiting.kwargs)
                self.commits += 1
                self.calls += 1
            except BaseException as error:
                waiting.error = error

    @staticmethod
    def _outcome(waiting: _Waiting) -> Sequence[int] | None:
        if waiting.error is not None:
            raise waiting.error
        return waiting.result


#: eventsourcing setting: "no" keeps the library's one transaction per save (the
#: benchmarks' raw-save baseline uses it)
GROUP_COMMIT = "YSWD_GROUP_COMMIT"


def group_commits(recorder: ApplicationRecorder, env: Environment) -> ApplicationRecorder:
    """``recorder`` with its ``insert_events`` behind a :class:`GroupCommit` (unless turned off)."""
    if str(env.get(GROUP_COMMIT, "yes")).lower() in ("no", "n", "false", "0", "off"):
        return recorder
    recorder.insert_events = GroupCommit(recorder.insert_events)  # type: ignore[method-assign]
    return recorder
