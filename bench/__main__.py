"""python -m bench [--quick] [B1 B3 ...]: run the benchmarks and print each ratio."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench import b1_write_path, b2_http_write, b3_rebuild, b4_reads, b5_audit
from bench.common import PG_ENV, Report, fmt, now_iso, ratio, tempdir
from bench.generate import generate

ALL = ("B1", "B2", "B3", "B4", "B5", "B6")
#: what B6 runs again on PostgreSQL
ON_PG = ("B1", "B2", "B3", "B4")


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPUs, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, {now_iso()}"
    )


def suite(chosen: list[str], args: argparse.Namespace, small_n: int, big_n: int) -> list[Report]:
    reports: list[Report] = []
    with tempdir("stores") as tmp:
        small, big = tmp / "small", tmp / "big"
        if "B1" in chosen:
            reports.append(b1_write_path.run(args.quick, args.items))
        if "B2" in chosen:
            reports.append(b2_http_write.run(args.quick, args.requests, args.rounds))
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
    return reports


def on_postgres(
    chosen: list[str], args: argparse.Namespace, small_n: int, big_n: int
) -> list[Report]:
    """B6: the same benchmarks and baselines with every store in a PostgreSQL 15 cluster
    that this command starts on loopback (and stops and deletes afterwards)."""
    from tests.integration.servers import postgres_available, running_postgres

    if not postgres_available():
        print("B6: no PostgreSQL binaries found (YSWD_PG_BIN); skipped", flush=True)
        return []
    print(f"B6: starting PostgreSQL on loopback for {', '.join(chosen)}", flush=True)
    with running_postgres() as pg:
        pg.psql(f"ALTER ROLE {pg.user} CREATEDB")
        os.environ[PG_ENV] = pg.url
        try:
            reports = suite(chosen, args, small_n, big_n)
        finally:
            os.environ.pop(PG_ENV, None)
    for report in reports:
        report.bench = f"B6/{report.bench}"
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("benches", nargs="*", metavar="B", help=f"any of {', '.join(ALL)}")
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--items", type=int, help="B1: items written (4 commands each)")
    parser.add_argument("--requests", type=int, help="B2: requests per concurrency level")
    parser.add_argument(
        "--rounds", type=int, default=4, help="B2: parts per level, yswd and the bare route in turn"
    )
    parser.add_argument("--small", type=int, help="B4/B5: items in the small store")
    parser.add_argument("--big", type=int, help="B3/B4/B5: items in the big store")
    parser.add_argument(
        "--events", type=int, help="B3/B4/B5: make the big store about this many events instead"
    )
    parser.add_argument(
        "--pg", action="store_true", help="run the chosen B1-B4 on PostgreSQL only (as B6)"
    )
    args = parser.parse_args(argv)
    chosen = [b.upper() for b in args.benches] or [b for b in ALL if b != "B6"]
    unknown = set(chosen) - set(ALL)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    small_n = args.small or (100 if args.quick else 1_000)
    big_n = args.big or (300 if args.quick else 3_000)
    print(f"machine: {machine()}")
    print(f"command: python -m bench {' '.join(sys.argv[1:] if argv is None else argv)}")
    started = time.perf_counter()
    reports: list[Report] = []
    on_sqlite = [b for b in chosen if b != "B6"]
    if on_sqlite and not args.pg:
        reports += suite(on_sqlite, args, small_n, big_n)
    if "B6" in chosen or args.pg:
        wanted = [b for b in on_sqlite if b in ON_PG] if args.pg else list(ON_PG)
        reports += on_postgres(wanted, args, small_n, big_n)
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
