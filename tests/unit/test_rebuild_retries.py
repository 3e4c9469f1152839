"""A bulk rebuild that meets a failing batch, on the in-memory store.

The rebuild folds the staff items and hashes the audit chain before each batch's
write transaction. What a user of ``yswd projections rebuild`` relies on: a
batch that fails rolls back whole, the models' prepared state is dropped, the
batch is tried again, and the rebuild ends with the same rows as the incremental
read models, the chain verifying; its progress is told batch by batch.
"""

from __future__ import annotations

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
from yswd.projections.item_tables import items

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


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


def test_a_rebuild_with_a_batch_that_fails_once_still_ends_equal(container: Container) -> None:
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


def test_a_bulk_rebuild_reports_its_progress_batch_by_batch(container: Container) -> None:
    runner = container.runner
    runner.batch_size = runner.rebuild_batch_size = 25
    heard: list[int] = []

    applied = runner.rebuild(progress=heard.append)

    assert applied == runner.head() == sum(heard)
    assert heard[:-1] == [25] * (len(heard) - 1)
