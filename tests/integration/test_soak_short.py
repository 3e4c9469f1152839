"""R1, the short soak: ``bench/locustfile.py`` for 40 s with 20 users, headless, against
the scaled-out topology of ``scripts/dev-topology.sh`` (PostgreSQL, NATS, two replicas,
one worker), with the long soak's pass criteria (``bench/soak.py``):

- no 5xx and no connection error;
- p95 of each submit (raise an item, a gap-box suggestion) under 500 ms;
- every item id answered with a 201 is there afterwards (GET each);
- projection lag p99 under 5 s, and every cross-replica ``?min_position=`` read
  finds its write.

The long one (200 users, 10 minutes) is ``python -m bench.soak``; see bench/README.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .servers import nats_server_binary, postgres_available
from .test_topology import Topology

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
USERS = 20
RUN_TIME = os.environ.get("YSWD_SOAK_SHORT_RUN_TIME", "40s")


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    if not postgres_available() or nats_server_binary() is None:
        pytest.skip("PostgreSQL 15 binaries or nats-server are missing")
    if importlib.util.find_spec("locust") is None:  # never imported here: it patches with gevent
        pytest.skip("locust is not installed")
    built = Topology()
    try:
        built.run("up")
        yield built
    finally:
        built.run("down")
        shutil.rmtree(built.dir, ignore_errors=True)


def test_short_soak_meets_the_pass_criteria(topology: Topology, tmp_path: Path) -> None:
    out = tmp_path / "soak"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--hosts",
            ",".join(topology.apis),
            "--admin-token",
            topology.env["YSWD_ADMIN_TOKEN"],
            "--metrics-url",
            f"http://127.0.0.1:{topology.env['WORKER_METRICS_PORT']}/metrics",
            "--users",
            str(USERS),
            "--spawn-rate",
            "10",
            "--run-time",
            RUN_TIME,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary_file = out / "summary.json"
    assert summary_file.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(summary_file.read_text())
    report = (out / "summary.md").read_text()
    print(report, file=sys.stderr)

    assert summary["requests"] > 200, report
    assert summary["5xx"] == 0, report
    assert summary["connection_errors"] == 0, report
    for name, p95 in summary["submit_p95_ms"].items():
        assert p95 is not None and p95 < 500, f"{name}: p95 {p95} ms\n{report}"
    assert summary["acknowledged_items"] > 0, report
    assert summary["missing_count"] == 0, summary["missing_items"]
    assert summary["lag_samples"] > 0, report
    assert summary["lag_p99_s"] is not None and summary["lag_p99_s"] < 5, report
    assert summary["visibility_missed"] == 0, report
    assert summary["passed"], report
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
