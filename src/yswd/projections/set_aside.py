"""Emptying a read model's big tables for a rebuild without waiting for it.

A rebuild starts from empty tables. On SQLite, ``DELETE FROM rm_items`` over a
million-event store took 9 s, and its commit 3 s more: ``secure_delete`` is on
(an erased contributor's words must not stay readable in free pages), so every
freed page is written over with zeros, and a rebuild waited for all of it
before its first batch. On PostgreSQL a ``DELETE`` leaves every row dead for
the vacuum to find.

So a rebuild *sets aside* a model's ``bulk_tables`` instead:

- SQLite: the table's indexes are dropped (each at once), the table is renamed
  to ``<name>__set_aside`` and an empty one is created in its place; the old
  rows are then deleted a slice per rebuild batch, on the rebuild's writer
  thread, where SQLite does the zeroing while Python folds the next batch; what
  is left when the replay ends is deleted then, and the emptied table dropped.
- PostgreSQL: ``TRUNCATE``, which frees the table's files at commit.

The secondary indexes of a table set aside must all be ``bulk_indexes``: the
new table is created without them, and the rebuild creates them at its end, as
it does for any bulk index. A process that dies mid-way leaves a ``__set_aside``
table behind: ``drop_leftovers`` (run when the runner creates its tables)
deletes it, as secure-deleted as ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Index, Table
from sqlalchemy.schema import CreateTable

SUFFIX = "__set_aside"
#: the fewest old rows deleted with each batch
SLICE_FLOOR = 500


def aside_name(table: Table) -> str:
    return table.name + SUFFIX


def set_aside(
    conn: Connection, tables: Sequence[Table], bulk_indexes: Iterable[Index]
) -> list[str]:
    """Empty ``tables`` at once; the names of the tables whose rows are still to delete."""
    if not tables:
        return []
    if conn.dialect.name != "sqlite":
        names = ", ".join(table.name for table in tables)
        conn.exec_driver_sql(f"TRUNCATE {names}")
        return []
    bulk = {index.name for index in bulk_indexes}
    aside = []
    for table in tables:
        others = [index.name for index in table.indexes if index.name not in bulk]
        assert not others, f"{table.name}: only tables whose indexes are bulk indexes"
        # first, so that the slices delete table rows only (index entries would cost
        # as much again); an index is dropped whole, far faster than row by row
        for index in table.indexes:
            index.drop(conn, checkfirst=True)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {aside_name(table)}")
        conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {aside_name(table)}")
        conn.execute(CreateTable(table))
        aside.append(aside_name(table))
    return aside


def slice_size(conn: Connection, name: str, batch: int, events: int) -> int:
    """Rows to delete per batch so that ``name`` is empty about when ``events`` are replayed."""
    rows = conn.exec_driver_sql(f"SELECT max(rowid) FROM {name}").scalar() or 0
    batches = max(1, events // max(batch, 1))
    return max(SLICE_FLOOR, -(-rows // batches))


def clear_slice(conn: Connection, name: str, limit: int | None) -> bool:
    """Delete up to ``limit`` (all, for None) old rows of ``name``; drop it once empty.

    True when the table is gone.
    """
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).scalar()
    if not found:  # dropped already (by a process starting meanwhile: ``drop_leftovers``)
        return True
    if limit is None:
        conn.exec_driver_sql(f"DELETE FROM {name}")
    else:
        deleted = conn.exec_driver_sql(
            f"DELETE FROM {name} WHERE rowid IN (SELECT rowid FROM {name} LIMIT {int(limit)})"
        ).rowcount
        if deleted:
            return False
    conn.exec_driver_sql(f"DROP TABLE {name}")
    return True


def drop_leftovers(conn: Connection, tables: Iterable[Table]) -> None:
    """Delete the tables a rebuild that died left set aside (SQLite only has them)."""
    if conn.dialect.name != "sqlite":
        return
    for table in tables:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {aside_name(table)}")
