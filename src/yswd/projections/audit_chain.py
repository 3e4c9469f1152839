"""Read model ``audit_chain``: a SHA-256 hash chain over every stored event.

Each row's hash covers the event exactly as stored (originator id, version,
topic and state bytes, after encryption) and the previous row's hash. Erasure
destroys keys but never rewrites stored bytes, so the chain stays valid after
it. ``yswd.audit.verify`` re-reads the event log and compares.
"""

from __future__ import annotations

import hashlib
import struct
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
)

from yswd.projections.sql import insert_many

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
#: a link's length prefix (a SHA-256 digest is 32 bytes)
_LINK_LENGTH = (32).to_bytes(8, "big")
#: a part's length prefix, as ``_framed`` writes it
_length = struct.Struct(">Q").pack
#: each topic with its length prefix, framed once
_FRAMED_TOPICS: dict[str, bytes] = {}

_LAST = "SELECT hash FROM audit_chain ORDER BY position DESC LIMIT 1"
_COLUMNS = ("position", "originator_id", "originator_version", "hash")


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
    #: writes go by position (the primary key): a rebuild builds these at the end
    bulk_indexes = tuple(audit_chain.indexes)

    def __init__(self) -> None:
        # the last hash written in the current batch's transaction: a batch that
        # rolls back ends with its connection, and a new connection reads the table
        self._last: tuple[Connection, str] | None = None

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        self.apply_batch(conn, [(position, event)])

    def apply_batch(self, conn: Connection, events: list[tuple[int, Any]]) -> None:
        """Chain every stored event of the batch, then insert the rows with one executemany."""
        if not events:
            return
        previous: str
        if self._last is not None and self._last[0] is conn:
            previous = self._last[1]
        else:
            found = conn.exec_driver_sql(_LAST).scalar()
            previous = str(found or GENESIS)
        link = bytes.fromhex(previous)
        rows = []
        sha256 = hashlib.sha256
        join = b"".join
        topics = _FRAMED_TOPICS
        for position, stored in events:
            originator_id = str(stored.originator_id)
            version = str(stored.originator_version).encode()
            topic = topics.get(stored.topic)
            if topic is None:
                topic = topics[stored.topic] = _framed(stored.topic.encode())
            state = bytes(stored.state)
            identity = originator_id.encode()
            # the same framing as chain_hash, without a hex round trip per event
            link = sha256(
                join(
                    (
                        _LINK_LENGTH,
                        link,
                        _length(len(identity)),
                        identity,
                        _length(len(version)),
                        version,
                        topic,
                        _length(len(state)),
                        state,
                    )
                )
            ).digest()
            rows.append((position, originator_id, stored.originator_version, link.hex()))
        insert_many(conn, audit_chain.name, _COLUMNS, rows)
        self._last = (conn, link.hex())

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(audit_chain))
        self._last = None
