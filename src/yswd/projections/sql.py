"""SQL that every read model shares: upserts, driver placeholders and unit paths.

Plain SQLAlchemy Core over a ``Connection`` the runner hands in, valid on SQLite
and PostgreSQL alike, so no read model needs to know which database it is in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Connection, Table, and_, false, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

#: a unit's path from its root to itself (``Unit.path``), or None for no such unit
UnitPaths = Callable[[str], Sequence[str] | None]

_STATEMENTS: dict[tuple[str, str, tuple[str, ...], str], str] = {}


def driver_sql(conn: Connection, sql: str) -> str:
    """``sql`` written with ``?`` placeholders, in the driver's own paramstyle."""
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return sql.replace("?", "%s")
    return sql


def upsert(
    conn: Connection, table: Table, row: dict[str, Any] | list[dict[str, Any]], key: str
) -> None:
    """Insert or replace one row (or a list of rows with the same columns) by ``key``.

    The SQL is built once per table and column set and the rows go straight to
    the driver as parameters (one ``executemany`` for a list): building the
    statement with the values inlined recompiled it for every event (about
    5 ms each), and SQLAlchemy's per-row parameter handling was the next cost.
    The same SQL is valid on SQLite and PostgreSQL.
    """
    rows = row if isinstance(row, list) else [row]
    if not rows:
        return
    columns = tuple(sorted(rows[0]))
    updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name != key)
    conflict = f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    values = itemgetter(*columns)
    params = [(values(r),) for r in rows] if len(columns) == 1 else [values(r) for r in rows]
    insert_many(conn, table.name, columns, params, conflict)


def insert_many(
    conn: Connection,
    table: str,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    suffix: str = "",
) -> None:
    """``INSERT INTO table (columns) VALUES (...)`` + ``suffix``, one ``executemany``.

    Multi-row ``VALUES`` statements on PostgreSQL were measured against psycopg's
    pipelined ``executemany`` (rebuilds of 15,002 events, alternated three
    times): no faster (3.5-4.6 s against 3.4-4.1 s), so both stores take this,
    except that plain inserts of many rows (no ``suffix``) go by ``COPY`` there.
    """
    if not rows:
        return
    if not suffix and len(rows) > 1 and conn.dialect.driver == "psycopg":
        _copy(conn, table, columns, rows)
        return
    cache_key = (conn.dialect.name, table, columns, suffix)
    sql = _STATEMENTS.get(cache_key)
    if sql is None:
        marks = ", ".join("?" for _ in columns)
        sql = _STATEMENTS[cache_key] = driver_sql(
            conn, f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}){suffix}"
        )
    conn.exec_driver_sql(sql, list(rows))


def _copy(
    conn: Connection, table: str, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Plain inserts on PostgreSQL through ``COPY``, inside the connection's transaction.

    A rebuild's audit chain is one row per stored event, and ``COPY`` takes them
    without a statement each.
    """
    driver = conn.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def plain_rows(conn: Connection, query: Any) -> list[tuple[Any, ...]]:
    """A query's rows as the driver's own tuples, without a SQLAlchemy ``Row`` each.

    For reads of very many rows: a region's 127,000 metric rows took 0.44 s of
    ``Row`` building alone (the 1M-event bench store). The query is compiled for
    the connection's dialect and run on its DBAPI cursor, inside the same
    connection and transaction; no column type converts a value on the way, so
    the columns read must be plain text, numbers and booleans.
    """
    compiled = query.compile(dialect=conn.dialect)
    params: Any = compiled.params
    if compiled.positiontup is not None:  # SQLite's "?" marks
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def path_text(path: Iterable[str]) -> str:
    """A unit path as '/region/provider/ward/': a unit's subtree is every path that
    begins with its own (``subtree``)."""
    return "/" + "/".join(path) + "/"


class Bytewise(ColumnElement[str]):
    """A text column compared byte by byte: as itself on SQLite (its BINARY order),
    ``COLLATE "C"`` on PostgreSQL, whose default collation may be a language's.

    A subtree is a range of paths (``subtree``), which is only the set of paths with
    that beginning in a byte order; the PostgreSQL indexes on ``rm_items`` are built
    on the same expression, so the range is read from the index.
    """

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(Bytewise)
def _bytewise(element: Bytewise, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(Bytewise, "postgresql")
def _bytewise_postgresql(element: Bytewise, compiler: Any, **kw: Any) -> str:
    return f'{compiler.process(element.column, **kw)} COLLATE "C"'


class Unindexed(ColumnElement[Any]):
    """A column that SQLite's planner may not read from an index (``+column``), so
    that a query is read in the order of another index; itself on PostgreSQL,
    whose planner weighs the choice with its statistics."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _unindexed(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(Unindexed, "sqlite")
def _unindexed_sqlite(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"


class Holds(ColumnElement[bool]):
    """True where the text ``column`` holds ``part`` exactly as written (case counts,
    and no character is a wildcard).

    ``instr`` on SQLite, whose ``LIKE`` ignores case; on PostgreSQL a ``LIKE`` with
    the wildcards in ``part`` escaped (case-sensitive there), because its planner
    estimates a pattern from the column's statistics and a function call not at all:
    a ward's board filtered by a theme took 60 ms with ``strpos`` (the planner walked
    the newest items of the nation) and 6 ms with ``LIKE``.
    """

    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("part", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, part: str) -> None:
        self.column = column
        self.part = literal(part)
        escaped = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        self.pattern = literal(f"%{escaped}%")
        self.type = Boolean()


@compiles(Holds)
def _holds(element: Holds, compiler: Any, **kw: Any) -> str:
    column, part = compiler.process(element.column, **kw), compiler.process(element.part, **kw)
    return f"(instr({column}, {part}) > 0)"


@compiles(Holds, "postgresql")
def _holds_postgresql(element: Holds, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    pattern = compiler.process(element.pattern, **kw)
    return f"({column} LIKE {pattern} ESCAPE '\\')"


def subtree(column: Any, path: Sequence[str] | None) -> Any:
    """The rows whose unit path ``column`` (see ``path_text``) lies under the unit
    whose own path is ``path``: the unit itself and every unit below it.

    A range, not a pattern: ``'/r/p/' <= column < '/r/p0'`` ('0' follows '/'), which
    a b-tree index serves, so a ward's board reads the ward's rows and not the
    nation's. (It was ``LIKE '%/unit/%'``, which no index can serve.) ``None``, a
    unit that does not exist, matches nothing.
    """
    if path is None:
        return false()
    low = path_text(path)
    key = Bytewise(column)
    return and_(key >= low, key < low[:-1] + "0")


def under_any(paths: UnitPaths, unit_ids: Iterable[str], *columns: Any) -> Any:
    """The rows where any of ``columns`` lies under any of ``unit_ids`` (an item's
    own unit, or where it was referred)."""
    found = [paths(unit_id) for unit_id in unit_ids]
    if not found:
        return false()
    return or_(*(subtree(column, path) for path in found for column in columns))
