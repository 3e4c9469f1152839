"""Where published items were raised: the unit of each, by name, for area boards.

An area's board (a region's, a hospital's) mixes items from many wards; each
card names its ward. Unit names are public; nothing else about an item is read.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select

from yswd.projections.item_tables import items
from yswd.projections.organisation import units


def item_units(engine: Engine, item_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """``{item id: {"id", "name"}}`` of each item's unit (items without a known unit left out)."""
    wanted = list(dict.fromkeys(item_ids))
    if not wanted:
        return {}
    query = (
        select(items.c.item_id, units.c.id, units.c.name)
        .join(units, units.c.id == items.c.unit_id)
        .where(items.c.item_id.in_(wanted))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {item_id: {"id": unit_id, "name": name} for item_id, unit_id, name in rows}


def has_child_units(engine: Engine, unit_id: str) -> bool:
    """Whether the unit is an area: a region, provider or hospital with units below it."""
    query = select(units.c.id).where(units.c.parent_id == unit_id).limit(1)
    with engine.connect() as conn:
        return conn.execute(query).first() is not None
