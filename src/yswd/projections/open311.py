"""Open311 GeoReport v2 service requests, read from the public board's rows.

Only what the public board may show leaves this module: published items, in
their public view, with the target date and channel from the row. Which items
are public is the board's own rule (``PublicBoardQueries.visible``), so a rule
added there (a safeguarding flag, say) holds here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, func, select

from yswd.aggregates.item_views import public_view
from yswd.projections.item_tables import items
from yswd.projections.organisation import units
from yswd.projections.public_board import PublicBoardQueries
from yswd.projections.sql import Unindexed, UnitPaths

OPEN_STATUSES = ("raised", "referred", "responded")
CLOSED_STATUSES = ("done", "couldnt_do")


@dataclass(frozen=True)
class ServiceRequest:
    """One published item as Open311 sees it: its public view and its row's facts."""

    public: dict[str, Any]
    channel: str
    unit_name: str
    target_on: str


@dataclass(frozen=True)
class RequestPage:
    requests: list[ServiceRequest]
    total: int


class Open311Queries:
    """Published items of a unit's subtree (or of every unit), for GeoReport v2."""

    def __init__(self, engine: Engine, paths: UnitPaths) -> None:
        self.engine = engine
        self._board = PublicBoardQueries(engine, paths)

    def _visible(self, unit_id: str | None) -> Any:
        if unit_id is not None:
            return self._board.published_under(self._board.paths(unit_id))
        # every root's subtree: the board's rule, for each top-level unit
        with self.engine.connect() as conn:
            roots = list(conn.scalars(select(units.c.id).where(units.c.parent_id.is_(None))))
        wanted: Any = None
        for root in roots:
            clause = self._board.published_under((root,))
            wanted = clause if wanted is None else wanted | clause
        return wanted if wanted is not None else items.c.item_id.is_(None)

    def requests(self, wanted: Any, *, limit: int = 1000, offset: int = 0) -> RequestPage:
        """The rows ``wanted`` picks (``Open311Queries.wanted``), newest raised first, as
        GeoReport's lists usually are."""
        query = (
            select(items.c.doc, items.c.channel, items.c.target_on, units.c.name)
            .join(units, units.c.id == items.c.unit_id)
            .where(wanted)
            .order_by(items.c.raised_on.desc(), items.c.item_id.desc())
            .limit(limit)
            .offset(offset)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            total = int(conn.scalar(select(func.count()).select_from(items).where(wanted)) or 0)
        return RequestPage(
            requests=[
                ServiceRequest(
                    public=public_view(json.loads(doc)),
                    channel=channel,
                    unit_name=name,
                    target_on=target_on,
                )
                for doc, channel, target_on, name in rows
            ],
            total=total,
        )

    def wanted(
        self,
        unit_id: str | None,
        *,
        statuses: tuple[str, ...] = (),
        channels: tuple[str, ...] = (),
        ids: tuple[str, ...] = (),
        raised_from: date | None = None,
        raised_to: date | None = None,
    ) -> Any:
        """The published rows of ``unit_id``'s subtree (of every unit: None) that a list
        of requests reads, with its filters."""
        wanted = self._visible(unit_id)
        if statuses:
            # not from the status index: SQLite read a nation's closed items by it to
            # find a 90-day window's (0.48 s on the 1M-event bench store, for none)
            wanted = wanted & Unindexed(items.c.status).in_(statuses)
        if channels:
            wanted = wanted & items.c.channel.in_(channels)
        if ids:
            wanted = wanted & items.c.item_id.in_(ids)
        if raised_from is not None:
            wanted = wanted & (items.c.raised_on >= raised_from.isoformat())
        if raised_to is not None:
            wanted = wanted & (items.c.raised_on <= raised_to.isoformat())
        return wanted

    def request(self, item_id: str) -> ServiceRequest | None:
        found = self.requests(self.wanted(None, ids=(item_id,)), limit=1).requests
        return found[0] if found else None
