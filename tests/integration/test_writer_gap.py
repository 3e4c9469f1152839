"""R6, the writer-gap test: writers committing out of order never make a reader skip.

16 writer processes save events through yswd's PostgreSQL event store. A trigger on
the events table sleeps after each INSERT, before its COMMIT (0-30 ms, and 250 ms for
one save in ten), so commits finish in a different order from the notification ids
they took. Two
tailing projectors (the project's ``ProjectionRunner``, each in its own process)
and a real ``yswd worker`` (read models and the NATS relay) read at the same time.

Pass: every notification id in the log is seen once, in order, none skipped, by each
projector's tracked read model and by the relay (the stream's messages, in stream
order), and the worker's staff read model has every item at its last version.

The mutation check: ``test_the_check_catches_gaps_when_the_table_lock_is_removed``
runs the same scenario with eventsourcing's ``LOCK TABLE ... IN EXCLUSIVE MODE``
removed from the writers' recorder, and requires the same check to report skipped
ids. ``YSWD_WRITER_GAP_NO_LOCK=1`` runs the passing test itself as that mutant (it
then fails).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import Nats, Postgres, nats_or_skip, postgres_or_skip
from .writer_gap import no_lock_requested, problems, run_scenario

pytestmark = pytest.mark.integration

WRITERS = 16
SAVES_PER_WRITER = 24  # 384 delayed commits: ~15 s while they queue on the lock


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    for server in postgres_or_skip():
        # 19 yswd processes each keep a pool of 5 event-store connections (plus the
        # read models' and keys' engines): more than the helper's 100 slots
        server.stop()
        server.pg_ctl(
            "-w",
            "-t",
            "30",
            "-l",
            str(server.data_dir / "server.log"),
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {server.port} -k {server.socket_dir} "
            "-c fsync=on -c max_connections=400",
            "start",
        )
        yield server


@pytest.fixture
def nats(tmp_path: Path) -> Iterator[Nats]:
    # a fresh server (and stream) per scenario: the relay's stream is the evidence
    yield from nats_or_skip()


def report(name: str, summary: str) -> None:
    print(f"\nwriter-gap {name}: {summary}", file=sys.stderr)


def test_sixteen_out_of_order_writers_no_reader_skips_an_event(
    postgres: Postgres, nats: Nats, tmp_path: Path
) -> None:
    no_lock = no_lock_requested()
    observation = run_scenario(
        postgres,
        nats,
        tmp_path,
        database="gap_locked" if not no_lock else "gap_mutant_env",
        writers=WRITERS,
        saves_per_writer=SAVES_PER_WRITER,
        no_lock=no_lock,
    )
    report("with the lock" if not no_lock else "WITHOUT the lock (env)", observation.summary())
    assert len(observation.acknowledged) == WRITERS * SAVES_PER_WRITER
    assert problems(observation) == []


def test_the_check_catches_gaps_when_the_table_lock_is_removed(
    postgres: Postgres, nats: Nats, tmp_path: Path
) -> None:
    observation = run_scenario(
        postgres,
        nats,
        tmp_path,
        database="gap_mutant",
        writers=WRITERS,
        saves_per_writer=SAVES_PER_WRITER,
        no_lock=True,
    )
    report("WITHOUT the lock (mutant)", observation.summary())
    assert len(observation.acknowledged) == WRITERS * SAVES_PER_WRITER
    found = problems(observation)
    # the teeth: the very check the passing test relies on reports readers skipping ids
    assert found, "no reader skipped an event without the lock: the test has no teeth"
    assert sum(observation.skipped().values()) > 0, found
