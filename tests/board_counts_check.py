"""For tests: ``rm_board_counts`` as stored, and as a plain count over ``rm_items`` gives it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from yswd.projections.item_tables import board_counts_table, items

Counts = dict[tuple[str, str, str], int]


def published_rows(engine: Engine, *columns: Any) -> list[Any]:
    """The given columns of every published item row."""
    with engine.connect() as conn:
        return list(conn.execute(select(*columns).where(items.c.published.is_(True))).all())


def stored_counts(engine: Engine) -> Counts:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                board_counts_table.c.unit_path,
                board_counts_table.c.status,
                board_counts_table.c.theme,
                board_counts_table.c.n,
            )
        ).all()
    return {(path, status, theme): n for path, status, theme, n in rows}


def counted_from_items(engine: Engine) -> Counts:
    """Every published item once under its unit and status, and once more per theme."""
    found: Counts = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(items.c.unit_path, items.c.status, items.c.published, items.c.themes)
        ).all()
    for path, status, published, themes in rows:
        if not published:
            continue
        for theme in {"", *json.loads(themes)}:
            found[(path, status, theme)] = found.get((path, status, theme), 0) + 1
    return found


def assert_counts_match_items(engine: Engine) -> None:
    assert stored_counts(engine) == counted_from_items(engine)
