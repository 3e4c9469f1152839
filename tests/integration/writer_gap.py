"""The writer-gap scenario (issue 19, R6), shared by ``test_writer_gap.py``.

Many writer processes save events through yswd's own PostgreSQL event store while
a trigger on the events table sleeps a random while between each INSERT and its
COMMIT, so that transactions finish out of order. Readers tail the notification
log at the same time:

- two probe projectors, each a :class:`~yswd.projections.runner.ProjectionRunner`
  (the project's runner: batches, advisory lock, compare-and-set on the tracking
  row) in its own process, with one read model that records every position it is
  given in the same transaction as the tracking move;
- a real ``yswd worker`` process: the project's read models and the NATS relay.

:func:`problems` lists every way a reader deviated from the log; the scenario
passes when it lists nothing. With ``no_lock=True`` the writers drop
eventsourcing's ``LOCK TABLE ... IN EXCLUSIVE MODE`` (the ordering guarantee):
that is the mutation the test must catch.

Nothing here is imported by ``src/``; the mutation lives only in the writer
processes this module starts.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import multiprocessing
import os
import queue
import random
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Column, Connection, Integer, MetaData, Table, delete

from .servers import Nats, Postgres, YswdProcess, yswd_env

#: the events table of ``Yswd`` (its ``name`` is ``yswd``)
EVENTS_TABLE = "yswd_events"
#: the sleep between INSERT and COMMIT, in seconds: mostly short, and now and then
#: long, so that a reader at the head of the log finds later ids committed around a
#: hole that stays open for a while (the mean is about 40 ms, so the 384 locked,
#: one-at-a-time commits of the passing test still take only ~15 s)
SHORT_DELAY, LONG_DELAY, LONG_SHARE = 0.03, 0.25, 0.1
PROBES = ("gap_probe_a", "gap_probe_b")
#: how often the probes and the worker poll the log while tailing
POLL_SECONDS = 0.01
#: run the plain test as the mutant: ``YSWD_WRITER_GAP_NO_LOCK=1 pytest ...``
NO_LOCK_ENV = "YSWD_WRITER_GAP_NO_LOCK"

FORK = multiprocessing.get_context("fork")

DELAY_TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION writer_gap_delay() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- runs after the rows (and their notification ids) are in, before COMMIT
    PERFORM pg_sleep(CASE WHEN random() < {LONG_SHARE} THEN {LONG_DELAY}
                          ELSE random() * {SHORT_DELAY} END);
    RETURN NULL;
END
$$;
CREATE TRIGGER writer_gap_delay AFTER INSERT ON {EVENTS_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION writer_gap_delay();
"""


# -- the probe read model ----------------------------------------------------------


class SeenProbe:
    """A read model that records each position it is given, in the order given.

    ``seq`` is an identity column, so ``ORDER BY seq`` is the order the runner
    applied events in; the row commits with the runner's tracking move or not at all.
    """

    wants_stored_form = True  # no decoding needed: the position is all it keeps

    def __init__(self, name: str) -> None:
        self.name = name
        self.metadata = MetaData()
        self.table = Table(
            f"{name}_seen",
            self.metadata,
            Column("seq", Integer, primary_key=True, autoincrement=True),
            Column("position", Integer, nullable=False),
        )

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        conn.execute(self.table.insert().values(position=position))

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(self.table))


# -- child processes (forked: they share this module's imports) ------------------------


def _settings(database_url: str, data_dir: Path) -> Any:
    from yswd.settings import Settings

    return Settings(database_url=database_url, data_dir=data_dir, run_projections=False)


def _set_up(database_url: str, data_dir: Path) -> None:
    """Create the tables, a unit and a forum (one process, before the race)."""
    from yswd.aggregates.access import SYSTEM
    from yswd.aggregates.organisation import ForumKind
    from yswd.bootstrap import build

    container = build(_settings(database_url, data_dir))
    try:
        app = container.app
        app.create_unit(SYSTEM, "gap-ward", "Gap ward", None)
        app.create_forum(SYSTEM, "gap-cm", "Gap meeting", "gap-ward", ForumKind.COMMUNITY_MEETING)
    finally:
        container.close()


def _build(database_url: str, data_dir: Path) -> Any:
    """``yswd.bootstrap.build``, tried again when another process raced it at start-up.

    eventsourcing's recorder runs ``CREATE OR REPLACE FUNCTION`` on every start, and
    PostgreSQL refuses two of those at once ("tuple concurrently updated"): 16
    processes starting together hit it. (A real start-up race; see the report.)
    """
    from eventsourcing.persistence import InternalError

    from yswd.bootstrap import build

    for attempt in range(10):
        try:
            return build(_settings(database_url, data_dir))
        except InternalError as error:
            if "concurrently" not in str(error) or attempt == 9:
                raise
            time.sleep(random.uniform(0.05, 0.3))
    raise AssertionError("unreachable")


def _probe(name: str, database_url: str, data_dir: Path, stop: Any, ready: Any) -> None:
    from yswd.projections.runner import ProjectionRunner

    container = _build(database_url, data_dir)
    try:
        # the runner's second argument is the read-model database as the composition
        # root wires it (an Engine before the ports refactor, a ReadModelStore after)
        database = getattr(container.runner, "database", container.engine)
        runner = ProjectionRunner(container.app, database, [SeenProbe(name)])
        runner.create_tables()
        ready.set()
        runner.run_forever(stop, interval=POLL_SECONDS)
    finally:
        container.close()


def drop_table_lock(recorder: Any) -> int:
    """THE MUTATION: insert without ``LOCK TABLE ... IN EXCLUSIVE MODE``.

    eventsourcing's ``PostgresApplicationRecorder._lock_table`` runs the
    statements in ``lock_table_statements`` (``SET LOCAL lock_timeout`` and the
    ``LOCK TABLE``) before every insert; the ``LOCK TABLE`` is what makes
    insert order equal commit order. Returns how many statements were removed.
    """
    kept = [s for s in recorder.lock_table_statements if "LOCK TABLE" not in repr(s)]
    removed = len(recorder.lock_table_statements) - len(kept)
    recorder.lock_table_statements = kept
    return removed


def _writer(
    index: int,
    database_url: str,
    data_dir: Path,
    saves: int,
    no_lock: bool,
    go: Any,
    results: Any,
) -> None:
    from yswd.aggregates.access import SYSTEM
    from yswd.aggregates.item import Channel

    positions: list[int] = []
    error = None
    container = None
    try:
        container = _build(database_url, data_dir)
        app = container.app
        if no_lock:
            assert drop_table_lock(app.recorder) == 1, "LOCK TABLE statement not found"
        app.forum("gap-cm")  # warm the caches, so the race is about commits only
        assert go.wait(60), "never told to start"
        item_id = None
        for n in range(saves):
            if item_id is None:
                written = app.raise_item(
                    SYSTEM,
                    forum_id="gap-cm",
                    channel=Channel.COMMUNITY_MEETING,
                    raised_on=date(2026, 11, 2),
                    title=f"Writer {index} item {n}",
                    you_said=f"Writer {index} says {n}",
                )
                item_id = written.value.item_id
            else:
                written = app.respond(SYSTEM, item_id, f"Answer {n} from {index}", None)
                item_id = None
            assert written.position is not None
            positions.append(written.position)
    except BaseException:
        error = traceback.format_exc()
    finally:
        results.put((index, positions, error))
        if container is not None:
            container.close()


# -- the scenario -------------------------------------------------------------------


@dataclass
class Observation:
    """What the log holds and what each reader saw, after the race."""

    no_lock: bool
    log: list[int]
    acknowledged: list[int]
    #: reader name -> positions in the order it applied or published them
    seen: dict[str, list[int]] = field(default_factory=dict)
    #: items in the log: item id -> last version
    item_versions: dict[str, int] = field(default_factory=dict)
    #: the worker's staff read model: item id -> version
    read_model_versions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    write_seconds: float = 0.0

    def skipped(self) -> dict[str, int]:
        """How many positions of the log each reader never saw."""
        log = set(self.log)
        return {name: len(log - set(seen)) for name, seen in self.seen.items()}

    def summary(self) -> str:
        figures = {
            "log": len(self.log),
            "acknowledged writes": len(self.acknowledged),
            "skipped": self.skipped(),
            "read model items wrong or missing": sum(
                1 for k, v in self.item_versions.items() if self.read_model_versions.get(k) != v
            ),
            "write seconds": round(self.write_seconds, 1),
            "seconds": round(self.seconds, 1),
            "lock": not self.no_lock,
        }
        return json.dumps(figures, sort_keys=True)


def problems(observation: Observation) -> list[str]:
    """Every way a reader differs from the log: empty means none skipped, none twice,
    all in order."""
    found: list[str] = []
    log = observation.log
    if not log:
        return ["the log is empty"]
    missing_acks = sorted(set(observation.acknowledged) - set(log))
    if missing_acks:
        found.append(f"acknowledged but not in the log: {missing_acks[:10]}")
    for name, seen in observation.seen.items():
        if seen == log:
            continue
        skipped = sorted(set(log) - set(seen))
        twice = len(seen) - len(set(seen))
        out_of_order = sum(1 for a, b in itertools.pairwise(seen) if b <= a)
        found.append(
            f"{name}: saw {len(seen)} of {len(log)} positions; skipped {len(skipped)} "
            f"(first {skipped[:8]}), {twice} twice, {out_of_order} out of order"
        )
    wrong = {
        item: (version, observation.read_model_versions.get(item))
        for item, version in observation.item_versions.items()
        if observation.read_model_versions.get(item) != version
    }
    if wrong:
        sample = dict(list(wrong.items())[:5])
        found.append(
            f"worker's rm_items: {len(wrong)} of {len(observation.item_versions)} items missing "
            f"or at the wrong version (log version, read model version): {sample}"
        )
    return found


def _query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def _wait(what: str, check: Any, timeout: float, worker: YswdProcess, url: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if worker.process is None or worker.process.poll() is not None:
            raise AssertionError(f"yswd worker died:\n{worker.log_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}: {_positions(url)}")
        time.sleep(0.05)


def _positions(database_url: str) -> dict[str, int]:
    """Every reader's committed position (its tracking row), once it has one."""
    try:
        rows = _query(database_url, "SELECT name, position FROM projection_tracking")
        relay = _query(database_url, "SELECT position FROM relay_position WHERE name = 'nats'")
    except psycopg.errors.UndefinedTable:
        return {}  # not created yet
    found = {str(name): int(position) for name, position in rows}
    if relay:
        found["nats relay"] = int(relay[0][0])
    return found


def _all_following(database_url: str, at_least: int) -> bool:
    positions = _positions(database_url)
    expected = {*PROBES, "nats relay", "staff_items"}
    return expected <= positions.keys() and min(positions.values()) >= at_least


def _stream_positions(nats_url: str) -> list[int]:
    """The ``position`` of every message in the stream, in stream order."""

    async def read() -> list[int]:
        import nats
        from nats.js.api import DeliverPolicy

        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            info = await js.stream_info("YSWD_EVENTS")
            total = info.state.messages
            found: list[int] = []
            sub = await js.subscribe(
                "yswd.events.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
            try:
                while len(found) < total:
                    msg = await sub.next_msg(timeout=5)
                    found.append(int(json.loads(msg.data)["position"]))
            finally:
                await sub.unsubscribe()
            return found
        finally:
            await nc.close()

    return asyncio.run(read())


@contextmanager
def _children(processes: Sequence[Any]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()


def run_scenario(
    postgres: Postgres,
    nats: Nats,
    work_dir: Path,
    *,
    database: str,
    writers: int = 16,
    saves_per_writer: int = 24,
    no_lock: bool = False,
) -> Observation:
    """Race ``writers`` processes (delayed commits) against the tailing readers."""
    started = time.monotonic()
    postgres.psql(f"CREATE DATABASE {database} OWNER {postgres.user}")
    url = postgres.url.rsplit("/", 1)[0] + f"/{database}"
    data_dir = work_dir / "data"

    setup = FORK.Process(target=_set_up, args=(url, data_dir), name="gap-setup")
    setup.start()
    setup.join(120)
    assert setup.exitcode == 0, f"set-up failed ({setup.exitcode})"
    setup_head = int(_query(url, f"SELECT max(notification_id) FROM {EVENTS_TABLE}")[0][0])
    # the injected delay: between INSERT and COMMIT of every save, for every writer
    postgres.psql(DELAY_TRIGGER_SQL, database=database)

    stop, go = FORK.Event(), FORK.Event()
    results: Any = FORK.Queue()
    readies = [FORK.Event() for _ in PROBES]
    probes = [
        FORK.Process(target=_probe, args=(name, url, data_dir, stop, ready), name=name)
        for name, ready in zip(PROBES, readies, strict=True)
    ]
    writer_processes = [
        FORK.Process(
            target=_writer,
            args=(n, url, data_dir, saves_per_writer, no_lock, go, results),
            name=f"gap-writer-{n}",
        )
        for n in range(writers)
    ]
    worker = YswdProcess(
        args=["worker"],
        env=yswd_env(
            database_url=url,
            nats_url=nats.url,
            data_dir=str(data_dir),
            projection_poll_seconds=str(POLL_SECONDS),
            log_format="text",
        ),
        log_path=work_dir / "worker.log",
    )
    children = [*probes, *writer_processes]
    with _children(children):
        for process in children:  # forked before this process opens any connection
            process.start()
        worker.start()
        try:
            for ready in readies:
                assert ready.wait(60), "a probe did not start"
            # every reader has caught up with the set-up: each is tailing the log now
            _wait(
                "the readers to follow the log",
                lambda: _all_following(url, setup_head),
                60,
                worker,
                url,
            )
            write_started = time.monotonic()
            go.set()
            acknowledged: list[int] = []
            errors = []
            for _ in writer_processes:
                try:
                    _index, positions, error = results.get(timeout=120)
                except queue.Empty:
                    raise AssertionError("a writer did not finish") from None
                acknowledged.extend(positions)
                if error:
                    errors.append(error)
            write_seconds = time.monotonic() - write_started
            assert not errors, errors[0]
            head = int(_query(url, f"SELECT max(notification_id) FROM {EVENTS_TABLE}")[0][0])
            _wait(
                "every reader to reach the head of the log",
                lambda: _all_following(url, head),
                60,
                worker,
                url,
            )
            stop.set()
            for process in probes:
                process.join(20)
        finally:
            worker.stop()
    log_ids = [
        int(r[0]) for r in _query(url, f"SELECT notification_id FROM {EVENTS_TABLE} ORDER BY 1")
    ]
    observation = Observation(
        no_lock=no_lock, log=log_ids, acknowledged=sorted(acknowledged), write_seconds=write_seconds
    )
    for name in PROBES:
        rows = _query(url, f"SELECT position FROM {name}_seen ORDER BY seq")
        observation.seen[name] = [int(r[0]) for r in rows]
    observation.seen["nats relay"] = _stream_positions(nats.url)
    observation.item_versions = {
        str(oid).removeprefix("item:"): int(version)
        for oid, version in _query(
            url,
            f"SELECT originator_id, max(originator_version) FROM {EVENTS_TABLE} "
            "WHERE originator_id LIKE 'item:%' GROUP BY originator_id",
        )
    }
    observation.read_model_versions = {
        str(item): int(version)
        for item, version in _query(url, "SELECT item_id, version FROM rm_items")
    }
    observation.seconds = time.monotonic() - started
    return observation


def no_lock_requested() -> bool:
    return os.environ.get(NO_LOCK_ENV, "") not in ("", "0", "false", "no")
