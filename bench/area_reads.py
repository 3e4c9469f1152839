"""Public reads of an area on a big store, each computed afresh: median ms of N GETs.

    python -m bench.area_reads STORE UNIT [UNIT ...] [--gets 5] [--pg-dir DIR]

``STORE`` is a data folder (``bench.generate`` makes one; the store is opened as it
is, its read models as they stand). The app is driven in-process (``TestClient``)
with the answer cache resized to nothing, so every GET computes its answer, as when
writes under the unit keep renewing it. Then each page is visited three times with the
cache back, to show what a repeat visit costs. To compare with an older tree, run the
same command with ``PYTHONPATH=<that tree's src>`` (the store must be a copy: a newer
tree may add tables an older one ignores, never the other way round). ``--pg-dir``:
the store is the PostgreSQL database standing for ``STORE`` in the private cluster
kept in ``DIR`` (as ``bench.b3_rebuild compare --pg --pg-dir`` made it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.common import PG_ENV, store_settings
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.projections.answers import MAX_BYTES

READS = (
    "/public/api/v1/boards/{unit}",
    "/public/api/v1/boards/{unit}?status=done",
    "/public/api/v1/boards/{unit}?theme=food",
    "/public/api/v1/boards/{unit}?page=50",
    "/public/boards/{unit}/feed.atom",
    "/public/boards/{unit}",
    "/public/api/v1/metrics?unit_id={unit}",
    "/public/api/v1/metrics/monthly?unit_id={unit}",
    "/public/api/v1/involvement?unit_id={unit}",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.area_reads")
    parser.add_argument("store", type=Path)
    parser.add_argument("units", nargs="+")
    parser.add_argument("--gets", type=int, default=5)
    parser.add_argument("--pg-dir", type=Path, help="the kept PostgreSQL cluster's folder")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.pg_dir is not None:
            from bench.b3_rebuild import kept_postgres

            os.environ[PG_ENV] = stack.enter_context(kept_postgres(args.pg_dir)).url
        settings = store_settings(args.store, admin_token="a" * 40, run_projections=False)
        measure(build(settings), args.units, args.gets)


def measure(container: Any, units: list[str], gets: int) -> None:
    answers = container.runner.answers
    try:
        with TestClient(create_app(container)) as client:
            for unit in units:
                # nothing kept (an attribute, so that older trees compare alike)
                answers.max_bytes = 0
                for read in READS:
                    url = read.format(unit=unit)
                    times = []
                    for _ in range(gets):
                        started = time.perf_counter()
                        status = client.get(url).status_code
                        times.append((time.perf_counter() - started) * 1000)
                    print(f"{status} {url}: median {statistics.median(times):.1f} ms", flush=True)
                answers.max_bytes = MAX_BYTES
                for visit in (1, 2, 3):
                    started = time.perf_counter()
                    status = client.get(f"/public/metrics/{unit}").status_code
                    took = (time.perf_counter() - started) * 1000
                    page = f"/public/metrics/{unit}"
                    print(f"{status} {page} visit {visit}: {took:.1f} ms", flush=True)
    finally:
        container.close()


if __name__ == "__main__":
    main()
