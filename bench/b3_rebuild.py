"""B3: projection rebuild from scratch vs a raw scan of the notification log.

yswd: ``container.runner.rebuild()`` (drops every read model and replays the log).
Scan and rebuild are alternated three times and the best rate of each is kept.
Baselines, same run and same store: eventsourcing's own scan
(``app.recorder.select_notifications`` in batches of 500 plus
``app.mapper.to_domain_event`` for each), and the floor (issue 19): a plain
``sqlite3`` scan of the stored events that JSON-decodes each one's state (after
its 32-byte seal), with no domain objects at all. On PostgreSQL the floor is
the same scan with psycopg. Each side runs in its own child process so that its
peak memory (``ru_maxrss``) is its own.

    python -m bench.b3_rebuild KIND DIR     # one run: raw, scan, rebuild, or domain
    python -m bench.b3_rebuild compare DIR --before /tmp/old/src [--pg] [--events N]
    python -m bench.b3_rebuild compare DIR --pg --from-sqlite /tmp/s1m [--pg-dir /tmp/pg]

``domain`` is the rebuild without the bulk scan (the library's scan and the
domain's fold, as before session 5); ``compare`` alternates raw, scan, the
``--before`` tree's rebuild and this tree's (or ``--after``'s), one JSON line
per run. ``--from-sqlite`` fills the PostgreSQL store by copying an embedded
store (:mod:`bench.pg_load`: 20 s for 1M events, and 30 s to check the copy)
instead of generating it through the application (~40 minutes); ``--pg-dir``
keeps the cluster in that folder, so a later run finds the copy already there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bench import pg_load
from bench.common import PG_ENV, ROOT, Report, free_port, pg_database, store_settings, tempdir
from bench.generate import generate
from yswd.adapters.persistence import SQLITE_FILE
from yswd.bootstrap import build

if TYPE_CHECKING:
    from tests.integration.servers import Postgres

BATCH = 500
ROUNDS = 3
#: the stored state starts with a 32-byte seal (``yswd.adapters.crypto.SEAL_SIZE``)
SEAL = 32


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (user and system).

    Steadier than the wall clock on this machine, whose speed moved by 40% within an
    hour in session 11; a rebuild's other processes are waited for, so they count
    (PostgreSQL's server processes are not this process's children, and do not).
    """
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def child(kind: str, data_dir: Path) -> dict[str, float]:
    container = build(store_settings(data_dir))
    try:
        app = container.app
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu0 = cpu_seconds()
        t0 = time.perf_counter()
        if kind == "rebuild":
            count = container.runner.rebuild()
        elif kind == "single":  # the rebuild in one process (no second one for the chain)
            container.runner.helper = None
            count = container.runner.rebuild()
        elif kind == "domain":  # the rebuild through the library's scan and the domain fold
            runner = container.runner
            if hasattr(runner, "bulk"):
                runner.bulk = None
            count = runner.rebuild()
        elif kind == "raw":
            count = raw_scan(container.settings.database_url, data_dir)
        else:
            count, start = 0, 1
            while True:
                batch = app.recorder.select_notifications(start=start, limit=BATCH)
                if not batch:
                    break
                for notification in batch:
                    app.mapper.to_domain_event(notification)
                count += len(batch)
                start = batch[-1].id + 1
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds() - cpu0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # a rebuild's own processes (folding ahead, the chain apart): the largest of them
        helpers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return {
            "events": count,
            "seconds": elapsed,
            "rate": count / elapsed,
            "cpu_s": cpu,
            "peak_mb": peak / 1024,
            "base_mb": base_rss / 1024,
            "helper_peak_mb": helpers / 1024,
        }
    finally:
        container.close()


def raw_scan(database_url: str | None, data_dir: Path) -> int:
    """Read every stored event's state and JSON-decode it: the floor of any rebuild."""
    count = 0
    if database_url:
        import psycopg

        query = (
            "SELECT notification_id, state FROM yswd_events WHERE notification_id > %s "
            "ORDER BY notification_id LIMIT %s"
        )
        with psycopg.connect(database_url) as pg:
            last = 0
            while True:
                rows = pg.execute(query, (last, BATCH * 10)).fetchall()
                if not rows:
                    return count
                for _, state in rows:
                    json.loads(bytes(state)[SEAL:])
                count += len(rows)
                last = rows[-1][0]
    conn = sqlite3.connect(data_dir / "yswd.sqlite3")
    try:
        last = 0
        query = "SELECT rowid, state FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT ?"
        while True:
            rows = conn.execute(query, (last, BATCH * 10)).fetchall()
            if not rows:
                return count
            for _, state in rows:
                json.loads(state[SEAL:])
            count += len(rows)
            last = rows[-1][0]
    finally:
        conn.close()


def measure(kind: str, data_dir: Path, src: Path | None = None) -> dict[str, float]:
    """One ``kind`` in a child process; ``src``: run it with that tree's ``yswd`` instead.

    Without ``src`` it is this tree's ``src``, named as well: the installed
    package may point elsewhere.
    """
    src = src or ROOT / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, "-m", "bench.b3_rebuild", kind, str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode != 0:  # say why: the child's output is captured
        raise RuntimeError(f"{kind} in {src} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def fill_from_sqlite(data_dir: Path, source: Path) -> None:
    """Copy ``source`` into the PostgreSQL database standing for ``data_dir`` (once).

    Prints the load's figures and the check that both stores hold the same data
    as JSON lines; a database already holding exactly ``source``'s events
    (``--pg-dir`` on a later run) is only checked by count.
    """
    url = pg_database(data_dir)
    if url is None:
        raise SystemExit("--from-sqlite needs --pg")
    held, last = pg_load.stored_count(url)
    if held:
        wanted = sqlite_count(source)
        if (held, last) != wanted:
            raise SystemExit(
                f"the PostgreSQL store holds {held:,} events up to {last:,}, "
                f"{source} holds {wanted[0]:,} up to {wanted[1]:,}: use another --pg-dir"
            )
        print(json.dumps({"run": "load", "events": held, "last_id": last, "reused": True}))
        return
    load = os.getloadavg()[0]
    loaded = pg_load.load(source, url)
    print(
        json.dumps(
            {
                "run": "load",
                "load": round(load, 1),
                "events": loaded.events,
                "keys": loaded.keys,
                "seconds": round(loaded.seconds, 1),
                "rate": round(loaded.rate),
            }
        ),
        flush=True,
    )
    print(json.dumps({"run": "check", **pg_load.check(source, url)}), flush=True)


def sqlite_count(source: Path) -> tuple[int, int]:
    conn = pg_load.open_sqlite(source / SQLITE_FILE)
    try:
        row = conn.execute("SELECT count(*), coalesce(max(rowid), 0) FROM stored_events").fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1])


def compare(
    data_dir: Path,
    before: Path | None,
    rounds: int,
    events: int | None,
    from_sqlite: Path | None = None,
    after: Path | None = None,
    single: bool = False,
) -> None:
    """Before and after on one store, alternated: ``python -m bench.b3_rebuild compare DIR``.

    Each round runs the plain scan-and-decode, eventsourcing's scan, the rebuild of
    the ``--before`` tree (a copy of ``src`` from before a change) and this tree's
    rebuild (or ``--after``'s: a copy, when others edit this tree meanwhile), each
    in its own process, and prints one JSON line per run with the 1-minute load
    average when it started. ``--pg`` puts the store in a private
    PostgreSQL cluster started for the length of the command; ``--events`` fills an
    empty store first, ``--from-sqlite`` copies one into PostgreSQL; ``--single`` adds
    this tree's rebuild without its second process (``ProjectionRunner.helper``).
    """
    if from_sqlite is not None:
        fill_from_sqlite(data_dir, from_sqlite)
    elif events and not (data_dir / "generated").exists():
        # throw-away data: on PostgreSQL the generator's commits skip the WAL flush
        # (as ``generate`` turns SQLite's synchronous off); the runs below do not
        os.environ["PGOPTIONS"] = "-c synchronous_commit=off"
        try:
            generate(data_dir, events=events)
        finally:
            os.environ.pop("PGOPTIONS", None)
        (data_dir / "generated").write_text(str(events))
    kinds: list[tuple[str, str, Path | None]] = [("raw", "raw", None), ("scan", "scan", None)]
    if before is not None:
        kinds.append(("rebuild before", "rebuild", before))
    kinds.append(("rebuild", "rebuild", after))
    if single:
        kinds.append(("rebuild, one process", "single", after))
    for round_ in range(1, rounds + 1):
        for label, kind, src in kinds:
            load = os.getloadavg()[0]
            result = measure(kind, data_dir, src)
            print(json.dumps({"round": round_, "run": label, "load": round(load, 1), **result}))


def main(argv: list[str]) -> None:
    if argv[0] != "compare":
        print(json.dumps(child(argv[0], Path(argv[1]))))
        return
    parser = argparse.ArgumentParser(prog="python -m bench.b3_rebuild compare")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--before", type=Path, help="a src tree to run as 'before'")
    parser.add_argument("--after", type=Path, help="a src tree to run as 'rebuild' (this one's)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--events", type=int, help="generate this many events first")
    parser.add_argument("--pg", action="store_true", help="the store in a private PostgreSQL")
    parser.add_argument(
        "--from-sqlite", type=Path, metavar="DIR", help="with --pg: copy this embedded store in"
    )
    parser.add_argument(
        "--pg-dir", type=Path, metavar="DIR", help="with --pg: keep the cluster here across runs"
    )
    parser.add_argument(
        "--single", action="store_true", help="also this tree's rebuild in one process"
    )
    args = parser.parse_args(argv[1:])
    if (args.from_sqlite or args.pg_dir) and not args.pg:
        parser.error("--from-sqlite and --pg-dir need --pg")
    if args.from_sqlite and args.events:
        parser.error("give --events or --from-sqlite, not both")
    run_compare = partial(
        compare,
        args.data_dir,
        args.before,
        args.rounds,
        args.events,
        args.from_sqlite,
        args.after,
        args.single,
    )
    if not args.pg:
        run_compare()
        return
    from tests.integration.servers import running_postgres

    cluster = kept_postgres(args.pg_dir) if args.pg_dir else running_postgres()
    with cluster as pg:
        pg.psql(f"ALTER ROLE {pg.user} CREATEDB")
        os.environ[PG_ENV] = pg.url
        run_compare()


@contextmanager
def kept_postgres(root: Path) -> Iterator[Postgres]:
    """A private cluster in ``root`` that outlives the run: made once, started, stopped.

    ``tests.integration.servers.running_postgres`` deletes its cluster afterwards;
    this one keeps it (with its password in ``root/cluster.json``), so a copied
    1M-event store is loaded once and measured many times.
    """
    from tests.integration.servers import PG_BIN, Postgres, _as_postgres

    data_dir, socket_dir, saved = root / "data", root / "sock", root / "cluster.json"
    fresh = not (data_dir / "PG_VERSION").exists()
    if fresh:
        if root.exists() and any(root.iterdir()):
            raise SystemExit(f"{root} is not empty and holds no cluster")
        for folder in (root, data_dir, socket_dir):
            folder.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:  # PostgreSQL runs as its own user (see servers.py)
                shutil.chown(folder, "postgres", "postgres")
        initdb = [str(PG_BIN / "initdb"), "-D", str(data_dir), "-A", "scram-sha-256"]
        initdb += ["--auth-local=trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]
        subprocess.run(_as_postgres(initdb), check=True, capture_output=True)
        password = secrets.token_hex(12)
    elif saved.exists():
        password = json.loads(saved.read_text())["password"]
    else:
        raise SystemExit(f"{saved} is missing: delete {root} and start again")
    server = Postgres(
        port=free_port(),
        data_dir=data_dir,
        socket_dir=socket_dir,
        database="yswd",
        user="yswd",
        password=password,
    )
    server.start()
    try:
        if fresh:
            server.psql(f"CREATE ROLE {server.user} LOGIN PASSWORD '{password}'")
            server.psql(f"CREATE DATABASE {server.database} OWNER {server.user}")
            saved.write_text(json.dumps({"password": password}))
        yield server
    finally:
        server.stop("fast")


def run(quick: bool, events: int | None = None, data_dir: Path | None = None) -> Report:
    n = events or (5_000 if quick else 40_000)
    size = f"~{n:,} events" if data_dir is None else "the big store"
    report = Report("B3", f"projection rebuild from scratch over {size}")
    print(f"B3 {report.title}", flush=True)
    with tempdir("b3") as tmp:
        store = data_dir or tmp / "store"
        if data_dir is None:
            generate(store, events=n)
        # alternated, best of each: the machine is shared, and a neighbour's burst
        # during one side would otherwise decide the ratio
        scans, rebuilds, raws = [], [], []
        for _ in range(ROUNDS):
            scans.append(measure("scan", store))
            raws.append(measure("raw", store))
            rebuilds.append(measure("rebuild", store))
        scan = max(scans, key=lambda m: m["rate"])
        raw = max(raws, key=lambda m: m["rate"])
        rebuilt = max(rebuilds, key=lambda m: m["rate"])
    report.add("rebuild vs raw log scan", rebuilt["rate"], scan["rate"], "events/s")
    report.add("rebuild vs plain scan-and-decode", rebuilt["rate"], raw["rate"], "events/s")
    report.add("peak RSS, rebuild vs scan", rebuilt["peak_mb"], scan["peak_mb"], "MB")
    if rebuilt["helper_peak_mb"]:  # a small rebuild starts no other process
        report.add(
            "peak RSS, the rebuild's other process vs scan",
            rebuilt["helper_peak_mb"],
            scan["peak_mb"],
            "MB",
        )
    every_rebuild = ", ".join(f"{m['rate']:,.0f}" for m in rebuilds)
    every_scan = ", ".join(f"{m['rate']:,.0f}" for m in scans)
    every_raw = ", ".join(f"{m['rate']:,.0f}" for m in raws)
    report.note(
        f"{int(rebuilt['events']):,} events; best of {ROUNDS} alternated runs each: rebuild "
        f"{rebuilt['seconds']:.2f}s, {rebuilt['cpu_s']:.2f} CPU-s "
        f"(all: {every_rebuild} events/s), scan "
        f"{scan['seconds']:.2f}s (all: {every_scan} events/s), plain scan-and-decode "
        f"{raw['seconds']:.2f}s (all: {every_raw} events/s); "
        f"RSS after start-up {rebuilt['base_mb']:.0f} MB"
    )
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
