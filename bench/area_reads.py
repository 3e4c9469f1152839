"""Public reads of an area on a big store, each computed afresh: median ms of N GETs.

    python -m bench.area_reads STORE UNIT [UNIT ...] [--gets 5]

``STORE`` is a data folder (``bench.generate`` makes one; the store is opened as it
is, its read models as they stand). The app is driven in-process (``TestClient``)
with the answer cache resized to nothing, so every GET computes its answer, as when
writes under the unit keep renewing it. Then each page is visited three times with the
cache back, to show what a repeat visit costs. To compare with an older tree, run the
same command with ``PYTHONPATH=<that tree's src>`` (the store must be a copy: a newer
tree may add tables an older one ignores, never the other way round).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from fastapi.testclient import TestClient

from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.projections.answers import MAX_BYTES
from yswd.settings import Settings

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
    args = parser.parse_args()
    container = build(Settings(data_dir=args.store, admin_token="a" * 40, run_projections=False))
    answers = container.runner.answers
    try:
        with TestClient(create_app(container)) as client:
            for unit in args.units:
                # nothing kept (an attribute, so that older trees compare alike)
                answers.max_bytes = 0
                for read in READS:
                    url = read.format(unit=unit)
                    times = []
                    for _ in range(args.gets):
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
