"""Reads of the staff read model (``rm_items``): lists, counts, one item, the overdue.

Every staff read goes through here, inside the reader's scope (units and the
safeguarding restriction); the rows themselves are written by
``yswd.projections.staff_items``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Engine,
    and_,
    false,
    func,
    select,
)

from yswd.aggregates.access import Principal
from yswd.aggregates.gap_box import suggestion_detail_prefix
from yswd.aggregates.item import OPEN
from yswd.projections.item_tables import items, reveals, safeguarding
from yswd.projections.sql import UnitPaths, subtree, under_any

OPEN_STATUSES = sorted(status.value for status in OPEN)
#: item ids asked for in one query by ``titles``
TITLES_BATCH = 500


class StaffItemQueries:
    """Reads of ``staff_items`` for the HTTP edge, always filtered to the caller's scope."""

    def __init__(self, engine: Engine, today: Callable[[], date], paths: UnitPaths) -> None:
        self.engine = engine
        self.today = today
        self.paths = paths

    def scope_filter(self, principal: Principal) -> Any:
        """The items this caller may find: in scope, and, unless they may read flagged
        items, not under a safeguarding restriction."""
        in_scope = self._in_scope(principal, items.c.unit_path, items.c.referred_path)
        if principal.sees_safeguarding:
            return in_scope
        unrestricted = not_restricted()
        return unrestricted if in_scope is None else and_(in_scope, unrestricted)

    def _in_scope(self, principal: Principal, unit_path: Any, referred_path: Any) -> Any:
        if principal.covers_everything:
            return None
        if not principal.scopes:
            return false()
        return under_any(self.paths, principal.scopes, unit_path, referred_path)

    def safeguarding_queue(self, principal: Principal) -> list[str]:
        """Ids of the items with an open flag in this caller's scope, oldest flag first."""
        query = select(safeguarding.c.item_id).where(safeguarding.c.open.is_(True))
        scope = self._in_scope(principal, safeguarding.c.unit_path, safeguarding.c.referred_path)
        if scope is not None:
            query = query.where(scope)
        query = query.order_by(safeguarding.c.flagged_at, safeguarding.c.item_id)
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def overdue_flags(self, now: datetime) -> int:
        """Open flags nobody acknowledged by their acknowledgement time (every unit)."""
        now_iso = now.astimezone(UTC).isoformat()
        query = (
            select(func.count())
            .select_from(safeguarding)
            .where(safeguarding.c.open.is_(True))
            .where(safeguarding.c.acknowledged_at.is_(None))
            .where(safeguarding.c.ack_due_at < now_iso)
        )
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def reveals(self, principal: Principal, unit_id: str | None) -> list[dict[str, Any]]:
        """Reveals of items in the caller's scope (and under ``unit_id``), oldest first."""
        query = select(reveals.c.item_id, reveals.c.user_id, reveals.c.reason, reveals.c.at)
        scope = self._in_scope(principal, reveals.c.unit_path, reveals.c.referred_path)
        if scope is not None:
            query = query.where(scope)
        if unit_id is not None:
            query = query.where(
                under_any(self.paths, (unit_id,), reveals.c.unit_path, reveals.c.referred_path)
            )
        query = query.order_by(reveals.c.at, reveals.c.item_id, reveals.c.version)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def titles(self, principal: Principal, item_ids: list[str]) -> dict[str, str]:
        """The titles of those of ``item_ids`` this caller may find (as ``list_items``).

        An item out of their scope or under a restriction they may not read is left
        out, so a page can name only what the viewer could open anyway.
        """
        wanted = sorted(set(item_ids))
        scope = self.scope_filter(principal)
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), TITLES_BATCH):  # under SQLite's bound limit
                query = select(items.c.item_id, items.c.doc).where(
                    items.c.item_id.in_(wanted[start : start + TITLES_BATCH])
                )
                if scope is not None:
                    query = query.where(scope)
                for item_id, doc in conn.execute(query):
                    found[item_id] = str(orjson.loads(doc).get("title") or "")
        return found

    def overdue_filter(self) -> Any:
        return and_(
            items.c.status.in_(OPEN_STATUSES),
            items.c.first_response_on.is_(None),
            items.c.target_on < self.today().isoformat(),
        )

    def list_items(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        unit_id: str | None = None,
        forum_id: str | None = None,
        referred_to: str | None = None,
        overdue: bool | None = None,
        limit: int = 500,
        offset: int = 0,
        order: str = "newest",
    ) -> list[dict[str, Any]]:
        query = select(items.c.doc, items.c.target_on)
        conditions = [self.scope_filter(principal)]
        if status:
            conditions.append(items.c.status == status)
        if unit_id:
            conditions.append(
                under_any(self.paths, (unit_id,), items.c.unit_path, items.c.referred_path)
            )
        if forum_id:
            conditions.append(items.c.forum_id == forum_id)
        if referred_to:
            conditions.append(subtree(items.c.referred_path, self.paths(referred_to)))
        if overdue is True:
            conditions.append(self.overdue_filter())
        elif overdue is False:
            conditions.append(~self.overdue_filter())
        for condition in conditions:
            if condition is not None:
                query = query.where(condition)
        if order == "due":
            query = query.order_by(items.c.target_on, items.c.created_at)
        else:
            query = query.order_by(items.c.raised_on.desc(), items.c.created_at.desc())
        query = query.limit(limit).offset(offset)
        today = self.today().isoformat()
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        docs = []
        for doc_text, target_on in rows:
            doc = json.loads(doc_text)
            doc["overdue"] = is_overdue(doc, target_on, today)
            docs.append(doc)
        return docs

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(items)) or 0)

    def gap_box_views(
        self, forum_id: str, box_id: str, *, published_only: bool
    ) -> list[dict[str, Any]]:
        """The staff views of the ``gap_box`` items of ``forum_id`` left in ``box_id``,
        oldest first (with ``published_only``, those on public boards only).

        An item names its box in its ``detail`` (``suggestion_detail_prefix``); the
        forum's index narrows the rows first.
        """
        query = select(items.c.doc).where(
            items.c.forum_id == forum_id, items.c.channel == "gap_box"
        )
        if published_only:
            query = query.where(items.c.published.is_(True))
        query = query.order_by(items.c.created_at, items.c.item_id)
        prefix = suggestion_detail_prefix(box_id)
        with self.engine.connect() as conn:
            docs = [orjson.loads(doc) for doc in conn.scalars(query)]
        return [doc for doc in docs if (doc.get("detail") or "").startswith(prefix)]


def not_restricted() -> Any:
    """Rows of ``rm_items`` not under a safeguarding restriction (for ordinary answers)."""
    restricted = select(safeguarding.c.item_id).where(safeguarding.c.restricted.is_(True))
    return items.c.item_id.not_in(restricted)


def is_restricted(doc: dict[str, Any]) -> bool:
    """Whether an item's staff view is under a safeguarding restriction."""
    return bool(doc.get("restricted"))


def is_overdue(doc: dict[str, Any], target_on: str, today: str) -> bool:
    """Open, no first response yet, and its target date has passed."""
    return doc["status"] in OPEN_STATUSES and not doc.get("first_response_at") and target_on < today
