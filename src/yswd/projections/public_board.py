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
from yswd.projections.sql import UnitPaths, subtree
from yswd.projections.staff_items import items

STATUSES = ("raised", "referred", "responded", "done", "couldnt_do")


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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

    def _published(self, unit_id: str) -> Any:
        return self.published_under(self.paths(unit_id))

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
        """One page of the board, newest activity first, with counts over the whole subtree."""
        published = self._published(unit_id)
        wanted = published
        if statuses:
            wanted = wanted & items.c.status.in_(statuses)
        if theme is not None:
            pattern = "%" + _like_escape(json.dumps(theme)) + "%"
            wanted = wanted & items.c.themes.like(pattern, escape="\\")
        page_query = (
            select(items.c.doc)
            .where(wanted)
            .order_by(items.c.updated_at.desc(), items.c.item_id.desc())
            .limit(limit)
            .offset(offset)
        )
        counts_query = (
            select(items.c.status, func.count()).where(published).group_by(items.c.status)
        )
        with self.engine.connect() as conn:
            docs = [json.loads(doc) for doc in conn.scalars(page_query)]
            total = int(conn.scalar(select(func.count()).select_from(items).where(wanted)) or 0)
            found = {status_: int(n) for status_, n in conn.execute(counts_query)}
            theme_lists = (
                conn.scalars(select(items.c.themes).where(published).distinct()).all()
                if with_themes
                else []
            )
        counts = {name: found.get(name, 0) for name in STATUSES}
        themes = sorted({t for text in theme_lists for t in json.loads(text)}, key=str.casefold)
        return BoardPage(
            counts=counts,
            items=[public_view(doc) for doc in docs],
            total=total,
            themes=themes,
        )
