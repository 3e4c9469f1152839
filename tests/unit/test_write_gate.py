"""One SQLite file's writers in one process take turns at a gate, not in SQLite's busy wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from yswd.adapters import persistence
from yswd.adapters.persistence import (
    batch_transaction,
    engine_gate,
    memory_engine,
    sqlite_gate,
    sqlite_path,
    write_transaction,
)
from yswd.adapters.persistence.sqlite_gate import WriteGate, write_gate
from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import Container, build
from yswd.settings import Settings


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path, run_projections=False))
    yield built
    built.close()


def waits_for_the_gate(gate: WriteGate, write: Callable[[], Any]) -> None:
    """``write`` does not finish while the gate is held, and does after."""
    done = threading.Event()

    def run() -> None:
        write()
        done.set()

    with gate.turn():
        thread = threading.Thread(target=run)
        thread.start()
        assert not done.wait(0.3), "the write went ahead while another writer had the turn"
    assert done.wait(10)
    thread.join()


def test_the_event_store_and_the_read_models_of_a_file_share_one_gate(
    container: Container,
) -> None:
    gate = write_gate(str(sqlite_path(container.settings)))
    assert gate is not None
    assert engine_gate(container.engine) is gate
    assert write_gate(str(container.settings.data_dir / "." / persistence.SQLITE_FILE)) is gate


def test_an_event_save_waits_for_its_turn(container: Container) -> None:
    gate = engine_gate(container.engine)
    assert gate is not None
    # Holding only the gate (no SQLite transaction): the save waits for the gate itself.
    waits_for_the_gate(gate, lambda: container.app.create_unit(SYSTEM, "ward", "Ward", None))
    assert container.app.organisation.unit("ward").name == "Ward"


def test_a_read_model_write_waits_for_its_turn(container: Container) -> None:
    gate = engine_gate(container.engine)
    assert gate is not None

    def write() -> None:
        with batch_transaction(container.engine) as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS gate_probe (x INTEGER)")

    waits_for_the_gate(gate, write)


def test_a_writer_inside_its_turn_may_write_again_on_the_same_thread(
    container: Container,
) -> None:
    gate = engine_gate(container.engine)
    assert gate is not None

    def write_twice() -> None:
        with write_transaction(container.engine) as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS gate_probe (x INTEGER)")
            with gate.turn():  # re-entrant: the same thread takes its turn again
                conn.exec_driver_sql("INSERT INTO gate_probe (x) VALUES (1)")

    writer = threading.Thread(target=write_twice, daemon=True)
    writer.start()
    writer.join(gate.timeout / 2)  # a deadlock would hold it until the gate gives up
    assert not writer.is_alive(), "the second turn on one thread waited for the first"
    with write_transaction(container.engine) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM gate_probe").scalar() == 1


def test_a_turn_not_had_in_time_goes_on_and_leaves_it_to_sqlite() -> None:
    gate = WriteGate(timeout=0.05)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.turn():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    started = time.monotonic()
    with gate.turn():
        waited = time.monotonic() - started
    release.set()
    holder.join()
    assert 0.04 <= waited < 5


def test_in_memory_databases_have_no_gate() -> None:
    assert write_gate(":memory:") is None
    assert write_gate(None) is None
    assert engine_gate(memory_engine()) is None


def gate_is_free(gate: WriteGate) -> bool:
    """Whether another thread could take the turn at once."""
    free: list[bool] = []

    def probe() -> None:
        free.append(gate._lock.acquire(timeout=0))
        if free[0]:
            gate._lock.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return free[0]


def test_commits_leave_the_wal_to_read_model_batches_which_checkpoint_out_of_turn(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with container.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert pages == persistence.WAL_AUTOCHECKPOINT_PAGES
    for i in range(20):
        container.app.create_unit(SYSTEM, f"unit-{i}", f"Unit {i}", None)
    gate = engine_gate(container.engine)
    assert gate is not None
    checkpoints: list[tuple[bool, bool]] = []
    checkpoint = persistence._checkpoint

    def spy(raw: Any) -> None:
        checkpoints.append((raw.in_transaction, gate_is_free(gate)))
        checkpoint(raw)

    monkeypatch.setattr(persistence, "_checkpoint", spy)
    monkeypatch.setattr(sqlite_gate, "CHECKPOINT_EVERY_SECONDS", 0.0)
    with batch_transaction(container.engine) as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS gate_probe (x INTEGER)")
    assert checkpoints == [(False, True)]  # after the commit, with the turn given back
    monkeypatch.setattr(sqlite_gate, "CHECKPOINT_EVERY_SECONDS", 3600.0)
    with batch_transaction(container.engine) as conn:
        conn.exec_driver_sql("INSERT INTO gate_probe VALUES (1)")
    assert len(checkpoints) == 1  # not again within the interval


def test_a_read_model_batch_lets_waiting_event_writes_go_first_for_a_bounded_time() -> None:
    gate = WriteGate()
    order: list[str] = []
    writing = threading.Event()

    def slow_insert(events: Any, **_: Any) -> list[int]:
        writing.set()
        time.sleep(0.1)
        order.append("event write")
        return [1]

    insert = gate.gated(slow_insert)
    writer = threading.Thread(target=insert, args=([],))
    writer.start()
    assert writing.wait(5)
    with gate.turn(after_writers=5.0):
        order.append("read-model batch")
    writer.join()
    assert order == ["event write", "read-model batch"]

    gate._writers = 1  # an event write that never ends must not hold the batch off
    started = time.monotonic()
    with gate.turn(after_writers=0.05):
        waited = time.monotonic() - started
    assert 0.04 <= waited < 2
