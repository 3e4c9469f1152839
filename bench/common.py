"""Shared helpers: timing, percentiles, a raw eventsourcing baseline, servers."""

from __future__ import annotations

import hashlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from yswd.adapters.persistence import event_store_env
from yswd.settings import Settings

ADMIN_TOKEN = "bench-admin-token"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Report:
    """What one benchmark measured: rows of (what, yswd, baseline, unit)."""

    bench: str
    title: str
    rows: list[tuple[str, float, float | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, yswd: float, baseline: float | None, unit: str) -> None:
        self.rows.append((what, yswd, baseline, unit))
        print(
            f"  {what:<44} yswd {fmt(yswd):>10} {unit:<9} baseline "
            f"{fmt(baseline):>10}  ratio {ratio(yswd, baseline)}",
            flush=True,
        )

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def ratio(yswd: float, baseline: float | None) -> str:
    if not baseline:
        return "-"
    value = yswd / baseline
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextmanager
def tempdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"yswd-bench-{prefix}-") as name:
        yield Path(name)


# -- the raw eventsourcing baseline ------------------------------------------------


class Ticket(Aggregate):
    """An aggregate as simple as an item can be: the same four steps, no rules."""

    @event("Raised")
    def __init__(self, title: str, you_said: str, forum_id: str, raised_on: str) -> None:
        self.title = title
        self.you_said = you_said
        self.forum_id = forum_id
        self.raised_on = raised_on
        self.status = "raised"

    @event("Referred")
    def refer(self, to_unit_id: str, note: str) -> None:
        self.status = "referred"
        self.referred_to = to_unit_id

    @event("Responded")
    def respond(self, response: str) -> None:
        self.status = "responded"
        self.response = response

    @event("Completed")
    def complete(self, we_did: str) -> None:
        self.status = "done"
        self.we_did = we_did


class RawApp(Application[Any]):
    """Plain eventsourcing on the same SQLite file settings as yswd's store."""

    name = "raw"


# -- where a store lives: a SQLite data dir, or (B6) a PostgreSQL database -------------

#: set (to the URL of the bench cluster's first database) while B6 runs; inherited
#: by every child process, so each side of a benchmark finds the same database
PG_ENV = "YSWD_BENCH_PG_URL"


def pg_database(data_dir: Path) -> str | None:
    """B6: the PostgreSQL URL of the database standing for ``data_dir`` (made once)."""
    base = os.environ.get(PG_ENV)
    if not base:
        return None
    import psycopg

    name = "b_" + hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:16]
    with psycopg.connect(base, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def store_settings(data_dir: Path, **settings: Any) -> Settings:
    """Settings for a store at ``data_dir``, or in its PostgreSQL database during B6."""
    url = pg_database(data_dir)
    if url is not None:
        settings.setdefault("database_url", url)
        # projections inline, as in the embedded runs, so the figures compare
        settings.setdefault("run_projections", True)
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=data_dir, **settings)


def store_env(data_dir: Path) -> dict[str, str]:
    """The environment a child yswd process needs for the store at ``data_dir``."""
    env = {"YSWD_DATA_DIR": str(data_dir)}
    url = pg_database(data_dir)
    if url is not None:
        env.update(YSWD_DATABASE_URL=url, YSWD_RUN_PROJECTIONS="true")
    return env


def raw_env(data_dir: Path) -> dict[str, str]:
    """The same persistence settings yswd uses (durable pool, WAL, synchronous=FULL)."""
    env = event_store_env(store_settings(data_dir))
    env.pop("ORIGINATOR_ID_TYPE", None)  # Ticket uses the default UUID ids
    env.pop("MAPPER_TOPIC", None)  # plain eventsourcing mapper
    env["YSWD_GROUP_COMMIT"] = "no"  # the library's own save: one transaction each
    return env


def raw_app(data_dir: Path) -> RawApp:
    return RawApp(raw_env(data_dir))


# -- servers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(mode: str, data_dir: Path, *extra: str) -> Iterator[str]:
    """Run ``bench.server`` under uvicorn in its own process; yield its base URL."""
    port = free_port()
    env = {**os.environ, **store_env(data_dir), "YSWD_ADMIN_TOKEN": ADMIN_TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.server", mode, str(port), *extra],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/bench/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"bench server {mode} did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def timed_gets(client: httpx.Client, url: str, n: int, **kw: Any) -> list[float]:
    """Latencies in ms of ``n`` sequential GETs (each must answer 200)."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(url, **kw)
        times.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"GET {url} -> {r.status_code}: {r.text[:200]}")
    return times


def now_iso() -> str:
    return datetime.now().isoformat(timespec="seconds")
