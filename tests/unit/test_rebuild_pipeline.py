"""A rebuild's batches committed one batch behind the reading (``projections.pipeline``).

The writer thread is real; so is the in-memory store the rebuild reads. What a
user of ``yswd projections rebuild`` relies on: batches commit in order, never
two at once; a batch that fails is not followed by any other, and the rebuild
goes on without the pipeline and ends with the same rows as the incremental
read models, the chain verifying.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, select

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build, fixed_clock
from yswd.projections.audit_chain import audit_chain
from yswd.projections.pipeline import BatchWriter, Job
from yswd.projections.staff_items import items

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def job(n: int) -> Job:
    return Job(models=[], seen={"m": n - 1}, last=n, events=1, feeds={}, prepared={})


def test_jobs_commit_in_order_one_at_a_time_and_each_is_reported_once() -> None:
    committing: list[int] = []
    committed: list[int] = []
    inside = threading.Semaphore(1)

    def commit(j: Job) -> None:
        assert inside.acquire(blocking=False), "two batches were being written at once"
        committing.append(j.last)
        time.sleep(0.005)
        committed.append(j.last)
        inside.release()

    writer = BatchWriter(commit)
    reported = []
    for n in range(1, 21):
        reported += [j.last for j in writer.submit(job(n))]
        # once a job is handed over, the one before it has committed
        assert committed[-1:] == ([n - 1] if n > 1 else [])
    reported += [j.last for j in writer.close()]

    assert committing == committed == list(range(1, 21))
    assert reported == list(range(1, 21))


def test_after_a_failed_job_no_other_is_committed_and_the_error_reaches_the_reader() -> None:
    committed: list[int] = []

    def commit(j: Job) -> None:
        if j.last == 3:
            raise ValueError("batch 3 cannot be written")
        committed.append(j.last)

    writer = BatchWriter(commit)
    writer.submit(job(1))
    writer.submit(job(2))
    writer.submit(job(3))
    with pytest.raises(ValueError, match="batch 3"):
        writer.submit(job(4))
    writer.stop()
    assert committed == [1, 2]


class FailsOnce:
    """A read model that fails the first batch reaching ``position``, then never again."""

    name = "fails_once"
    metadata = MetaData()
    wants_stored_form = True

    def __init__(self, position: int) -> None:
        self.position = position
        self.failures = 0

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if position >= self.position and not self.failures:
            self.failures += 1
            raise ValueError("this batch fails once")

    def reset(self, conn: Connection) -> None:
        self.failures = 0


@pytest.fixture
def container() -> Iterator[Container]:
    built = build(memory=True, clock=fixed_clock(NOW))
    app = built.app
    app.create_unit(SYSTEM, "cedar", "Cedar ward", None)
    app.create_forum(SYSTEM, "cedar-cm", "Meeting", "cedar", ForumKind.COMMUNITY_MEETING)
    for n in range(60):
        item_id = app.raise_item(
            SYSTEM,
            forum_id="cedar-cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title=f"Garden {n}",
            you_said=f"The garden is locked ({n}).",
            contributor="A patient" if n % 2 else None,
        ).value.item_id
        if n % 3:
            app.respond(SYSTEM, item_id, f"We asked the estates team ({n}).", None)
    built.runner.catch_up()
    yield built
    built.close()


def rows(container: Container) -> tuple[list[Any], list[Any]]:
    with container.engine.connect() as conn:
        return (
            [tuple(r) for r in conn.execute(select(items).order_by(items.c.item_id))],
            [tuple(r) for r in conn.execute(select(audit_chain).order_by(audit_chain.c.position))],
        )


def test_a_rebuild_whose_writer_fails_once_still_ends_equal(container: Container) -> None:
    incremental = rows(container)
    runner = container.runner
    failing = FailsOnce(position=runner.head() // 2)
    runner.read_models.append(failing)
    runner.create_tables()
    runner.batch_size = runner.rebuild_batch_size = 10  # many batches, one fails half way

    assert runner.rebuild() >= runner.head()

    assert failing.failures == 1
    assert rows(container) == incremental
    assert container.audit.verify(SYSTEM)["ok"] is True
    assert runner.dead_letters() == []  # tried again, it went through
    assert all(lag["lag"] == 0 for lag in runner.lag().values())


def test_a_pipelined_rebuild_reports_its_progress_batch_by_batch(container: Container) -> None:
    runner = container.runner
    runner.batch_size = runner.rebuild_batch_size = 25
    heard: list[int] = []

    applied = runner.rebuild(progress=heard.append)

    assert applied == runner.head() == sum(heard)
    assert heard[:-1] == [25] * (len(heard) - 1)
