"""Read model ``organisation``: every unit with its name, parent and path, for public indexes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, Text, delete, select

from yswd.aggregates.organisation import Forum, Unit
from yswd.aggregates.topics import event_topics
from yswd.projections.sql import path_text, upsert

metadata = MetaData()

units = Table(
    "rm_units",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("parent_id", String(64)),
    Column("path", Text, nullable=False),
)


class Organisation:
    """One row per unit, written when the unit is created (units never change)."""

    name = "organisation"
    metadata = metadata
    wants_stored_form = False
    #: only organisation events are decoded for this model
    topic_prefixes = event_topics(Unit, Forum)

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if not isinstance(event, Unit.Created):
            return
        row = {
            "id": event.unit_id,
            "name": event.name,
            "parent_id": event.parent_id,
            "path": path_text(event.path),
        }
        upsert(conn, units, row, "id")

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(units))


def unit_tree(engine: Engine) -> list[dict[str, Any]]:
    """Every unit as ``{"id", "name", "children": [...]}``, roots first, names in order."""
    with engine.connect() as conn:
        rows = conn.execute(select(units.c.id, units.c.name, units.c.parent_id)).all()
    nodes = {uid: {"id": uid, "name": name, "children": []} for uid, name, _ in rows}
    roots: list[dict[str, Any]] = []
    for uid, _, parent_id in rows:
        parent = nodes.get(parent_id) if parent_id else None
        (parent["children"] if parent is not None else roots).append(nodes[uid])

    def by_name(nodes_list: list[dict[str, Any]]) -> None:
        nodes_list.sort(key=lambda node: (node["name"].casefold(), node["id"]))
        for node in nodes_list:
            by_name(node["children"])

    by_name(roots)
    return roots
