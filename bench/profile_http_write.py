"""Where a POST /api/v1/items spends its time under load, inside the uvicorn worker.

    python -m bench.profile_http_write                       # 8 clients, 800 requests
    python -m bench.profile_http_write --clients 32 --requests 800
    PYTHONPATH=/tmp/other-tree/src:. python -m bench.profile_http_write   # another version

The server is B2's yswd server (``bench.server``) with wall-clock counters wrapped
around the few places a write can wait: a caller's whole stay in the group commit
(waiting for the group before, its turn, its own commit), each group's transaction,
SQLite's COMMIT (the fsync, and any WAL checkpoint SQLite runs inside it), each
read-model batch transaction of the projector, and every garbage-collector pass
(a full pass stops every thread). It prints their percentiles next to the clients'
latencies and the server's CPU time per request. Counters, not a profiler: their
cost is a clock read per call, so the figures are the ones B2 sees.
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.b2_http_write import AUTH, load, setup_yswd
from bench.common import ADMIN_TOKEN, ROOT, free_port, percentile, store_env, tempdir

TIMES: dict[str, list[float]] = {}


def _note(name: str, started: float) -> None:
    TIMES.setdefault(name, []).append((time.perf_counter() - started) * 1000)


def _timed(owner: Any, attribute: str, name: str) -> None:
    original: Callable[..., Any] = getattr(owner, attribute)

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _note(name, started)

    setattr(owner, attribute, timed)


def _instrument() -> None:
    import eventsourcing.sqlite

    from yswd.adapters import persistence
    from yswd.adapters.persistence import group_commit

    _timed(group_commit.GroupCommit, "__call__", "a caller in the group commit")
    _timed(group_commit.GroupCommit, "_commit", "a group's transaction")
    _timed(eventsourcing.sqlite.SQLiteConnection, "commit", "SQLite COMMIT (events)")
    batch = persistence.batch_transaction

    @contextmanager
    def timed_batch(engine: Any) -> Iterator[Any]:
        started = time.perf_counter()
        with batch(engine) as conn:
            yield conn
        _note("a projector batch transaction", started)

    persistence.batch_transaction = timed_batch  # type: ignore[assignment]
    began: dict[int, float] = {}

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[info["generation"]] = time.perf_counter()
        elif info["generation"] in began:
            _note(f"a GC pass, generation {info['generation']}", began[info["generation"]])

    gc.callbacks.append(on_gc)


def serve(port: int) -> None:
    """The child: B2's yswd server, instrumented, with two routes to read the counters."""
    import uvicorn

    _instrument()
    from bench.server import yswd_app

    app = yswd_app()

    @app.post("/bench/counters/reset")
    def reset() -> dict[str, int]:
        TIMES.clear()
        return {"unfrozen_objects": len(gc.get_objects()), "frozen": gc.get_freeze_count()}

    @app.get("/bench/counters")
    def counters() -> dict[str, list[float]]:
        return TIMES

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_http_write")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempdir("profile-http") as tmp:
        port = free_port()
        env = {**os.environ, **store_env(tmp / "yswd"), "YSWD_ADMIN_TOKEN": ADMIN_TOKEN}
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.profile_http_write", "--serve", str(port)],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(3000):
                try:
                    if httpx.get(f"{base}/bench/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            setup_yswd(base)
            url = f"{base}/api/v1/items"
            load(url, 8, 64, AUTH)  # warm up
            heap = httpx.post(f"{base}/bench/counters/reset", timeout=30).json()
            cpu = cpu_seconds(child.pid)
            figures = load(url, args.clients, args.requests, AUTH)
            cpu = cpu_seconds(child.pid) - cpu
            times: dict[str, list[float]] = httpx.get(f"{base}/bench/counters", timeout=30).json()
        finally:
            child.terminate()
            child.wait(timeout=30)
    print(
        f"{args.clients} clients, {args.requests} POSTs: {figures['rps']:.0f} req/s, "
        f"p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms; server CPU "
        f"{1000 * cpu / args.requests:.2f} ms a request; objects the GC walks "
        f"{heap['unfrozen_objects']:,} (frozen {heap['frozen']:,})"
    )
    print(f"{'wall ms':<34} {'count':>6} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7} {'total':>8}")
    for name, values in sorted(times.items()):
        print(
            f"{name:<34} {len(values):>6} {percentile(values, 50):>7.1f} "
            f"{percentile(values, 90):>7.1f} {percentile(values, 99):>7.1f} "
            f"{max(values):>7.1f} {sum(values):>8.0f}"
        )


if __name__ == "__main__":
    main()
