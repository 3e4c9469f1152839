"""The tables of the ``staff_items`` read model, which every read of items is built on.

``rm_items`` holds one row per item (the filterable columns and the staff view as
JSON); beside it, the safeguarding flags, the reveals, the change counters that
cached public answers are keyed on, and a board's per-unit counts
(``board_counts``). ``staff_items.StaffItems`` writes all of them in a batch's one
transaction; the queries in the other ``projections`` modules read them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

items = Table(
    "rm_items",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("forum_id", String(64), nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("unit_path", Text, nullable=False),
    Column("referred_to", String(64)),
    Column("referred_path", Text),
    Column("channel", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("published", Boolean, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("raised_on", String(10), nullable=False),
    Column("due_on", String(10)),
    Column("target_on", String(10), nullable=False),
    Column("first_response_on", String(10)),
    Column("closed_on", String(10)),
    Column("themes", Text, nullable=False),
    Column("contributor", Text),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),
    Index("ix_rm_items_unit_path", "unit_path"),
    Index("ix_rm_items_status", "status"),
    Index("ix_rm_items_forum", "forum_id"),
    Index("ix_rm_items_updated", "updated_at"),
    # the two orders of a list, so that a page is read in order and stops after
    # ``limit`` rows instead of sorting every item (B4: 96 ms -> 0.1 ms at 60k items)
    Index("ix_rm_items_newest", "raised_on", "created_at"),
    Index("ix_rm_items_due", "target_on", "created_at"),
)
# A unit's subtree is a range of paths (``sql.subtree``), read from these indexes: on
# SQLite the column's own (BINARY) order; on PostgreSQL the same range compared
# ``COLLATE "C"``, as the query does, since the database's collation may not be
# byte order. ``create_tables`` adds them to a store made before they existed.
Index("ix_rm_items_referred_path", items.c.referred_path).ddl_if(dialect="sqlite")
Index("ix_rm_items_unit_path_bytes", items.c.unit_path.collate("C")).ddl_if(dialect="postgresql")
Index("ix_rm_items_referred_path_bytes", items.c.referred_path.collate("C")).ddl_if(
    dialect="postgresql"
)

#: one row per item that has (or had) a safeguarding flag, written with its ``rm_items``
#: row: the safeguarding queue, the restriction every ordinary list leaves out, and the
#: count of flags past their acknowledgement time
safeguarding = Table(
    "rm_safeguarding",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("unit_path", Text, nullable=False),
    Column("referred_path", Text),
    Column("flagged_at", String(40), nullable=False),
    Column("ack_due_at", String(40), nullable=False),
    Column("acknowledged_at", String(40)),
    Column("closed_at", String(40)),
    Column("open", Boolean, nullable=False),
    Column("restricted", Boolean, nullable=False),
    Index("ix_rm_safeguarding_open", "open", "flagged_at"),
)

#: every reveal of a contributor to a manager: who, when and why, for auditors and advocates
reveals = Table(
    "rm_reveals",
    metadata,
    Column("reveal_id", String(80), primary_key=True),  # item id and event version
    Column("item_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("unit_path", Text, nullable=False),
    Column("referred_path", Text),
    Column("user_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(40), nullable=False),
    Index("ix_rm_reveals_at", "at"),
)

#: one row counting the batches that changed ``rm_items`` (never reset, so a count is
#: never seen twice): what cached public answers are keyed on
item_changes = Table(
    "rm_items_changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("changes", Integer, nullable=False),
)
CHANGES_SQL = "SELECT changes FROM rm_items_changes WHERE id = 1"

#: one row per unit, counting the batches that changed an item raised in its subtree
#: (the unit's own items and its descendants'), never reset either: what a unit's
#: cached public answers are keyed on, so a ward's board is kept while other wards
#: change. Only where items were raised counts (``unit_path``, which never changes):
#: an answer that depends on where items were referred must use ``CHANGES_SQL``.
unit_changes = Table(
    "rm_unit_changes",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("changes", Integer, nullable=False),
)
UNIT_CHANGES_SQL = "SELECT changes FROM rm_unit_changes WHERE unit_id = ?"

#: per unit and status, how many published items there are (``theme`` ``''``) and how
#: many of those carry each theme, moved with every write of ``rm_items``
#: (``board_counts``): what a board's counts, totals and themes read
board_counts_table = Table(
    "rm_board_counts",
    metadata,
    Column("unit_path", Text, primary_key=True),
    Column("status", String(16), primary_key=True),
    Column("theme", Text, primary_key=True),
    Column("n", Integer, nullable=False),
)
Index("ix_rm_board_counts_path_bytes", board_counts_table.c.unit_path.collate("C")).ddl_if(
    dialect="postgresql"
)
#: the ``staff_items`` position up to which ``rm_board_counts`` follows ``rm_items``. A
#: process of an older version, still running while an upgrade rolls out, moves item
#: rows and the position without the counts; the next batch that finds this
#: behind the position counts them again from the rows (``board_counts.follow``)
board_counts_at = Table(
    "rm_board_counts_at",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, nullable=False),
)
