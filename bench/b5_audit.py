"""B5: one item's history as_of at a small and a big store; full-chain verify vs a scan.

yswd: GET /api/v1/items/{id}/history?as_of=... for the first item raised (the same
item in both stores, since the generator is seeded), small store vs big store: the growth
should be near 1 (reading one item must not depend on the size of the store).
And GET /api/v1/audit/verify (events checked per second) vs the raw scan of the
notification log measured by B3's child on the same big store.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from bench.b3_rebuild import measure as scan_measure
from bench.common import ADMIN_TOKEN, Report, percentile, server, timed_gets
from bench.generate import first_item_id

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def history(data_dir: Path, item_id: str, n: int) -> tuple[float, float] | None:
    with server("yswd", data_dir) as base, httpx.Client(base_url=base, timeout=60) as c:
        url = f"/api/v1/items/{item_id}/history"
        params = {"as_of": "2030-01-01T00:00:00+00:00"}
        first = c.get(url, headers=AUTH, params=params)
        if first.status_code == 404 and "history" not in str(c.get("/openapi.json").json()):
            return None
        if first.status_code != 200:
            raise RuntimeError(f"GET {url} -> {first.status_code}: {first.text[:200]}")
        times = timed_gets(c, url, n, headers=AUTH, params=params)
        return percentile(times, 50), percentile(times, 99)


def verify(data_dir: Path) -> tuple[float, int] | None:
    with server("yswd", data_dir) as base, httpx.Client(base_url=base, timeout=600) as c:
        t0 = time.perf_counter()
        r = c.get("/api/v1/audit/verify", headers=AUTH)
        elapsed = time.perf_counter() - t0
        if r.status_code == 404:
            return None
        body = r.json()
        if r.status_code != 200 or not body.get("ok"):
            raise RuntimeError(f"verify -> {r.status_code}: {r.text[:200]}")
        return int(body["events_checked"]) / elapsed, int(body["events_checked"])


def run(quick: bool, small: Path, big: Path, sizes: tuple[int, int]) -> Report:
    n = 50 if quick else 200
    report = Report("B5", f"history as_of at {sizes[0]:,} vs {sizes[1]:,} items; verify")
    print(f"B5 {report.title}", flush=True)
    item_id = first_item_id()
    at_small = history(small, item_id, n)
    at_big = history(big, item_id, n)
    if at_small is None or at_big is None:
        report.note("history endpoint not present, skipped")
    else:
        report.add("history p50: big store vs small store", at_big[0], at_small[0], "ms")
        report.add("history p99: big store vs small store", at_big[1], at_small[1], "ms")
    checked = verify(big)
    if checked is None:
        report.note("verify endpoint not present, skipped")
    else:
        scan = scan_measure("scan", big)
        report.add(
            f"verify over {checked[1]:,} events vs raw scan", checked[0], scan["rate"], "events/s"
        )
    return report
