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

from yswd.projections.sql import driver_sql, insert_many

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

_BEFORE = "SELECT hash FROM audit_chain WHERE position <= ? ORDER BY position DESC LIMIT 1"
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
    """Appends one chained hash per stored event, in notification order.

    The hashing needs nothing but the stored bytes and the hash before, so the
    runner may do it before the batch's write transaction (``prepare_batch``)
    and hold the write lock only for the insert (``write_batch``); and a rebuild
    runs it in a process of its own (``rebuilds_apart``), beside the other models.
    """

    name = "audit_chain"
    metadata = metadata
    wants_stored_form = True
    #: a rebuild may run this model in another process (``ProjectionRunner.rebuild``)
    rebuilds_apart = True
    #: where it is not (SQLite), its hashing stays with the runner, beside the writes,
    #: while the items are folded ahead in another process. Hashed ahead as well, the
    #: rebuild was slower: in the items' process (200k events: 4.1-4.8 s against
    #: 3.9-4.2 s), and in a third (1M events: 27.6-30.8 s against 23.0-23.2 s)
    prepares_ahead = False
    #: writes go by position (the primary key): a rebuild builds these at the end
    bulk_indexes = tuple(audit_chain.indexes)
    #: emptied for a rebuild with TRUNCATE on PostgreSQL (``ProjectionRunner.rebuild``)
    bulk_tables = (audit_chain,)

    def __init__(self) -> None:
        #: (position, hash) of the last row this object worked out. Trusted only for
        #: a batch that follows that very position; after a rollback or another
        #: runner's batch the positions differ and the table is read instead (the
        #: hashes are the same whoever works them out).
        self._last: tuple[int, str] | None = None

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        self.apply_batch(conn, [(position, event)])

    def apply_batch(self, conn: Connection, events: list[tuple[int, Any]]) -> None:
        """Chain every stored event of the batch, then insert the rows with one executemany."""
        if events:
            self.write_batch(conn, self.prepare_batch(conn, events, after=events[0][0] - 1))

    def prepare_batch(
        self, conn: Connection, events: list[tuple[int, Any]], after: int
    ) -> list[tuple[int, str, int, str]]:
        """The rows of ``events``, chained to the row at or before position ``after``.

        ``conn`` may be a plain read connection: nothing is written here.
        """
        if not events:
            return []
        link = bytes.fromhex(self._previous(conn, after))
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
        # kept as soon as it is worked out (the position check above makes a batch
        # that rolled back, or another runner's, read the table instead)
        self._last = (rows[-1][0], rows[-1][3])
        return rows

    def write_batch(self, conn: Connection, rows: list[tuple[int, str, int, str]]) -> None:
        """Insert rows made by ``prepare_batch``, inside the batch's transaction."""
        if not rows:
            return
        insert_many(conn, audit_chain.name, _COLUMNS, rows)

    def _previous(self, conn: Connection, after: int) -> str:
        """The hash of the chain's row at or before ``after`` (the genesis if none)."""
        if self._last is not None and self._last[0] == after:
            return self._last[1]
        found = conn.exec_driver_sql(driver_sql(conn, _BEFORE), (after,)).scalar()
        return str(found or GENESIS)

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(audit_chain))
        self._last = None
