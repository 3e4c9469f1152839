"""Read model ``gap_box_list``: every gap box with its unit, question and dates.

Boards, posters and the index link to a box only while it is open, and name
the ward it belongs to, so they need the boxes of a part of the organisation
without loading every box's history. Boxes never change once opened; a row
is written once, from ``GapBox.Opened``. Which are open is decided when asked,
with the day as an input.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, Text, delete, select

from yswd.aggregates.gap_box import GapBox
from yswd.aggregates.topics import event_topics
from yswd.projections.organisation import units
from yswd.projections.sql import subtree, upsert

metadata = MetaData()

gap_boxes = Table(
    "rm_gap_boxes",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("unit_id", String(64), nullable=False, index=True),
    Column("forum_id", String(64), nullable=False),
    Column("question", Text, nullable=False),
    Column("opens_on", String(10), nullable=False),
    Column("closes_on", String(10), nullable=False),
)


class GapBoxList:
    """One row per gap box, written when it is opened."""

    name = "gap_box_list"
    metadata = metadata
    wants_stored_form = False
    #: only gap box events are decoded for this model
    topic_prefixes = event_topics(GapBox)

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if not isinstance(event, GapBox.Opened):
            return
        row = {
            "id": event.box_id,
            "unit_id": event.unit_id,
            "forum_id": event.forum_id,
            "question": event.question,
            "opens_on": event.opens_on.isoformat(),
            "closes_on": event.closes_on.isoformat(),
        }
        upsert(conn, gap_boxes, row, "id")

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(gap_boxes))


def open_gap_boxes(
    engine: Engine, today: date, *, near: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """The boxes open on ``today``, closing soonest first, each with its unit's name.

    ``near``, a unit's path (root first), keeps only the boxes that reach that
    unit: a box of the unit itself, of a unit above it (a hospital's box is for
    its wards too) or of a unit below it (an area's board shows its wards' boxes).
    Without it, every open box.
    """
    day = today.isoformat()
    query = (
        select(
            gap_boxes.c.id,
            gap_boxes.c.unit_id,
            gap_boxes.c.question,
            gap_boxes.c.opens_on,
            gap_boxes.c.closes_on,
            units.c.name.label("unit_name"),
        )
        .join(units, units.c.id == gap_boxes.c.unit_id)
        .where(gap_boxes.c.opens_on <= day, gap_boxes.c.closes_on >= day)
        .order_by(gap_boxes.c.closes_on, gap_boxes.c.id)
    )
    if near is not None:
        query = query.where(units.c.id.in_(near) | subtree(units.c.path, near))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            **row,
            "opens_on": date.fromisoformat(row["opens_on"]),
            "closes_on": date.fromisoformat(row["closes_on"]),
        }
        for row in rows
    ]
