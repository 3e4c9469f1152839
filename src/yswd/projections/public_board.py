"""The public board: published items of a unit's subtree, in the public view only.

Rows come from the ``rm_items`` read model. Each item is turned into
``public_view`` (approved wording, response text and dates, outcomes) before
it leaves this module, so detail, contributor and actors never reach a page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from yswd.aggregates.item_views import public_view
from yswd.projections.board_counts import EVERY_ITEM
from yswd.projections.item_tables import board_counts_table as per_unit
from yswd.projections.item_tables import items
from yswd.projections.sql import Holds, Unindexed, UnitPaths, subtree

STATUSES = ("raised", "referred", "responded", "done", "couldnt_do")


@dataclass(frozen=True)
class BoardPage:
    counts: dict[str, int]
    items: list[dict[str, Any]]
    total: int
    themes: list[str]


class PublicBoardQueries:
    """Reads of published items for the public board, feed and poster."""

    def __init__(self, engine: Engine, paths: UnitPaths) -> None:
        self.engine = engine
        self.paths = paths

    @staticmethod
    def published_under(path: Sequence[str] | None) -> Any:
        """The published items of the subtree of the unit whose path is ``path``."""
        return (items.c.published.is_(True)) & subtree(items.c.unit_path, path)

    def board(
        self,
        unit_id: str,
        *,
        statuses: tuple[str, ...] = (),
        theme: str | None = None,
        limit: int = 20,
        offset: int = 0,
        with_themes: bool = False,
    ) -> BoardPage:
        """One page of the board, newest activity first, with counts over the whole subtree.

        The counts, the total and the themes are sums over ``rm_board_counts`` (a row
        per unit, status and theme), not counts over the items. The page is read in
        one of two orders, whichever reads fewer rows (SQLite is told which; the
        PostgreSQL planner weighs it with its own statistics): a small subtree's
        rows by unit path and then sorted, or, for an area holding a large share of
        the board, every item newest first (``ix_rm_items_updated``) until ``limit``
        of the area's published ones are found. (SQLite, left to itself, read a
        region's quarter of a million rows by path and sorted them: 0.46 s a page.)
        """
        path = self.paths(unit_id)
        counted = subtree(per_unit.c.unit_path, path)
        chosen = per_unit.c.theme == (theme if theme is not None else EVERY_ITEM)
        if statuses:
            chosen = chosen & per_unit.c.status.in_(statuses)
        with self.engine.connect() as conn:
            found = {
                status_: int(n)
                for status_, n in conn.execute(
                    select(per_unit.c.status, func.sum(per_unit.c.n))
                    .where(counted & (per_unit.c.theme == EVERY_ITEM))
                    .group_by(per_unit.c.status)
                )
            }
            total = int(conn.scalar(select(func.sum(per_unit.c.n)).where(counted & chosen)) or 0)
            everywhere = (
                int(
                    conn.scalar(
                        select(func.sum(per_unit.c.n)).where(per_unit.c.theme == EVERY_ITEM)
                    )
                    or 0
                )
                if total
                else 0
            )
            # the walk reads about (offset + limit) x everywhere / total rows, the
            # range every item of the subtree (published or not, about twice ``here``)
            here = sum(found.values())
            walk = (offset + limit) * everywhere < total * here
            docs = (
                [
                    json.loads(doc)
                    for doc in conn.scalars(
                        self._page(path, statuses, theme, walk).limit(limit).offset(offset)
                    )
                ]
                if total
                else []
            )
            themes = (
                sorted(
                    conn.scalars(
                        select(per_unit.c.theme)
                        .where(counted & (per_unit.c.theme != EVERY_ITEM))
                        .distinct()
                    ),
                    key=str.casefold,
                )
                if with_themes
                else []
            )
        return BoardPage(
            counts={name: found.get(name, 0) for name in STATUSES},
            items=[public_view(doc) for doc in docs],
            total=total,
            themes=themes,
        )

    @staticmethod
    def _page(
        path: Sequence[str] | None, statuses: tuple[str, ...], theme: str | None, walk: bool
    ) -> Any:
        """The board's items, newest activity first: read in order (``walk``), or by path."""
        unit_path: Any = Unindexed(items.c.unit_path) if walk else items.c.unit_path
        wanted = items.c.published.is_(True) & subtree(unit_path, path)
        if statuses:
            wanted = wanted & Unindexed(items.c.status).in_(statuses)
        if theme is not None:
            wanted = wanted & Holds(items.c.themes, json.dumps(theme))
        return (
            select(items.c.doc)
            .where(wanted)
            .order_by(items.c.updated_at.desc(), items.c.item_id.desc())
        )
