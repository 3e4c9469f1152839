"""A rebuild's batches committed on a thread of their own, one batch behind the reading.

A rebuild's batch is read, decoded and folded in Python (holding the GIL), then
written: SQLite's inserts (``sqlite3_step`` runs without the GIL) or PostgreSQL's
statements (the server works on another core while the client waits). Done one
after the other, the CPU that Python uses and the CPU the database uses never
overlap. So a rebuild hands each batch's transaction to a writer thread and
goes on reading, decoding and folding the next batch meanwhile.

At most one batch is in the writer's hands: ``submit`` waits until the one
before has committed (or failed). Each batch still commits with its tracking
positions in one transaction, exactly as the runner's own batches do, so a crash
resumes from the last committed batch. When the writer fails, nothing after the
failed batch was committed; the runner forgets what its models keep in memory,
reads the positions again and carries on one batch at a time, where its usual
retries, dead letters and outage handling apply.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from yswd.projections.feeds import Feed


class Job(NamedTuple):
    """One batch for the writer: what to commit, and the positions it moves."""

    models: Sequence[Any]
    #: each pending model's position before the batch (checked by compare-and-set)
    seen: dict[str, int]
    #: the batch's last position (every pending model moves there)
    last: int
    #: how many stored events the batch has
    events: int
    feeds: dict[str, Feed]
    #: what models with ``prepare_batch`` worked out before the transaction
    prepared: dict[str, Any]


class BatchWriter:
    """Commits jobs, in order, on one thread; at most one job in its hands at a time."""

    def __init__(self, commit: Callable[[Job], None]) -> None:
        self._commit = commit
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._free = threading.Semaphore(1)
        self._error: BaseException | None = None
        #: jobs committed and not yet handed back by ``submit`` or ``close``
        self._done: list[Job] = []
        self._thread = threading.Thread(target=self._run, name="rebuild-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> list[Job]:
        """Hand ``job`` over once the one before is done; the jobs committed since last asked.

        Raises the writer's error if the job before failed (``job`` is then not taken).
        """
        self._free.acquire()
        if self._error is not None:
            self._free.release()
            raise self._error
        done, self._done = self._done, []
        self._jobs.put(job)
        return done

    def close(self) -> list[Job]:
        """Wait for the last job and stop the thread; the jobs committed since last asked.

        Raises the writer's error if the last job failed.
        """
        self._free.acquire()
        self._jobs.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._done

    def stop(self) -> None:
        """Stop the thread after the job in hand, whatever became of it (after an error)."""
        if self._thread.is_alive():
            self._free.acquire()
            self._jobs.put(None)
            self._thread.join()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                self._free.release()
                return
            try:
                if self._error is None:
                    self._commit(job)
                    self._done.append(job)
            except BaseException as error:  # handed to the reading thread, which raises it
                self._error = error
            finally:
                self._free.release()
