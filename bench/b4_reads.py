"""B4: staff list, public board and metrics reads at a small and a big store.

yswd: GET /api/v1/items?limit=50 (staff list), GET /public/api/v1/boards/{unit}
and GET /public/api/v1/metrics?unit_id={unit}, on the real app under uvicorn, for
the region (every item) and for one ward of the 48 (a 48th of them, found by the
unit-path index rather than by reading every row).
Baseline, same server and run: the same response bytes, precomputed once and
served from memory by a route added to that app (``/bench/static/...``).
Reports p50/p99 ms at each size and the growth (big p50 / small p50).

Each public answer is then measured again computed afresh (``afresh``: the answer
cache keeps nothing, as when writes under the unit keep renewing it), fewer times,
with the public board and metrics pages: what a miss costs a replica.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.common import ADMIN_TOKEN, Report, percentile, server, timed_gets

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
UNIT = "region"
WARD = "trust-1-h1-w1"  # one of bench.generate's 48 wards


def endpoints() -> dict[str, tuple[str, dict[str, str]]]:
    return {
        "staff list": ("/api/v1/items?limit=50", AUTH),
        "public board": (f"/public/api/v1/boards/{UNIT}", {}),
        "public metrics": (f"/public/api/v1/metrics?unit_id={UNIT}", {}),
        "ward staff list": (f"/api/v1/items?unit_id={WARD}&limit=50", AUTH),
        "ward board": (f"/public/api/v1/boards/{WARD}", {}),
        "ward metrics": (f"/public/api/v1/metrics?unit_id={WARD}", {}),
    }


#: the public answers measured again computed afresh, with their pages
AFRESH = {
    "public board": f"/public/api/v1/boards/{UNIT}",
    "public board page": f"/public/boards/{UNIT}",
    "public metrics": f"/public/api/v1/metrics?unit_id={UNIT}",
    "public metrics page": f"/public/metrics/{UNIT}",
    "ward board": f"/public/api/v1/boards/{WARD}",
    "ward board page": f"/public/boards/{WARD}",
    "ward metrics": f"/public/api/v1/metrics?unit_id={WARD}",
    "ward metrics page": f"/public/metrics/{WARD}",
}


def measure(data_dir: Path, n: int) -> dict[str, dict[str, float]]:
    """For each endpoint that exists: p50/p99 of yswd and of its static twin, in ms."""
    found: dict[str, dict[str, float]] = {}
    with server("yswd", data_dir) as base, httpx.Client(base_url=base, timeout=60) as c:
        for i, (name, (path, headers)) in enumerate(endpoints().items()):
            first = c.get(path, headers=headers)
            if first.status_code == 404 and "api/v1" in path and name != "staff list":
                probe = c.get("/openapi.json").json()["paths"]
                if not any(p.startswith(path.split("{")[0].split("?")[0]) for p in probe):
                    continue  # the endpoint is not built yet
            timed_gets(c, path, 10, headers=headers)  # warm up
            found[name] = series(c, first, f"/bench/static/{i}", n // 20, 20, headers)
        c.put("/bench/answer-cache/0")
        for i, (name, path) in enumerate(AFRESH.items()):
            found[f"{name} afresh"] = series(
                c, c.get(path), f"/bench/static/afresh-{i}", max(1, n // 100), 5, {}
            )
    return found


def series(
    c: httpx.Client,
    first: httpx.Response,
    twin: str,
    blocks: int,
    block: int,
    headers: dict[str, str],
) -> dict[str, float]:
    """``first``'s GET again, in ``blocks`` of ``block`` alternated with its bytes served
    from memory at ``twin`` (so noise hits both alike): p50/p99 of each, in ms."""
    path = str(first.request.url.raw_path, "ascii")
    if first.status_code != 200:
        raise RuntimeError(f"GET {path} -> {first.status_code}: {first.text[:200]}")
    c.put(twin, content=first.content)
    timed_gets(c, twin, 10)  # warm up
    yswd: list[float] = []
    static: list[float] = []
    for _ in range(blocks):
        yswd += timed_gets(c, path, block, headers=headers)
        static += timed_gets(c, twin, block)
    return {
        "p50": percentile(yswd, 50),
        "p99": percentile(yswd, 99),
        "s50": percentile(static, 50),
        "s99": percentile(static, 99),
        "bytes": len(first.content),
    }


def run(quick: bool, small: Path, big: Path, sizes: tuple[int, int]) -> Report:
    n = 100 if quick else 400
    report = Report("B4", f"reads at {sizes[0]:,} vs {sizes[1]:,} items, {n} GETs each")
    print(f"B4 {report.title}", flush=True)
    at_small = measure(small, n)
    at_big = measure(big, n)
    for name in [*endpoints(), *(f"{name} afresh" for name in AFRESH)]:
        if name not in at_small:
            report.note(f"{name}: endpoint not present, skipped")
            continue
        s, b = at_small[name], at_big[name]
        report.add(f"{name} @{sizes[0]:,}: p50 vs static", s["p50"], s["s50"], "ms")
        report.add(f"{name} @{sizes[0]:,}: p99 vs static", s["p99"], s["s99"], "ms")
        report.add(f"{name} @{sizes[1]:,}: p50 vs static", b["p50"], b["s50"], "ms")
        report.add(f"{name} @{sizes[1]:,}: p99 vs static", b["p99"], b["s99"], "ms")
        report.add(
            f"{name}: growth p50 big/small vs static's",
            b["p50"] / s["p50"],
            b["s50"] / s["s50"],
            "x",
        )
        report.note(f"{name}: response {s['bytes']:,} B small, {b['bytes']:,} B big")
    return report
