"""Read models built event by event equal a rebuild from zero, even across a crash."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.board_counts_check import assert_counts_match_items, stored_counts
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.errors import Conflict, InvalidInput, TransitionNotAllowed
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.projections.item_tables import items
from yswd.settings import Settings


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path / "data", run_projections=False))
    yield built
    built.close()


def long_random_history(container: Container, seed: int, commands: int = 300) -> None:
    """Wards, forums and items pushed through random commands (refusals included)."""
    rng = random.Random(seed)
    app = container.app
    app.create_unit(SYSTEM, "trust", "A trust", None)
    for ward in ("oak", "ash", "elm"):
        app.create_unit(SYSTEM, ward, f"{ward.title()} ward", "trust")
        app.create_forum(SYSTEM, f"{ward}-cm", f"{ward} meeting", ward, ForumKind.COMMUNITY_MEETING)
    item_ids: list[str] = []
    for step in range(commands):
        if not item_ids or rng.random() < 0.3:
            forum = rng.choice(("oak-cm", "ash-cm", "elm-cm"))
            item = app.raise_item(
                SYSTEM,
                forum_id=forum,
                channel=Channel.COMMUNITY_MEETING,
                raised_on=date(2026, 1, 1) + timedelta(days=rng.randrange(300)),
                title=f"Issue {step}",
                you_said=f"Something to fix, number {step}",
                contributor=rng.choice((None, "A patient", "A carer")),
                themes=rng.sample(["food", "leave", "activities", "privacy"], 2),
            ).value
            item_ids.append(item.item_id)
            continue
        item_id = rng.choice(item_ids)
        command = rng.choice(
            ("refer", "respond", "complete", "decline", "progress", "verify", "reopen", "publish")
        )
        with suppress(TransitionNotAllowed):  # refusals belong in a random history
            if command == "refer":
                app.refer(SYSTEM, item_id, rng.choice(("oak", "trust")), None, "over to you", None)
            elif command == "respond":
                app.respond(SYSTEM, item_id, f"response {step}", None)
            elif command == "complete":
                app.complete(SYSTEM, item_id, f"we did {step}", None)
            elif command == "decline":
                app.decline(SYSTEM, item_id, f"because {step}", None, None)
            elif command == "progress":
                app.note_progress(SYSTEM, item_id, f"progress {step}", None)
            elif command == "verify":
                app.verify(SYSTEM, item_id, rng.random() < 0.7, None, None)
            elif command == "reopen":
                app.reopen(SYSTEM, item_id, "not fixed", None)
            else:
                app.publish(SYSTEM, item_id, None, None)


def dump(container: Container) -> list[tuple[Any, ...]]:
    """The item rows, and the board's per-unit counts, which must equal a count of them."""
    assert_counts_match_items(container.engine)
    with container.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(select(items).order_by(items.c.item_id))]
    return [*rows, *sorted(stored_counts(container.engine).items())]


def test_incremental_read_models_equal_a_rebuild_from_zero(container: Container) -> None:
    container.runner.batch_size = 13
    long_random_history(container, seed=7)
    for _ in range(3):  # catch up in several passes, as a live service would
        container.runner.catch_up()
    incremental = dump(container)
    assert len(incremental) > 50

    applied = container.runner.rebuild()

    assert applied == container.runner.head()
    assert dump(container) == incremental
    # the secondary indexes a rebuild drops to replay faster are all back
    assert index_names(container) >= {
        "ix_rm_items_newest",
        "ix_rm_items_due",
        "ix_rm_items_unit_path",
        "ix_audit_chain_originator",
    }


def index_names(container: Container) -> set[str]:
    with container.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {str(name) for (name,) in rows}


def test_a_rebuild_that_fails_half_way_still_puts_the_indexes_back(container: Container) -> None:
    long_random_history(container, seed=3, commands=60)
    container.runner.catch_up()
    staff = container.read_models["staff_items"]

    def outage(conn: Any, events: list[tuple[int, Any]], after: int | None = None) -> Any:
        raise Crash

    staff.apply_batch = outage  # type: ignore[method-assign]
    staff.apply_plain_batch = outage  # type: ignore[method-assign]
    staff.prepare_plain_batch = outage  # type: ignore[method-assign]
    with pytest.raises(Crash):
        container.runner.rebuild()
    assert {"ix_rm_items_newest", "ix_audit_chain_originator"} <= index_names(container)


class Crash(BaseException):
    """The process dying mid-batch (not an error a read model raises: nothing catches it)."""


def test_a_crash_mid_run_applies_nothing_twice_and_recovers(container: Container) -> None:
    long_random_history(container, seed=11, commands=200)
    container.runner.batch_size = 17
    staff = container.read_models["staff_items"]
    real_apply = staff.apply_batch
    calls = {"n": 0}

    def failing_apply(conn: Any, events: list[tuple[int, Any]]) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise Crash("the power went off")
        real_apply(conn, events)

    staff.apply_batch = failing_apply  # type: ignore[method-assign]
    with pytest.raises(Crash):
        container.runner.catch_up()
    position = container.runner.positions()["staff_items"]
    assert 0 < position < container.runner.head()
    assert position % 17 == 0  # only whole batches were committed

    staff.apply_batch = real_apply  # type: ignore[method-assign]
    container.runner.catch_up()
    recovered = dump(container)

    container.runner.rebuild()
    assert dump(container) == recovered


def flags_reveals_repeats_and_an_erasure(container: Container, seed: int) -> list[str]:
    """A history with what the long random one lacks: flags, reveals, repeats, an erasure."""
    rng = random.Random(seed)
    app = container.app
    long_random_history(container, seed=seed, commands=120)
    container.runner.catch_up()
    with container.engine.connect() as conn:
        item_ids = sorted(conn.scalars(select(items.c.item_id)))
    for item_id in rng.sample(item_ids, 12):
        with suppress(Conflict, TransitionNotAllowed, InvalidInput):
            app.flag_safeguarding(SYSTEM, item_id, "a possible concern", None)
            app.acknowledge_safeguarding(SYSTEM, item_id, "picked up", None)
            if rng.random() < 0.6:
                app.close_safeguarding(SYSTEM, item_id, "dealt with", rng.random() < 0.5, None)
        with suppress(Conflict, InvalidInput):
            app.reveal_contributor(SYSTEM, item_id, "the court asked who raised this")
    original, *repeats = rng.sample(item_ids, 4)
    for item_id in repeats:
        with suppress(Conflict, InvalidInput):
            app.link_repeat(SYSTEM, item_id, original, None)
    container.audit.forget(SYSTEM, "A patient")  # destroys a key: its items read as erased
    for item_id in rng.sample(item_ids, 5):  # and the items go on after it
        with suppress(TransitionNotAllowed):
            app.note_progress(SYSTEM, item_id, "after the erasure", None)
    return item_ids


def every_row(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    tables = (
        "rm_items",
        "rm_board_counts",
        "rm_safeguarding",
        "rm_reveals",
        "audit_chain",
        "rm_units",
    )
    assert_counts_match_items(container.engine)
    with container.engine.connect() as conn:
        return {
            table: [
                tuple(row)
                for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY {order}")
            ]
            for table in tables
            # every column of the key, so that rows sharing a unit path come in one order
            for order in ["1, 2, 3" if table == "rm_board_counts" else "1"]
        }


def test_a_bulk_rebuild_equals_the_incremental_models_with_flags_reveals_and_erasures(
    container: Container,
) -> None:
    assert container.runner.bulk is not None  # the composition root gives rebuilds a bulk scan
    container.runner.batch_size = 29
    flags_reveals_repeats_and_an_erasure(container, seed=5)
    container.runner.catch_up()
    incremental = every_row(container)
    assert incremental["rm_safeguarding"] and incremental["rm_reveals"]
    assert any("[erased]" in str(row) for row in incremental["rm_items"])
    container.runner.rebuild_batch_size = 37  # several batches, with items across them

    container.runner.rebuild()

    assert every_row(container) == incremental
    # and the domain's own replay, without the bulk scan, writes the same rows
    bulk, container.runner.bulk = container.runner.bulk, None
    try:
        container.runner.rebuild()
    finally:
        container.runner.bulk = bulk
    assert every_row(container) == incremental


def test_a_bulk_rebuild_that_crashes_resumes_where_it_stopped(container: Container) -> None:
    flags_reveals_repeats_and_an_erasure(container, seed=9)
    container.runner.catch_up()
    incremental = every_row(container)
    container.runner.batch_size = container.runner.rebuild_batch_size = 31
    staff = container.read_models["staff_items"]
    real_write = staff.write_batch  # a rebuild folds before the transaction, writes in it
    calls = {"n": 0}

    def failing_write(conn: Any, rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise Crash("the power went off")
        real_write(conn, rows)

    staff.write_batch = failing_write  # type: ignore[method-assign]
    with pytest.raises(Crash):
        container.runner.rebuild()
    position = container.runner.positions()["staff_items"]
    assert 0 < position < container.runner.head()
    assert position % 31 == 0  # only whole batches were committed

    staff.write_batch = real_write  # type: ignore[method-assign]
    container.runner.catch_up()  # what the next start does: carry on from the position

    assert every_row(container) == incremental


def test_a_failing_read_model_never_fails_an_acknowledged_write(tmp_path: Path) -> None:
    container = build(Settings(data_dir=tmp_path / "data"))
    try:
        container.app.create_unit(SYSTEM, "trust", "A trust", None)
        container.app.create_forum(SYSTEM, "cm", "Meeting", "trust", ForumKind.COMMUNITY_MEETING)
        staff = container.read_models["staff_items"]

        def broken(conn: Any, events: list[tuple[int, Any]]) -> None:
            raise RuntimeError("a read model bug")

        staff.apply_batch = broken  # type: ignore[method-assign]
        written = container.app.raise_item(
            SYSTEM,
            forum_id="cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title="Laundry",
            you_said="Broken machine",
        )
        container.after_write(written.position)  # must not raise

        assert container.app.get_item(SYSTEM, written.value.item_id).title == "Laundry"
    finally:
        container.close()
