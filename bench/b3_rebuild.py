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
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, Report, store_settings, tempdir
from bench.generate import generate
from yswd.bootstrap import build

BATCH = 500
ROUNDS = 3
#: the stored state starts with a 32-byte seal (``yswd.adapters.crypto.SEAL_SIZE``)
SEAL = 32


def child(kind: str, data_dir: Path) -> dict[str, float]:
    container = build(store_settings(data_dir))
    try:
        app = container.app
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        if kind == "rebuild":
            count = container.runner.rebuild()
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
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "events": count,
            "seconds": elapsed,
            "rate": count / elapsed,
            "peak_mb": peak / 1024,
            "base_mb": base_rss / 1024,
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
        with psycopg.connect(database_url) as conn:
            last = 0
            while True:
                rows = conn.execute(query, (last, BATCH * 10)).fetchall()
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


def measure(kind: str, data_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.b3_rebuild", kind, str(data_dir)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


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
    every_rebuild = ", ".join(f"{m['rate']:,.0f}" for m in rebuilds)
    every_scan = ", ".join(f"{m['rate']:,.0f}" for m in scans)
    every_raw = ", ".join(f"{m['rate']:,.0f}" for m in raws)
    report.note(
        f"{int(rebuilt['events']):,} events; best of {ROUNDS} alternated runs each: rebuild "
        f"{rebuilt['seconds']:.2f}s (all: {every_rebuild} events/s), scan "
        f"{scan['seconds']:.2f}s (all: {every_scan} events/s), plain scan-and-decode "
        f"{raw['seconds']:.2f}s (all: {every_raw} events/s); "
        f"RSS after start-up {rebuilt['base_mb']:.0f} MB"
    )
    return report


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], Path(sys.argv[2]))))
