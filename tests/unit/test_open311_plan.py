"""Open311's lists are not read from the status index, which holds a nation's items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.projections.item_tables import items
from yswd.projections.open311 import CLOSED_STATUSES, OPEN_STATUSES, Open311Queries
from yswd.settings import Settings


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path / "data", run_projections=False))
    built.app.create_unit(SYSTEM, "trust", "A trust", None)
    built.app.create_unit(SYSTEM, "oak", "Oak ward", "trust")
    built.app.create_forum(SYSTEM, "oak-cm", "Oak meeting", "oak", ForumKind.COMMUNITY_MEETING)
    yield built
    built.close()


@pytest.mark.parametrize("unit_id", ["oak", None])
@pytest.mark.parametrize("statuses", [CLOSED_STATUSES, OPEN_STATUSES])
def test_a_status_filter_is_not_read_from_the_status_index(
    container: Container, unit_id: str | None, statuses: tuple[str, ...]
) -> None:
    """SQLite read every closed item of the 1M-event bench store by the status index to
    answer a ward's 90-day window (0.62 s); by path or date it reads a few (35 ms)."""
    queries = Open311Queries(container.engine, container.unit_path)
    wanted = queries.wanted(
        unit_id, statuses=statuses, raised_from=date(2026, 9, 1), raised_to=date(2026, 11, 30)
    )
    query = select(items.c.doc).where(wanted).order_by(items.c.raised_on.desc()).limit(50)
    with container.engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    plan = " ".join(str(row[3]) for row in rows)
    assert "ix_rm_items_status" not in plan, plan
