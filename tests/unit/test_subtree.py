"""A unit's subtree as a range of unit paths (``projections.sql.subtree``), on SQLite.

Every scoped read (a ward's board, its figures, a manager's list, an auditor's trail)
filters ``rm_items`` this way, so it must find exactly the items whose unit lies under
the unit asked for, however the unit ids share their beginnings, and no others.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete, insert, select

from yswd.projections.item_tables import items, metadata
from yswd.projections.sql import path_text, subtree, under_any

# ids that begin alike ('a', 'a0', 'a-', 'a-b'), and '-' and '0', which sit either side
# of the '/' that ends a path in byte order: the cases a range gets wrong if any is
UNIT_IDS = st.text(alphabet="ab0-", min_size=1, max_size=4)


@st.composite
def trees(draw: Any) -> dict[str, tuple[str, ...]]:
    """Unit id -> its path (root first, itself last), over one or more roots."""
    chosen = draw(st.lists(UNIT_IDS, min_size=1, max_size=12, unique=True))
    paths: dict[str, tuple[str, ...]] = {}
    for unit_id in chosen:
        parent = draw(st.sampled_from([None, *paths]))
        paths[unit_id] = (*paths[parent], unit_id) if parent is not None else (unit_id,)
    return paths


def item_row(item_id: str, path: tuple[str, ...], referred: tuple[str, ...] | None) -> dict:
    return {
        "item_id": item_id,
        "forum_id": "forum",
        "unit_id": path[-1],
        "unit_path": path_text(path),
        "referred_to": referred[-1] if referred else None,
        "referred_path": path_text(referred) if referred else None,
        "channel": "community_meeting",
        "status": "raised",
        "published": True,
        "verified": True,
        "raised_on": "2026-10-01",
        "target_on": "2026-10-29",
        "themes": "[]",
        "created_at": "2026-10-01T10:00:00+00:00",
        "updated_at": "2026-10-01T10:00:00+00:00",
        "version": 1,
        "doc": "{}",
    }


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def found(engine: Engine, condition: Any) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(items.c.item_id).where(condition)))


def put(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(delete(items))
        conn.execute(insert(items), rows)


def both() -> tuple[Any, Any]:
    """An item's two places: where it was raised, and where it was referred."""
    return items.c.unit_path, items.c.referred_path


def assert_every_subtree_is_found(
    engine: Engine, tree: dict[str, tuple[str, ...]], data: st.DataObject
) -> None:
    """One item per unit of ``tree``, some referred to another; then, for each unit,
    its subtree finds exactly the items raised under it, referred under it, or either."""
    units = sorted(tree)
    referrals = {
        unit_id: data.draw(st.sampled_from([None, *units]), label=f"referred from {unit_id}")
        for unit_id in units
    }
    put(
        engine,
        [
            item_row(f"item-{unit_id}", tree[unit_id], tree[to] if to else None)
            for unit_id, to in referrals.items()
        ],
    )
    for unit_id in units:
        under = {f"item-{u}" for u in units if unit_id in tree[u]}
        assert found(engine, subtree(items.c.unit_path, tree[unit_id])) == under
        referred_under = {
            f"item-{u}" for u, to in referrals.items() if to is not None and unit_id in tree[to]
        }
        assert found(engine, subtree(items.c.referred_path, tree[unit_id])) == referred_under
        # a scope: raised in the unit's subtree, or referred into it
        assert found(engine, under_any(tree.get, [unit_id], *both())) == under | referred_under


@settings(max_examples=150, deadline=None)
@given(tree=trees(), data=st.data())
def test_a_subtree_is_the_unit_and_every_unit_below_it(
    engine: Engine, tree: dict[str, tuple[str, ...]], data: st.DataObject
) -> None:
    assert_every_subtree_is_found(engine, tree, data)


def test_a_unit_that_does_not_exist_has_nothing_under_it(engine: Engine) -> None:
    put(engine, [item_row("one", ("region", "ward"), None)])
    assert found(engine, subtree(items.c.unit_path, None)) == set()
    assert found(engine, under_any({}.get, ["nowhere"], *both())) == set()
    assert found(engine, under_any({}.get, [], *both())) == set()
    assert found(engine, subtree(items.c.unit_path, ("region",))) == {"one"}


def test_sqlite_reads_a_subtree_from_the_path_index(engine: Engine) -> None:
    """The range is served by ``ix_rm_items_unit_path``, not by reading every row."""
    query = select(items.c.item_id).where(subtree(items.c.unit_path, ("region", "ward")))
    with engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        plan = " ".join(str(row[-1]) for row in rows)
    assert "ix_rm_items_unit_path" in plan, plan
