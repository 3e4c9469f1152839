"""B2: POST /api/v1/items throughput, p50 and p99, at 8 and 32 concurrent clients.

yswd: the real app under uvicorn on 127.0.0.1 (embedded SQLite, projections in
process; a 201 waits for its commit, not for the read models). Baseline, same run: a bare FastAPI
route under the same uvicorn settings that validates a similar body and does a raw
eventsourcing ``Application.save``. Clients are httpx in threads, a bounded number
of requests per level, split into rounds in which the two sides take turns.
"""

from __future__ import annotations

import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from bench.common import ADMIN_TOKEN, Report, percentile, server, tempdir

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BODY = {
    "forum_id": "ward-cm",
    "channel": "community_meeting",
    "raised_on": "2024-01-08",
    "title": "Evening food",
    "you_said": "There is nothing to eat after six in the evening.",
    "themes": ["food"],
}


def timed_posts(
    url: str, clients: int, total: int, headers: dict[str, str]
) -> tuple[list[float], float]:
    """``total`` POSTs from ``clients`` threads: their latencies (ms) and the wall time (s).

    The clock starts once every client is connected and ready: each opens its
    connection with a GET of ``/bench/ready`` first (an ``httpx.Client`` connects on
    its first request, and until session 6 that was a timed POST: at 32 clients,
    32 connections opened at once in every part made most of the p99).

    The load generator's own garbage collector is off while the clock runs (and a
    full pass is made before it starts): the 32 client threads share one GIL, and a
    full pass over httpx's garbage stopped every one of them for 100-200 ms, which
    timed every request in flight as that much slower, on whichever side was being
    measured. Until session 7 that was the 32-client p99 (the servers had no pass
    at those moments; the client had).
    """
    per = max(total // clients, 1)
    pool_clients = [httpx.Client(headers=headers, timeout=60) for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    ready = str(httpx.URL(url).copy_with(path="/bench/ready"))

    def worker(client: httpx.Client) -> list[float]:
        times = []
        client.get(ready).raise_for_status()
        start.wait()
        for _ in range(per):
            t0 = time.perf_counter()
            r = client.post(url, json=BODY)
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 201:
                raise RuntimeError(f"POST {url} -> {r.status_code}: {r.text[:200]}")
        return times

    gc.collect()
    gc.disable()
    try:
        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(worker, client) for client in pool_clients]
            start.wait()
            t0 = time.perf_counter()
            latencies = [t for future in futures for t in future.result()]
            wall = time.perf_counter() - t0
    finally:
        gc.enable()
        for client in pool_clients:
            client.close()
    return latencies, wall


def summary(latencies: list[float], wall: float) -> dict[str, float]:
    return {
        "rps": len(latencies) / wall,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


def load(url: str, clients: int, total: int, headers: dict[str, str]) -> dict[str, float]:
    """``total`` POSTs from ``clients`` threads: throughput, p50 and p99."""
    return summary(*timed_posts(url, clients, total, headers))


def alternated(
    sides: dict[str, tuple[str, dict[str, str]]], clients: int, total: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Each side's ``total`` POSTs in ``rounds`` parts, the sides taking turns (the
    first side alternating), so a noisy neighbour's burst falls on both alike.
    Throughput is all of a side's requests over the sum of its parts' wall time;
    p50 and p99 are over all of its latencies."""
    part = max(total // rounds, clients)
    seen: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in sides}
    names = list(sides)
    for round_ in range(rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            url, headers = sides[name]
            latencies, wall = timed_posts(url, clients, part, headers)
            so_far, walls = seen[name]
            seen[name] = (so_far + latencies, walls + wall)
    return {name: summary(*seen[name]) for name in names}


def setup_yswd(base: str) -> None:
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as c:
        for unit in (
            {"id": "trust", "name": "Trust"},
            {"id": "ward", "name": "Ward", "parent_id": "trust"},
        ):
            r = c.post("/api/v1/units", json=unit)
            assert r.status_code == 201, r.text
        r = c.post(
            "/api/v1/forums",
            json={
                "id": "ward-cm",
                "name": "Ward meeting",
                "unit_id": "ward",
                "kind": "community_meeting",
            },
        )
        assert r.status_code == 201, r.text


def run(quick: bool, requests: int | None = None, rounds: int = 4) -> Report:
    total = requests or (96 if quick else 400)
    report = Report("B2", f"POST /api/v1/items, {total} requests per level in {rounds} rounds")
    print(f"B2 {report.title}", flush=True)
    levels = (8, 32)
    with tempdir("b2") as tmp:
        results: dict[str, dict[int, dict[str, float]]] = {"yswd": {}, "bare": {}}
        # Both servers up at once, levels and sides alternated, so noise hits both alike.
        with server("bare", tmp / "bare") as bare, server("yswd", tmp / "yswd") as real:
            setup_yswd(real)
            sides = {"bare": (f"{bare}/raw/items", {}), "yswd": (f"{real}/api/v1/items", AUTH)}
            load(sides["bare"][0], 8, 32, {})  # warm up
            load(sides["yswd"][0], 8, 32, AUTH)
            for c in levels:
                for name, figures in alternated(sides, c, total, rounds).items():
                    results[name][c] = figures
    for c in levels:
        y: Any = results["yswd"][c]
        b: Any = results["bare"][c]
        report.add(f"{c} clients: throughput", y["rps"], b["rps"], "req/s")
        report.add(f"{c} clients: p50 latency", y["p50"], b["p50"], "ms")
        report.add(f"{c} clients: p99 latency", y["p99"], b["p99"], "ms")
    return report
