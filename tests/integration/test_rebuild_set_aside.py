"""A rebuild sets its big tables aside and deletes the old rows a slice per batch.

On a real SQLite data folder (``projections.set_aside``): the old rows go while
the replay runs and are gone when it ends; a rebuild that dies leaves its table
set aside for the next start to delete; and the old rows are deleted as every
row is (``secure_delete``), so an erasure after a rebuild still leaves no byte
of the contributor in any file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.projections.set_aside import SUFFIX
from yswd.settings import Settings

from .test_erasure import every_file_contains

NAME = "Ottoline Quarrendon-Vasquez"
ASIDE = "rm_items" + SUFFIX


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path / "data"))
    app = built.app
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    for n in range(120):
        item_id = app.raise_item(
            SYSTEM,
            forum_id="cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title=f"Kettle {n}",
            you_said=f"The kettle on the ward is broken ({n}).",
            contributor=NAME if n % 10 == 0 else None,
        ).value.item_id
        if n % 2:
            app.respond(SYSTEM, item_id, f"A new kettle is ordered ({n}).", None)
    built.runner.catch_up()
    yield built
    built.close()


def tables(container: Container) -> dict[str, int]:
    with container.engine.connect() as conn:
        names = conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm_items%'"
        ).scalars()
        return {
            name: int(conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar() or 0)
            for name in list(names)
        }


def every_item_row(container: Container) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM rm_items ORDER BY 1")]


def test_the_old_rows_go_a_slice_per_batch_and_are_gone_at_the_end(container: Container) -> None:
    before = every_item_row(container)
    runner = container.runner
    runner.batch_size = runner.rebuild_batch_size = 20
    left: list[int] = []

    runner.rebuild(progress=lambda _: left.append(tables(container).get(ASIDE, 0)))

    assert left[0] < len(before)  # the first batch already deleted some
    assert left == sorted(left, reverse=True) and 0 in left  # and each batch more
    assert ASIDE not in tables(container)
    assert every_item_row(container) == before
    with container.engine.connect() as conn:
        indexes = set(
            conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'").scalars()
        )
    assert "ix_rm_items_newest" in indexes


class Crash(BaseException):
    """The process dying mid-batch."""


def test_a_rebuild_that_dies_leaves_its_table_aside_for_the_next_start(
    container: Container,
) -> None:
    before = every_item_row(container)
    runner = container.runner
    runner.batch_size = runner.rebuild_batch_size = 20
    staff = container.read_models["staff_items"]
    real_write = staff.write_batch
    calls = {"n": 0}

    def dies_on_the_third(conn: Any, rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash("the power went off")
        real_write(conn, rows)

    staff.write_batch = dies_on_the_third  # type: ignore[method-assign]
    with pytest.raises(Crash):
        runner.rebuild()
    staff.write_batch = real_write  # type: ignore[method-assign]
    data_dir = container.settings.data_dir
    container.close()

    reopened = build(Settings(data_dir=data_dir))  # what the next start does
    try:
        assert ASIDE not in tables(reopened)
        reopened.runner.catch_up()
        assert every_item_row(reopened) == before
    finally:
        reopened.close()


def test_an_erasure_after_a_rebuild_leaves_no_byte_of_the_contributor(
    container: Container,
) -> None:
    data_dir = container.settings.data_dir
    assert every_file_contains(data_dir, NAME)
    container.runner.batch_size = container.runner.rebuild_batch_size = 20
    container.runner.rebuild()  # the old rows, NAME among them, deleted in slices

    assert container.audit.forget(SYSTEM, NAME)["contributor_erased"] is True

    assert every_file_contains(data_dir, NAME) == []
    container.close()
    assert every_file_contains(data_dir, NAME) == []
