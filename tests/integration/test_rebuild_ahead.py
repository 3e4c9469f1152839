"""A rebuild whose batches another process prepares, on the embedded store.

``ProjectionRunner.rebuild`` hands the models that prepare their batches (staff
items, the audit chain) to ``yswd.adapters.rebuild_process.ProcessPrepare``, which
starts a child (``python -m yswd.cli.rebuild_child --ahead``) that reads, decodes
and folds the log one batch ahead; the runner writes what it sends in its own
batch transactions. These tests start the real child and check what a user of the
rebuild relies on: every read model ends equal to a rebuild prepared in one
process, the chain verifies, and a child that dies, or reads other batches, only
changes who did the work. And the child leaves alone the indexes the rebuild
dropped (making them again made every insert maintain them: twice the writes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from yswd.adapters.rebuild_process import PreparingProcess, ProcessPrepare, cores
from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import Container, build
from yswd.projections.item_tables import items
from yswd.settings import Settings

from .test_projection_rebuild import every_row, flags_reveals_repeats_and_an_erasure, index_names

pytestmark = pytest.mark.skipif(cores() < 2, reason="the preparing process needs a second core")

#: small batches: many of them, with items whose events span several
BATCH = 13


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", run_projections=False)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build(settings)
    built.runner.batch_size = built.runner.rebuild_batch_size = BATCH
    built.runner.ahead_from_events = 0  # the tests' logs are small
    yield built
    built.close()


class Watched:
    """The real preparer, counting the batches the runner took from its child (and
    killing the child at once, starting it with another batch size, or making the
    child's batch after ``other_after`` batches not the runner's, when asked)."""

    def __init__(
        self,
        settings: Settings,
        kill: bool = False,
        batch: int = BATCH,
        other_after: int | None = None,
    ) -> None:
        self.real = ProcessPrepare(settings)
        self.kill = kill
        self.batch = batch
        self.other_after = other_after
        self.started: list[list[str]] = []
        self.taken = 0
        self.refused = 0
        #: the bulk indexes present when the runner asked for each batch
        self.indexes_seen: list[set[str]] = []
        self.container: Container | None = None

    def start(self, names: Sequence[str], batch_size: int) -> Watched.Running:
        self.started.append(list(names))
        running = self.real.start(names, self.batch)
        if self.kill:
            running.process.kill()
        return Watched.Running(self, running)

    class Running:
        def __init__(self, owner: Watched, running: PreparingProcess) -> None:
            self.owner = owner
            self.running = running
            self.names = running.names

        def begin(self, positions: dict[str, int]) -> None:
            self.running.begin(positions)

        def next(self, last: int, seen: dict[str, int]) -> dict[str, Any] | None:
            owner = self.owner
            if owner.taken == owner.other_after:
                last += 1  # as if the runner's batch had ended elsewhere
            if owner.container is not None:
                owner.indexes_seen.append(index_names(owner.container))
            prepared = self.running.next(last, seen)
            if prepared is None:
                owner.refused += 1
            else:
                owner.taken += 1
            return prepared

        def close(self) -> None:
            self.running.close()


def prepared_here(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of a rebuild prepared in this process (the reference)."""
    preparer, container.runner.preparer = container.runner.preparer, None
    try:
        assert container.runner.rebuild() == container.runner.head()
    finally:
        container.runner.preparer = preparer
    return every_row(container)


def rebuilt_through(container: Container, watched: Watched, seed: int) -> dict[str, Any]:
    """A history's rows as the live models wrote them; then a rebuild through ``watched``."""
    flags_reveals_repeats_and_an_erasure(container, seed=seed)
    container.runner.catch_up()
    incremental = every_row(container)
    container.runner.preparer = watched
    assert container.runner.rebuild() == container.runner.head()
    return incremental


def test_the_preparer_is_wired_on_the_embedded_store(container: Container) -> None:
    assert isinstance(container.runner.preparer, ProcessPrepare)


def test_a_rebuild_prepared_ahead_equals_one_prepared_here(
    container: Container, settings: Settings
) -> None:
    watched = Watched(settings)
    incremental = rebuilt_through(container, watched, seed=13)

    assert watched.started == [["staff_items"]]
    # every batch came from the child
    assert watched.taken == -(-container.runner.head() // BATCH) and watched.refused == 0
    assert every_row(container) == incremental
    assert container.audit.verify(SYSTEM)["ok"] is True
    assert all(lag["lag"] == 0 for lag in container.runner.lag().values())
    assert prepared_here(container) == incremental  # and so does one prepared here


def test_the_preparing_process_leaves_the_dropped_indexes_dropped(
    container: Container, settings: Settings
) -> None:
    watched = Watched(settings)
    watched.container = container
    rebuilt_through(container, watched, seed=17)

    assert watched.taken > 3
    # the rebuild built the item rows' indexes at its end (those of this store)...
    built = index_names(container) & {index.name for index in items.indexes}
    assert len(built) >= 5
    # ...and none was there while it wrote: the child had long opened the store by then
    assert all(not (seen & built) for seen in watched.indexes_seen[1:])


def test_a_store_opened_without_its_schema_gets_no_index_back(settings: Settings) -> None:
    made = build(settings)
    with made.runner.database.write_transaction() as conn:
        conn.exec_driver_sql("DROP INDEX ix_rm_items_newest")
    made.close()

    opened = build(settings, schema=False)
    try:
        assert "ix_rm_items_newest" not in index_names(opened)
    finally:
        opened.close()
    again = build(settings)  # an ordinary start puts it back
    try:
        assert "ix_rm_items_newest" in index_names(again)
    finally:
        again.close()


def test_a_preparing_process_that_dies_leaves_the_runner_to_finish(
    container: Container, settings: Settings
) -> None:
    watched = Watched(settings, kill=True)
    incremental = rebuilt_through(container, watched, seed=19)

    assert watched.taken == 0 and watched.refused == 1  # then it was asked no more
    assert every_row(container) == incremental
    assert container.audit.verify(SYSTEM)["ok"] is True


def test_the_runner_goes_on_alone_from_a_batch_the_process_read_otherwise(
    container: Container, settings: Settings
) -> None:
    """Half way: the batches before came from the child, the rest are folded here,
    where no view is kept (they are read from the rows the child's batches wrote)."""
    watched = Watched(settings, other_after=3)
    incremental = rebuilt_through(container, watched, seed=31)

    assert container.runner.head() > 6 * BATCH
    assert watched.taken == 3 and watched.refused == 1
    assert every_row(container) == incremental
    assert container.audit.verify(SYSTEM)["ok"] is True


def test_batches_the_process_read_otherwise_are_prepared_here(
    container: Container, settings: Settings
) -> None:
    """A child whose batches are not the runner's (as when events are written while it
    reads) is not used: the first one it sends is refused, and the runner goes on alone."""
    watched = Watched(settings, batch=BATCH + 1)
    incremental = rebuilt_through(container, watched, seed=23)

    assert watched.taken == 0 and watched.refused == 1
    assert every_row(container) == incremental


def test_a_small_rebuild_starts_no_process(container: Container, settings: Settings) -> None:
    flags_reveals_repeats_and_an_erasure(container, seed=29)
    watched = Watched(settings)
    container.runner.preparer = watched
    container.runner.ahead_from_events = container.runner.head() + 1

    container.runner.rebuild()

    assert watched.started == []
