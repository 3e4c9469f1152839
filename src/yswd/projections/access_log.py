"""Read model ``access_log``: who read which items' identifiable data, and when.

One row per recorded read (``Disclosure.IdentifiableDataRead``) and one row
per item it covered, so an auditor can list the reads of one member of staff
or of one item. The rows hold ids, a role, a kind and a time; never a name or
any detail of a contributor. The events themselves are the record (covered by
the hash chain); this table only makes them quick to search.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    delete,
    func,
    select,
)

from yswd.aggregates.disclosure import Disclosure
from yswd.aggregates.topics import event_topics

metadata = MetaData()

reads = Table(
    "rm_access_log",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("read_id", String(200), nullable=False),
    Column("reader_id", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("read_at", String(40), nullable=False),
    Column("item_count", Integer, nullable=False),
    Index("ix_rm_access_log_reader", "reader_id", "position"),
)

read_items = Table(
    "rm_access_log_items",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("item_id", String(200), primary_key=True),
    Index("ix_rm_access_log_items_item", "item_id", "position"),
)


class AccessLog:
    """Indexes every recorded read of identifiable data."""

    name = "access_log"
    metadata = metadata
    wants_stored_form = False
    #: only read records are decoded for this model
    topic_prefixes = event_topics(Disclosure)

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if not isinstance(event, Disclosure.IdentifiableDataRead):
            return
        item_ids = list(dict.fromkeys(event.item_ids))
        conn.execute(
            reads.insert(),
            {
                "position": position,
                "read_id": event.originator_id,
                "reader_id": event.reader_id,
                "role": event.role,
                "kind": event.kind,
                "read_at": event.timestamp.isoformat(),
                "item_count": len(item_ids),
            },
        )
        if item_ids:
            conn.execute(
                read_items.insert(), [{"position": position, "item_id": i} for i in item_ids]
            )

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(read_items))
        conn.execute(delete(reads))


#: at most this many item ids are listed with one read (``item_count`` says how many)
ITEMS_SHOWN = 100


def list_reads(
    engine: Engine,
    *,
    user_id: str | None = None,
    item_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
    items_in: Select[Any] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Recorded reads, newest first, optionally of one reader or one item; and the total.

    With ``items_in`` (a query of item ids, such as those in a caller's scope) only
    reads of those items are listed, each naming only those of its items.
    """
    query = select(reads)
    count = select(func.count()).select_from(reads)
    if items_in is not None:
        touching = select(read_items.c.position).where(read_items.c.item_id.in_(items_in))
        query = query.where(reads.c.position.in_(touching))
        count = count.where(reads.c.position.in_(touching))
    if user_id is not None:
        query = query.where(reads.c.reader_id == user_id)
        count = count.where(reads.c.reader_id == user_id)
    if item_id is not None:
        covered = select(read_items.c.position).where(read_items.c.item_id == item_id)
        if items_in is not None:  # an item outside the caller's scope has no reads for them
            covered = covered.where(read_items.c.item_id.in_(items_in))
        query = query.where(reads.c.position.in_(covered))
        count = count.where(reads.c.position.in_(covered))
    query = query.order_by(reads.c.position.desc()).limit(limit).offset(offset)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        total = int(conn.execute(count).scalar() or 0)
        items: dict[int, list[str]] = {row.position: [] for row in rows}
        counts: dict[int, int] = {row.position: row.item_count for row in rows}
        if items:
            listing = select(read_items.c.position, read_items.c.item_id).where(
                read_items.c.position.in_(list(items))
            )
            if items_in is not None:
                listing = listing.where(read_items.c.item_id.in_(items_in))
                counts = dict.fromkeys(items, 0)
            found = conn.execute(listing.order_by(read_items.c.position, read_items.c.item_id))
            for position, listed in found:
                if items_in is not None:
                    counts[position] += 1
                if len(items[position]) < ITEMS_SHOWN:
                    items[position].append(listed)
    return [
        {
            "read_id": row.read_id.split(":", 1)[1],
            "position": row.position,
            "reader_id": row.reader_id,
            "role": row.role,
            "kind": row.kind,
            "read_at": row.read_at,
            "item_count": counts[row.position],
            "item_ids": items[row.position],
        }
        for row in rows
    ], total
