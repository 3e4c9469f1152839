"""The read-model queries an audit answers from (``yswd.application.ports.AuditTrail``).

The hash chain (``audit_chain``), the access log (``access_log``) and the item
rows (``staff_items``) each own their tables; this module only reads them, so
the audit service in the application layer needs no SQL of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import Engine, select

from yswd.aggregates.access import Principal
from yswd.projections.access_log import list_reads
from yswd.projections.audit_chain import audit_chain
from yswd.projections.item_tables import items
from yswd.projections.sql import UnitPaths, under_any

#: chain rows read per query while the whole chain is walked
CHAIN_BATCH = 1000


def _in_scope(principal: Principal, paths: UnitPaths) -> Any:
    """The item rows in a scoped principal's scope: its forum's unit or where it was
    referred lies under one of their units (as ``Items.item_in_scope`` decides)."""
    return under_any(paths, principal.scopes, items.c.unit_path, items.c.referred_path)


class ChainRow(NamedTuple):
    """One row of the hash chain: the event at a log position, and its hash."""

    position: int
    originator_id: str
    originator_version: int
    hash: str


class AuditQueries:
    """Reads of the chain, the recorded reads and the item rows, for ``Audit``."""

    def __init__(self, engine: Engine, paths: UnitPaths) -> None:
        self.engine = engine
        self.paths = paths

    def chain_hashes(self, aggregate_id: str) -> dict[int, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(audit_chain.c.originator_version, audit_chain.c.hash).where(
                    audit_chain.c.originator_id == aggregate_id
                )
            )
            return {version: digest for version, digest in rows}

    def chain_hashes_by_position(self) -> dict[int, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_chain.c.position, audit_chain.c.hash))
            return {position: digest for position, digest in rows}

    def chain_links(self) -> Iterator[ChainRow]:
        after = 0
        while True:
            with self.engine.connect() as conn:
                rows = list(
                    conn.execute(
                        select(
                            audit_chain.c.position,
                            audit_chain.c.originator_id,
                            audit_chain.c.originator_version,
                            audit_chain.c.hash,
                        )
                        .where(audit_chain.c.position > after)
                        .order_by(audit_chain.c.position)
                        .limit(CHAIN_BATCH)
                    )
                )
            if not rows:
                return
            for row in rows:
                yield ChainRow(*row)
            after = rows[-1].position

    def reads(
        self,
        *,
        user_id: str | None,
        item_id: str | None,
        limit: int,
        offset: int,
        within: Principal | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        items_in = None
        if within is not None and not within.covers_everything:
            items_in = select(items.c.item_id).where(_in_scope(within, self.paths))
        return list_reads(
            self.engine,
            user_id=user_id,
            item_id=item_id,
            limit=limit,
            offset=offset,
            items_in=items_in,
        )

    def contributors(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.item_id, items.c.contributor).where(items.c.contributor.is_not(None))
            ).all()
        return [(item_id, contributor) for item_id, contributor in rows]
