"""Profile the gaps: B3's projection rebuild, or B1's inline write path (pyinstrument).

    python -m bench.profile_gap --items 1000               # profile a rebuild
    python -m bench.profile_gap --data-dir /tmp/yswd-data  # ... of an existing store
    python -m bench.profile_gap --write-path --items 100   # B1's path: 4 commands + catch_up

The rebuild child prints a digest of ``rm_items`` so that two versions of the code
can be compared for identical read models (run it with ``PYTHONPATH`` pointing at
the other version's ``src``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, store_settings, tempdir


def child(data_dir: Path, profile: bool) -> dict[str, Any]:
    from yswd.bootstrap import build

    container = build(store_settings(data_dir))
    try:
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        t0 = time.perf_counter()
        count = container.runner.rebuild()
        elapsed = time.perf_counter() - t0
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
        with container.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT item_id, version, status, updated_at FROM rm_items ORDER BY item_id"
            ).all()
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        return {"events": count, "seconds": elapsed, "rate": count / elapsed, "rows": digest}
    finally:
        container.close()


def write_child(data_dir: Path, profile: bool, items: int) -> dict[str, Any]:
    """B1's write path with a catch-up after every command, in this process."""
    from bench.b1_write_path import YswdWrites

    writes = YswdWrites(data_dir, "every")
    try:
        writes.step(5)  # warm up
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
        seconds = writes.step(items)
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
        return {"rate": 4 * items / seconds}
    finally:
        writes.close()


def run_child(data_dir: Path, profile: bool = True) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.profile_gap", "--child", str(data_dir)]
    args += ["--profile"] if profile else []
    out = subprocess.run(args, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_gap")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, help="profile a rebuild of this store")
    parser.add_argument("--no-profile", action="store_true", help="only time it")
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--write-path", action="store_true", help="B1's inline write path instead (N items)"
    )
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.profile)))
        return
    if args.write_path:
        with tempdir("profile-writes") as tmp:
            print(write_child(tmp / "w", not args.no_profile, args.items))
        return
    if args.data_dir:
        print(run_child(args.data_dir, not args.no_profile))
        return
    from bench.generate import generate

    with tempdir("profile") as tmp:
        generate(tmp / "store", items=args.items, catch_up=False)
        print(run_child(tmp / "store", not args.no_profile))


if __name__ == "__main__":
    main()
