"""SQL that every read model shares: upserts, driver placeholders and unit paths.

Plain SQLAlchemy Core over a ``Connection`` the runner hands in, valid on SQLite
and PostgreSQL alike, so no read model needs to know which database it is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table

_UPSERTS: dict[tuple[str, str, str, tuple[str, ...]], str] = {}


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
    cache_key = (conn.dialect.name, table.name, key, columns)
    sql = _UPSERTS.get(cache_key)
    if sql is None:
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns if name != key)
        sql = _UPSERTS[cache_key] = driver_sql(
            conn,
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}",
        )
    conn.exec_driver_sql(sql, [tuple(r[name] for name in columns) for r in rows])


def path_text(path: Iterable[str]) -> str:
    """A unit path as '/region/provider/ward/', so a LIKE finds a subtree."""
    return "/" + "/".join(path) + "/"


def subtree(column: Any, unit_id: str) -> Any:
    """The rows whose unit path ``column`` (see ``path_text``) lies under ``unit_id``."""
    return column.like(f"%/{unit_id}/%")
