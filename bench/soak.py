"""python -m bench.soak: the Locust soak (issue 19, R1), run and judged.

    python -m bench.soak                                  # 200 users, 10 minutes
    python -m bench.soak --users 20 --run-time 40s        # the short version
    python -m bench.soak --hosts http://127.0.0.1:8101,http://127.0.0.1:8102 \\
        --admin-token TOKEN --metrics-url http://127.0.0.1:9101/metrics   # a running topology
    python -m bench.soak --check-only OUT                 # judge an earlier run again

Without ``--hosts`` it starts ``scripts/dev-topology.sh up`` in its own folder and
ports (PostgreSQL, NATS, two ``yswd serve`` replicas, one ``yswd worker``), and
``down`` at the end. Then it runs ``bench/locustfile.py`` headless and checks:

1. no 5xx answer and no connection error;
2. p95 of each submit (``POST /api/v1/items``, gap-box suggestions) < 500 ms;
3. every item id the service acknowledged (201) is there afterwards: one
   ``GET /api/v1/items/{id}`` each, as the admin, on alternating replicas;
4. projection lag p99 < 5 s: for every acknowledged write, the time from its
   answer until the worker's ``/metrics`` showed every read model at or past
   its ``X-Yswd-Position`` (sampled every 0.2 s, so a figure is at most ~0.25 s high);
   the cross-replica ``?min_position=`` reads of the secretaries must all have
   found their item too.

It prints a table and writes ``OUT/summary.json`` and ``OUT/summary.md``; the
exit status is 0 when every criterion passes.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
TOPOLOGY = ROOT / "scripts" / "dev-topology.sh"

SUBMITS = (
    "POST /api/v1/items (submit)",
    "POST /public/api/v1/gap-boxes/[id]/suggestions (submit)",
)
P95_SUBMIT_MS = 500.0
LAG_P99_SECONDS = 5.0


# -- the topology ------------------------------------------------------------------


class Topology:
    """``scripts/dev-topology.sh`` in a private folder, on ports nobody else uses."""

    def __init__(self, directory: Path, base_port: int) -> None:
        self.dir = directory
        self.api_ports = [base_port + 1, base_port + 2]
        self.metrics_port = base_port + 3
        self.token = "soak-admin-" + secrets.token_hex(12)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("YSWD_")},
            "YSWD_TOPOLOGY_DIR": str(directory),
            "PG_PORT": str(base_port + 4),
            "NATS_PORT": str(base_port + 5),
            "API_PORTS": " ".join(map(str, self.api_ports)),
            "WORKER_METRICS_PORT": str(self.metrics_port),
            "YSWD_ADMIN_TOKEN": self.token,
            "YSWD_LOG_FORMAT": "json",
        }

    @property
    def hosts(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.api_ports]

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def run(self, action: str) -> str:
        done = subprocess.run(
            ["bash", str(TOPOLOGY), action],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            raise RuntimeError(f"dev-topology.sh {action} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        for host in self.hosts:
            while True:
                try:
                    if httpx.get(f"{host}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{host} is not ready")
                time.sleep(0.2)


# -- running Locust ------------------------------------------------------------------


def run_locust(args: argparse.Namespace, hosts: list[str], token: str, metrics_url: str) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "YSWD_SOAK_HOSTS": ",".join(hosts),
        "YSWD_SOAK_ADMIN_TOKEN": token,
        "YSWD_SOAK_METRICS_URL": metrics_url,
        "YSWD_SOAK_OUT": str(out),
        "YSWD_SOAK_BURST": args.burst,
        "YSWD_SOAK_ORG": str(out / "org.json"),
    }
    # the organisation (units, forums, staff, gap boxes, seed items) before the clock starts
    (out / "org.json").unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-m", "bench.locustfile", "setup", str(out / "org.json")],
        env=env,
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(args.users),
        "-r",
        str(args.spawn_rate),
        "-t",
        args.run_time,
        "--host",
        hosts[0],
        "--csv",
        str(out / "locust"),
        "--stop-timeout",
        "10",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    print("$", " ".join(command), flush=True)
    with (out / "locust.log").open("w") as log:
        done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    return done.returncode


# -- judging a run -------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[rank]


def lags(run: dict[str, Any], column: int) -> tuple[list[float], int]:
    """Seconds from each write's answer until the sampled position reached it.

    ``column`` 1 is the staff_items model, 2 the lowest of every read model. A write
    never reached by the end of sampling counts as (end - answer) and as unreached.
    """
    samples = run["samples"]
    times = [s[0] for s in samples]
    found: list[float] = []
    unreached = 0
    # the position reached by time t never goes down: a running maximum from each index
    reached = []
    best = 0
    for sample in samples:
        best = max(best, sample[column])
        reached.append(best)
    for answered, position, _kind in run["writes"]:
        start = bisect.bisect_left(times, answered)
        index = bisect.bisect_left(reached, position, lo=start)
        if index < len(samples):
            found.append(times[index] - answered)
        else:
            unreached += 1
            found.append((times[-1] if times else answered) - answered)
    return found, unreached


def check_items(run: dict[str, Any], token: str, threads: int = 8) -> tuple[int, list[str]]:
    hosts = run["hosts"]
    ids = sorted({item[0] for item in run["items"]})
    missing: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}

    def get(pair: tuple[int, str]) -> str | None:
        n, item_id = pair
        host = hosts[n % len(hosts)]
        for _attempt in range(3):
            try:
                response = httpx.get(f"{host}/api/v1/items/{item_id}", headers=headers, timeout=30)
            except httpx.HTTPError:
                time.sleep(1)
                continue
            return (
                None
                if response.status_code == 200 and response.json()["id"] == item_id
                else item_id
            )
        return item_id

    with ThreadPoolExecutor(threads) as pool:
        missing = [m for m in pool.map(get, enumerate(ids)) if m is not None]
    return len(ids), missing


def judge(out: Path, token: str | None) -> dict[str, Any]:
    run = json.loads((out / "soak-run.json").read_text())
    stats = {(s["method"], s["name"]): s for s in run["stats"]}
    statuses = run["statuses"]
    fivexx = sum(v for k, v in statuses.items() if k == "5xx")
    connection_errors = statuses.get("connection error", 0)
    submits = {name: stats.get(("POST", name)) for name in SUBMITS}
    all_lags, unreached_all = lags(run, 2)
    staff_lags, _ = lags(run, 1)
    visibility = run["visibility"]
    checked, missing = check_items(run, token) if token else (0, [])
    duration = run["run_ended"] - run["run_started"]
    summary: dict[str, Any] = {
        "duration_seconds": round(duration, 1),
        "users": run["users"],
        "requests": run["total"]["requests"],
        "failures": run["total"]["failures"],
        "rps": round(run["total"]["requests"] / duration, 1) if duration > 0 else None,
        "statuses": statuses,
        "5xx": fivexx,
        "connection_errors": connection_errors,
        "conflicts_409": run["conflicts"],
        "writes": len(run["writes"]),
        "acknowledged_items": checked,
        "missing_items": missing[:20],
        "missing_count": len(missing),
        "lag_p50_s": _round(percentile(all_lags, 0.50)),
        "lag_p99_s": _round(percentile(all_lags, 0.99)),
        "lag_max_s": _round(max(all_lags, default=None)),
        "staff_items_lag_p99_s": _round(percentile(staff_lags, 0.99)),
        "lag_unreached": unreached_all,
        "lag_samples": len(run["samples"]),
        "sampler_errors": run["sampler_errors"],
        "visibility_reads": len(visibility),
        "visibility_missed": sum(1 for seen, _ in visibility if not seen),
        "visibility_p99_s": _round(percentile([s for _, s in visibility], 0.99)),
        "submit_p95_ms": {n: (s or {}).get("p95_ms") for n, s in submits.items()},
        "setup_seconds": round(run["setup_seconds"], 1),
        "stats": run["stats"],
        "total": run["total"],
        "failures_by_kind": run["failures"],
    }
    checks = {
        "no 5xx": fivexx == 0,
        "no connection errors": connection_errors == 0,
        "p95 submit < 500 ms": all(
            s is not None and s["requests"] > 0 and s["p95_ms"] < P95_SUBMIT_MS
            for s in submits.values()
        ),
        "every acknowledged item present": token is not None and checked > 0 and not missing,
        "projection lag p99 < 5 s": bool(all_lags)
        and (percentile(all_lags, 0.99) or 0) < LAG_P99_SECONDS
        and len(run["samples"]) > 0,
        "every ?min_position= read saw its write": summary["visibility_missed"] == 0,
    }
    summary["checks"] = checks
    summary["passed"] = all(checks.values())
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(markdown(summary))
    return summary


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['users']} users, {summary['duration_seconds']} s: {summary['requests']:,} "
        f"requests ({summary['rps']} req/s), {summary['failures']} failures, "
        f"{summary['5xx']} 5xx, {summary['connection_errors']} connection errors, "
        f"409 conflicts (expected) {sum(summary['conflicts_409'].values())}.",
        "",
        "| request | requests | failures | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in [*summary["stats"], summary["total"]]:
        lines.append(
            f"| {s['name']} | {s['requests']:,} | {s['failures']} | "
            f"{s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['p99_ms']:.0f} | {s['max_ms']:.0f} |"
        )
    lines += [
        "",
        f"Projection lag (answer -> every read model applied it), over {summary['writes']:,} "
        f"writes: p50 {summary['lag_p50_s']} s, p99 {summary['lag_p99_s']} s, max "
        f"{summary['lag_max_s']} s (staff_items alone p99 {summary['staff_items_lag_p99_s']} s; "
        f"{summary['lag_unreached']} never reached; {summary['lag_samples']} samples).",
        f"Cross-replica `?min_position=` reads: {summary['visibility_reads']}, missed "
        f"{summary['visibility_missed']}, p99 {summary['visibility_p99_s']} s.",
        f"Acknowledged items checked afterwards: {summary['acknowledged_items']:,}, missing "
        f"{summary['missing_count']}.",
        "",
        "| criterion | result |",
        "|---|---|",
        *(f"| {name} | {'pass' if ok else 'FAIL'} |" for name, ok in summary["checks"].items()),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--run-time", default="10m")
    parser.add_argument("--out", default="soak-out")
    parser.add_argument(
        "--burst",
        default=None,
        help="gap-box burst windows: period,start,length in seconds (default 180,60,60; "
        "for runs under 3 minutes: one burst in the middle third)",
    )
    parser.add_argument("--hosts", help="comma-separated replicas of a running topology")
    parser.add_argument("--admin-token")
    parser.add_argument("--metrics-url", help="the worker's /metrics")
    parser.add_argument("--topology-dir", default="/tmp/yswd-soak-topology")
    parser.add_argument("--base-port", type=int, default=18400)
    parser.add_argument("--keep-up", action="store_true", help="leave the topology running")
    parser.add_argument("--check-only", metavar="OUT", help="judge an earlier run in OUT")
    args = parser.parse_args(argv)

    if args.check_only:
        out = Path(args.check_only)
        summary = judge(out, args.admin_token or os.environ.get("YSWD_SOAK_ADMIN_TOKEN"))
        print(markdown(summary))
        return 0 if summary["passed"] else 1

    if args.burst is None:
        seconds = _seconds(args.run_time)
        args.burst = "180,60,60" if seconds >= 180 else f"{seconds},{seconds / 3},{seconds / 3}"
    topology = None
    if args.hosts:
        hosts, token, metrics_url = args.hosts.split(","), args.admin_token, args.metrics_url or ""
        if not token:
            parser.error("--hosts needs --admin-token")
    else:
        shutil.rmtree(args.topology_dir, ignore_errors=True)
        topology = Topology(Path(args.topology_dir), args.base_port)
        print(topology.run("up"), flush=True)
        topology.wait_ready()
        hosts, token, metrics_url = topology.hosts, topology.token, topology.metrics_url
    try:
        code = run_locust(args, hosts, token, metrics_url)
        print(f"locust exited with {code}; judging the run", flush=True)
        summary = judge(Path(args.out), token)
    finally:
        if topology is not None and not args.keep_up:
            topology.run("down")
    print(markdown(summary))
    return 0 if summary["passed"] else 1


def _seconds(run_time: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    for char in run_time:
        if char.isdigit() or char == ".":
            number += char
        else:
            total += float(number) * units[char]
            number = ""
    return total + (float(number) if number else 0.0)


if __name__ == "__main__":
    sys.exit(main())
