"""A rebuild with its audit chain in a second process, on a real PostgreSQL.

``ProjectionRunner.rebuild`` hands the models that may be rebuilt apart (the
audit chain) to ``yswd.adapters.rebuild_process``, which starts a child process
that opens the same store, and replays the rest itself. These tests start the real
child (``python -m yswd.cli.rebuild_child``) and check what a user of the
rebuild relies on: every read model ends equal to the one-process rebuild, the
chain verifies, and a child that dies changes nothing but who did the work.
The chain's hashing is worked out before the write transaction
(``prepare_batch``); the last test holds that to a batch that rolls back.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from yswd.adapters.rebuild_process import (
    PreparingProcess,
    ProcessPrepare,
    ProcessRebuild,
    RunningProcess,
)
from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import Container, build
from yswd.projections.audit_chain import GENESIS, AuditChain, audit_chain, chain_hash
from yswd.projections.item_tables import items
from yswd.projections.runner import ProjectionRunner
from yswd.settings import Settings

from .servers import Postgres, postgres_or_skip
from .test_store_backends import organisation, random_history

_databases = itertools.count(1)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture
def settings(postgres: Postgres, tmp_path: Path) -> Settings:
    name = f"yswd_apart{next(_databases)}"
    url = postgres.new_database(name)
    return Settings(database_url=url, data_dir=tmp_path / "unused", run_projections=False)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build(settings)
    yield built
    built.close()


class Watched:
    """The real helper, noting what each child said it applied (and killing it at once
    when asked: a child that dies mid-rebuild)."""

    def __init__(self, settings: Settings, kill: bool = False) -> None:
        self.real = ProcessRebuild(settings)
        self.kill = kill
        self.started: list[list[str]] = []
        self.applied: list[int] = []

    def start(self, names: Sequence[str]) -> Watched.Running:
        self.started.append(list(names))
        running = self.real.start(names)
        if self.kill:
            running.process.kill()
        return Watched.Running(self, running)

    class Running:
        def __init__(self, owner: Watched, running: RunningProcess) -> None:
            self.owner = owner
            self.running = running

        def wait(self) -> int:
            applied = self.running.wait()
            self.owner.applied.append(applied)
            return applied


def history(container: Container, commands: int = 120) -> None:
    organisation(container)
    random_history(container, seed=11, commands=commands)
    container.runner.catch_up()


def rows(container: Container) -> dict[str, list[tuple[Any, ...]]]:
    with container.engine.connect() as conn:
        return {
            "items": [tuple(r) for r in conn.execute(select(items).order_by(items.c.item_id))],
            "chain": [
                tuple(r) for r in conn.execute(select(audit_chain).order_by(audit_chain.c.position))
            ],
        }


def test_the_helper_is_wired_on_postgresql(container: Container) -> None:
    assert isinstance(container.runner.helper, ProcessRebuild)


def test_a_rebuild_with_the_chain_apart_equals_the_one_process_rebuild(
    container: Container, settings: Settings
) -> None:
    history(container)
    container.runner.helper = None
    assert container.runner.rebuild() == container.runner.head()
    alone = rows(container)
    assert len(alone["chain"]) == container.runner.head()

    watched = Watched(settings)
    container.runner.helper = watched
    container.runner.rebuild()

    assert watched.started == [["audit_chain"]]
    assert watched.applied == [container.runner.head()]  # the child did the whole chain
    assert rows(container) == alone
    assert container.audit.verify(SYSTEM)["ok"] is True
    assert container.runner.lag()["audit_chain"]["lag"] == 0


def test_a_rebuild_with_the_items_folded_ahead_too_equals_the_one_process_rebuild(
    container: Container, settings: Settings
) -> None:
    """Three processes: the chain apart, the items folded ahead, the runner writing."""
    history(container)
    container.runner.helper = container.runner.preparer = None
    container.runner.rebuild()
    alone = rows(container)

    container.runner.helper = Watched(settings)
    container.runner.preparer = ProcessPrepare(settings)
    container.runner.ahead_from_events = 0
    container.runner.rebuild_batch_size = container.runner.batch_size = 17
    taken = []
    real_next = PreparingProcess.next

    def counted(self: PreparingProcess, last: int, seen: dict[str, int]) -> Any:
        prepared = real_next(self, last, seen)
        taken.append(prepared is not None)
        return prepared

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PreparingProcess, "next", counted)
        container.runner.rebuild()

    assert taken.count(True) == -(-container.runner.head() // 17)
    assert rows(container) == alone
    assert container.audit.verify(SYSTEM)["ok"] is True


def test_a_child_that_dies_leaves_the_parent_to_finish(
    container: Container, settings: Settings
) -> None:
    history(container, commands=80)
    container.runner.helper = None
    container.runner.rebuild()
    alone = rows(container)

    watched = Watched(settings, kill=True)
    container.runner.helper = watched
    container.runner.rebuild()  # does not raise: the parent catches the chain up itself

    assert watched.started == [["audit_chain"]] and watched.applied == []
    assert rows(container) == alone
    assert container.audit.verify(SYSTEM)["ok"] is True
    assert all(lag["lag"] == 0 for lag in container.runner.lag().values())


def test_a_child_given_an_unknown_model_fails_and_changes_nothing(settings: Settings) -> None:
    running = ProcessRebuild(settings).start(["no_such_model"])
    with pytest.raises(RuntimeError, match="exit status 2"):
        running.wait()


class FailsOnce:
    """A read model whose first batch fails, so the whole batch's transaction rolls back."""

    name = "fails_once"
    wants_stored_form = True

    def __init__(self) -> None:
        from sqlalchemy import MetaData

        self.metadata = MetaData()
        self.failed = False

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if not self.failed:
            self.failed = True
            raise ValueError("the first time, this fails")

    def reset(self, conn: Connection) -> None:
        self.failed = False


def test_a_chain_prepared_before_a_batch_that_rolls_back_is_prepared_again(
    container: Container,
) -> None:
    history(container, commands=30)
    chain = AuditChain()
    runner = ProjectionRunner(
        container.app, container.runner.database, [chain, FailsOnce()], batch_size=500
    )
    runner.create_tables()
    with container.runner.database.write_transaction() as conn:
        chain.reset(conn)
        conn.exec_driver_sql("DELETE FROM projection_tracking WHERE name = 'audit_chain'")
    runner.create_tables()
    runner.catch_up()  # batch 1 rolls back after the chain's rows were written, then again

    previous = GENESIS
    expected = []
    for n in container.app.recorder.select_notifications(start=1, limit=10_000):
        previous = chain_hash(previous, n)
        expected.append((n.id, previous))
    with container.engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(select(audit_chain.c.position, audit_chain.c.hash))]
    assert sorted(got) == expected
