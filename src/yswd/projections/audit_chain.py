"""Read model ``audit_chain``: a SHA-256 hash chain over every stored event.

Each row's hash covers the event exactly as stored (originator id, version,
topic and state bytes, after encryption) and the previous row's hash. Erasure
destroys keys but never rewrites stored bytes, so the chain stays valid after
it. ``yswd.audit.verify`` re-reads the event log and compares.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    select,
)

metadata = MetaData()

audit_chain = Table(
    "audit_chain",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("originator_id", String(200), nullable=False),
    Column("originator_version", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_chain_originator", "originator_id", "originator_version"),
)

#: the "previous hash" of the first event
GENESIS = "0" * 64


def _framed(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


def chain_hash(previous: str, stored: Any) -> str:
    """The hash of one stored event (or Notification), chained to ``previous``."""
    return hashlib.sha256(
        _framed(
            bytes.fromhex(previous),
            str(stored.originator_id).encode(),
            str(stored.originator_version).encode(),
            stored.topic.encode(),
            bytes(stored.state),
        )
    ).hexdigest()


class AuditChain:
    """Appends one chained hash per stored event, in notification order."""

    name = "audit_chain"
    metadata = metadata
    wants_stored_form = True

    def __init__(self) -> None:
        # the last hash written in the current batch's transaction: a batch that
        # rolls back ends with its connection, and a new connection reads the table
        self._last: tuple[Connection, str] | None = None

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if self._last is not None and self._last[0] is conn:
            previous = self._last[1]
        else:
            found = conn.execute(
                select(audit_chain.c.hash).order_by(audit_chain.c.position.desc()).limit(1)
            ).scalar()
            previous = found or GENESIS
        digest = chain_hash(previous, event)
        conn.execute(
            audit_chain.insert(),
            {
                "position": position,
                "originator_id": str(event.originator_id),
                "originator_version": event.originator_version,
                "hash": digest,
            },
        )
        self._last = (conn, digest)

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(audit_chain))
        self._last = None
