"""B2: POST /api/v1/items throughput, p50 and p99, at 8 and 32 concurrent clients.

yswd: the real app under uvicorn on 127.0.0.1 (embedded SQLite, projections in
process, so each 201 waits for the read models). Baseline, same run: a bare FastAPI
route under the same uvicorn settings that validates a similar body and does a raw
eventsourcing ``Application.save``. Clients are httpx in threads, a bounded number
of requests per level.
"""

from __future__ import annotations

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


def load(url: str, clients: int, total: int, headers: dict[str, str]) -> dict[str, float]:
    """``total`` POSTs from ``clients`` threads; the clock starts once all are connected."""
    per = max(total // clients, 1)
    pool_clients = [httpx.Client(headers=headers, timeout=60) for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def worker(client: httpx.Client) -> list[float]:
        times = []
        start.wait()
        for _ in range(per):
            t0 = time.perf_counter()
            r = client.post(url, json=BODY)
            times.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 201:
                raise RuntimeError(f"POST {url} -> {r.status_code}: {r.text[:200]}")
        return times

    try:
        with ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(worker, client) for client in pool_clients]
            start.wait()
            t0 = time.perf_counter()
            latencies = [t for future in futures for t in future.result()]
            wall = time.perf_counter() - t0
    finally:
        for client in pool_clients:
            client.close()
    return {
        "rps": len(latencies) / wall,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
    }


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


def run(quick: bool, requests: int | None = None) -> Report:
    total = requests or (96 if quick else 400)
    report = Report("B2", f"POST /api/v1/items, {total} requests per level")
    print(f"B2 {report.title}", flush=True)
    levels = (8, 32)
    with tempdir("b2") as tmp:
        results: dict[str, dict[int, dict[str, float]]] = {"yswd": {}, "bare": {}}
        # Both servers up at once, levels alternated, so noise hits both alike.
        with server("bare", tmp / "bare") as bare, server("yswd", tmp / "yswd") as real:
            setup_yswd(real)
            load(f"{bare}/raw/items", 8, 32, {})  # warm up
            load(f"{real}/api/v1/items", 8, 32, AUTH)
            for c in levels:
                results["bare"][c] = load(f"{bare}/raw/items", c, total, {})
                results["yswd"][c] = load(f"{real}/api/v1/items", c, total, AUTH)
    for c in levels:
        y: Any = results["yswd"][c]
        b: Any = results["bare"][c]
        report.add(f"{c} clients: throughput", y["rps"], b["rps"], "req/s")
        report.add(f"{c} clients: p50 latency", y["p50"], b["p50"], "ms")
        report.add(f"{c} clients: p99 latency", y["p99"], b["p99"], "ms")
    return report
