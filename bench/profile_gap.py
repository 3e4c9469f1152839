"""Profile the largest gap (B3: projection rebuild) and try a fix without touching src/.

    python -m bench.profile_gap --items 1000          # profile a rebuild (pyinstrument)
    python -m bench.profile_gap --items 1000 --compare  # rebuild before/after the fix
    python -m bench.profile_gap --write-path --items 100 [--fixed | --compare]  # B1's path

The profile shows ``staff_items.upsert`` spending most of its time in SQLAlchemy's
compiler: ``insert(...).values(**row).on_conflict_do_update(set_=<literal values>)``
is a new statement shape for the compiled cache on every event, so every event is
compiled again. The fix tried here (monkeypatched in this process only) builds one
statement per (table, columns) with ``set_`` taken from ``excluded`` and passes the
row as parameters, so the compiled form is reused.
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

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bench.common import ROOT, tempdir

_STATEMENTS: dict[tuple[str, str, tuple[str, ...], str], Any] = {}


def cached_upsert(conn: Connection, table: Table, row: dict[str, Any], key: str) -> None:
    """The same upsert, compiled once per shape and executed with the row as parameters."""
    shape = (conn.dialect.name, table.name, tuple(row), key)
    found = _STATEMENTS.get(shape)
    if found is None:
        base = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)
        statement = base.on_conflict_do_update(
            index_elements=[key], set_={c: base.excluded[c] for c in row if c != key}
        )
        compiled = statement.values({c: bindparam(c) for c in row}).compile(dialect=conn.dialect)
        found = _STATEMENTS[shape] = (str(compiled), compiled.positiontup)
    sql, order = found
    conn.exec_driver_sql(sql, tuple(row[name] for name in order) if order else row)


def install_fix() -> None:
    import yswd.audit as audit
    import yswd.projections.organisation as organisation
    import yswd.projections.staff_items as staff_items

    for module in (staff_items, organisation, audit):
        module.upsert = cached_upsert  # type: ignore[attr-defined]


def child(data_dir: Path, fixed: bool, profile: bool) -> dict[str, Any]:
    from yswd.bootstrap import build
    from yswd.settings import Settings

    if fixed:
        install_fix()
    container = build(Settings(data_dir=data_dir))
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
                "SELECT item_id, version, status, doc FROM rm_items ORDER BY item_id"
            ).all()
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
        return {"events": count, "seconds": elapsed, "rate": count / elapsed, "rows": digest}
    finally:
        container.close()


def write_child(data_dir: Path, fixed: bool, profile: bool, items: int) -> dict[str, Any]:
    """B1's inline write path (4 commands + catch_up each) in this process."""
    from bench.b1_write_path import YswdWrites

    if fixed:
        install_fix()
    writes = YswdWrites(data_dir, inline=True)
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


def run_child(data_dir: Path, fixed: bool, profile: bool = False) -> dict[str, Any]:
    args = [sys.executable, "-m", "bench.profile_gap", "--child", str(data_dir)]
    args += ["--fixed"] if fixed else []
    args += ["--profile"] if profile else []
    out = subprocess.run(args, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_gap")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--fixed", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", type=Path)
    parser.add_argument(
        "--write-path", action="store_true", help="B1's inline write path instead (N items)"
    )
    args = parser.parse_args()
    if args.write_path:
        with tempdir("profile-writes") as tmp:
            if args.compare:
                rates = [
                    write_child(tmp / f"w{i}", fixed, False, args.items)["rate"]
                    for i, fixed in enumerate((False, True, False, True))
                ]
                print(
                    f"B1 inline write path, {args.items} items x 4 commands: before "
                    f"{rates[0]:,.0f} / {rates[2]:,.0f} cmd/s, with the cached upsert "
                    f"{rates[1]:,.0f} / {rates[3]:,.0f} cmd/s"
                )
            else:
                print(write_child(tmp / "w", args.fixed, True, args.items))
        return
    if args.child:
        print(json.dumps(child(args.child, args.fixed, args.profile)))
        return
    from bench.generate import generate

    with tempdir("profile") as tmp:
        generate(tmp / "store", items=args.items, catch_up=False)
        if not args.compare:
            print(run_child(tmp / "store", fixed=args.fixed, profile=True))
            return
        before = run_child(tmp / "store", fixed=False)
        after = run_child(tmp / "store", fixed=True)
        again = run_child(tmp / "store", fixed=False)
    print(
        f"rebuild of {before['events']:,} events: before {before['rate']:,.0f} events/s "
        f"(again {again['rate']:,.0f}), with the cached upsert {after['rate']:,.0f} events/s, "
        f"{after['rate'] / ((before['rate'] + again['rate']) / 2):.1f}x"
    )
    same = before["rows"] == after["rows"] == again["rows"]
    print(f"read model rows identical before/after the fix: {same}")


if __name__ == "__main__":
    main()
