"""python -m bench [--quick] [B1 B3 ...]: run the benchmarks and print each ratio."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench import b1_write_path, b2_http_write, b3_rebuild, b4_reads, b5_audit
from bench.common import Report, fmt, now_iso, ratio, tempdir
from bench.generate import generate

ALL = ("B1", "B2", "B3", "B4", "B5")


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {now_iso()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benches", nargs="*", metavar="B", help=f"any of {', '.join(ALL)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--items", type=int, help="B1: items written (4 commands each)")
    parser.add_argument("--requests", type=int, help="B2: requests per concurrency level")
    parser.add_argument("--small", type=int, help="B4/B5: items in the small store")
    parser.add_argument("--big", type=int, help="B3/B4/B5: items in the big store")
    parser.add_argument(
        "--events", type=int, help="B3/B4/B5: make the big store about this many events instead"
    )
    args = parser.parse_args(argv)
    chosen = [b.upper() for b in args.benches] or list(ALL)
    unknown = set(chosen) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    small_n = args.small or (100 if args.quick else 1_000)
    big_n = args.big or (300 if args.quick else 3_000)
    print(f"machine: {machine()}")
    print(f"command: python -m bench {' '.join(sys.argv[1:] if argv is None else argv)}")
    started = time.perf_counter()
    reports: list[Report] = []
    with tempdir("stores") as tmp:
        small, big = tmp / "small", tmp / "big"
        if "B1" in chosen:
            reports.append(b1_write_path.run(args.quick, args.items))
        if "B2" in chosen:
            reports.append(b2_http_write.run(args.quick, args.requests))
        needs_big = {"B3", "B4", "B5"} & set(chosen)
        if needs_big:
            print(
                f"generating the big store ({args.events or big_n:,} "
                f"{'events' if args.events else 'items'})",
                flush=True,
            )
            made = generate(
                big,
                items=None if args.events else big_n,
                events=args.events,
                catch_up="B3" not in chosen,
            )
            big_n = made["items"]
            if "B3" in chosen:  # the rebuild also brings the big store's read models up
                reports.append(b3_rebuild.run(args.quick, data_dir=big))
        if {"B4", "B5"} & set(chosen):
            print(f"generating the small store ({small_n:,} items)", flush=True)
            generate(small, items=small_n)
            if "B4" in chosen:
                reports.append(b4_reads.run(args.quick, small, big, (small_n, big_n)))
            if "B5" in chosen:
                reports.append(b5_audit.run(args.quick, small, big, (small_n, big_n)))
    print(f"\nsummary ({time.perf_counter() - started:.0f}s)")
    print("| id | what | yswd | baseline | ratio |\n|---|---|---|---|---|")
    for report in reports:
        for what, yswd, base, unit in report.rows:
            print(
                f"| {report.bench} | {what} ({unit}) | {fmt(yswd)} | {fmt(base)} | "
                f"{ratio(yswd, base)} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
