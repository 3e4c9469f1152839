"""Where each read model stands in the log, and the events it had to skip.

``projection_tracking`` holds one row per read model: the position of the last
event it applied. The runner moves a position only inside the transaction that
applied the events, last, with a compare-and-set on the old position, so a
position is never ahead of (or behind) the rows it describes.
``projection_dead_letters`` lists the events a read model could not apply (read
model, position, topic, error class and message; never the event's data).

On PostgreSQL the runners of one group also take a transaction-scoped advisory
lock keyed on the group (``advisory_key``), so that only one applies a batch at
a time; table creation takes ``SCHEMA_LOCK_KEY``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from eventsourcing.persistence import Notification
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    inspect,
    select,
    text,
    update,
)

from yswd.projections.sql import driver_sql

tracking_metadata = MetaData()
projection_tracking = Table(
    "projection_tracking",
    tracking_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", Integer, nullable=False),
)
projection_dead_letters = Table(
    "projection_dead_letters",
    tracking_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("position", Integer, nullable=False),
    Column("topic", String(300), nullable=False),
    Column("error_class", String(200), nullable=False),
    Column("error", Text, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("name", "position", name="uq_projection_dead_letters"),
)

#: longest error message kept in a dead letter
ERROR_CHARS = 300
#: advisory lock key serialising table creation across processes
SCHEMA_LOCK_KEY = 0x7973_7764_0000_0001  # "yswd" + 1


class Tracked(Protocol):
    """What tracking needs of a read model: its name and its tables."""

    name: str
    metadata: MetaData


class ConcurrentRunner(RuntimeError):
    """Another runner moved a read model's position while this one was applying."""


class StalePositions(ConcurrentRunner):
    """Another runner applied events since this one last looked: its view is stale."""


def advisory_key(names: Sequence[str]) -> int:
    """A stable signed 64-bit key for a group of read models (PostgreSQL's bigint)."""
    digest = hashlib.sha256(("yswd-projections:" + ",".join(sorted(names))).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def create_tables(conn: Connection, models: Sequence[Tracked]) -> None:
    """Create the tracking tables and every model's tables, and a position for each model.

    Run inside a write transaction: on SQLite a deferred one fails at once with
    "database is locked" while another process writes; on PostgreSQL workers
    starting together queue on a lock instead of racing to CREATE the same tables.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    tracking_metadata.create_all(conn)
    existing = set(inspect(conn).get_table_names())
    for model in models:
        model.metadata.create_all(conn)
        # create_all skips tables that exist: an index added in a later
        # version is created here for a store made by an earlier one
        for table in model.metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
    known = set(conn.scalars(select(projection_tracking.c.name)))
    for model in models:
        if model.name not in known:
            conn.execute(projection_tracking.insert().values(name=model.name, position=0))
    # a table a later version added is filled from the rows an earlier one wrote
    for model in models:
        prepare = getattr(model, "prepare_tables", None)
        if prepare is not None:
            prepare(conn, {table.name for table in model.metadata.sorted_tables} - existing)


def read_positions(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Each named model's stored position (0 for a model not tracked yet)."""
    rows = conn.execute(select(projection_tracking.c.name, projection_tracking.c.position))
    found = {name: position for name, position in rows}
    return {name: found.get(name, 0) for name in names}


def start_again(conn: Connection, name: str) -> None:
    """Put a model back to position 0 and forget its dead letters, before a rebuild."""
    conn.execute(
        update(projection_tracking).where(projection_tracking.c.name == name).values(position=0)
    )
    conn.execute(delete(projection_dead_letters).where(projection_dead_letters.c.name == name))


def lock_group(conn: Connection, key: int) -> None:
    """Take a group's advisory lock for the transaction (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return
    taken = conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar()
    if not taken:
        raise ConcurrentRunner("another runner holds this group's advisory lock")


def require_positions(conn: Connection, positions: Mapping[str, int]) -> None:
    """Refuse a batch planned from positions that another runner has since moved.

    Inside the write transaction (serialised on SQLite, under the advisory lock
    on PostgreSQL) this is exact: a batch is never applied twice, and a model's
    failure is never mistaken for a bad event when it was only a stale view.
    """
    names = list(positions)
    sql = driver_sql(
        conn,
        "SELECT name, position FROM projection_tracking "
        f"WHERE name IN ({', '.join('?' for _ in names)})",
    )
    stored: dict[str, int] = {
        name: position for name, position in conn.exec_driver_sql(sql, tuple(names)).all()
    }
    if any(stored.get(name, 0) != positions[name] for name in names):
        raise StalePositions(f"read models {names} were moved by another runner")


def move_positions(conn: Connection, positions: Mapping[str, int], last: int) -> None:
    """Compare-and-set every model's position from what it had seen to ``last``."""
    groups: dict[int, list[str]] = {}
    for name, seen in positions.items():
        groups.setdefault(seen, []).append(name)
    for seen, names in groups.items():
        sql = driver_sql(
            conn,
            "UPDATE projection_tracking SET position = ? WHERE position = ? "
            f"AND name IN ({', '.join('?' for _ in names)})",
        )
        moved = conn.exec_driver_sql(sql, (last, seen, *names))
        if moved.rowcount != len(names):
            raise ConcurrentRunner(f"read models {names} were moved by another runner")


def record_dead_letter(
    conn: Connection, name: str, notification: Notification, error: Exception
) -> None:
    """Note that read model ``name`` skipped this event, and why (never the event's data)."""
    conn.execute(
        projection_dead_letters.insert().values(
            name=name,
            position=notification.id,
            topic=notification.topic[:300],
            error_class=f"{type(error).__module__}.{type(error).__qualname__}"[:200],
            error=str(error)[:ERROR_CHARS],
            recorded_at=datetime.now(UTC).isoformat(),
        )
    )


def dead_letters(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Events a read model could not apply and skipped, oldest first."""
    table = projection_dead_letters
    query = (
        select(
            table.c.name,
            table.c.position,
            table.c.topic,
            table.c.error_class,
            table.c.error,
            table.c.recorded_at,
        )
        .order_by(table.c.position, table.c.name)
        .limit(limit)
    )
    return [
        {
            "read_model": name,
            "position": position,
            "topic": topic,
            "error_class": error_class,
            "error": error,
            "recorded_at": recorded_at,
        }
        for name, position, topic, error_class, error, recorded_at in conn.execute(query).all()
    ]
