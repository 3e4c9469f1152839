"""Answers computed from read models, kept until the rows they come from change."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, TypeVar, cast

from sqlalchemy import Engine

from yswd.projections.sql import driver_sql

T = TypeVar("T")

#: what a replica keeps of public answers at most: encoded boards and figures of some
#: thousands of wards (a board's page is 5-50 KB)
MAX_BYTES = 32 * 2**20
#: what one kept answer costs besides its bytes: its key, versions and the dict entry
ENTRY_BYTES = 512


class AnswerCache:
    """Answers computed from read models, kept until the data they come from changes.

    Each lookup first runs ``version_sql`` (one small query; by default every read
    model's tracking position), and an answer stored under another version is
    computed again. Reading the version first means a stored answer is never
    older than its key. Used for public reads that every visitor asks for
    (boards, metrics); those pass the item rows' change counter, so an audited
    staff read or a new user does not throw their answers away.

    An answer about one unit's subtree (``get(..., unit_id=...)``) is versioned by
    ``unit_version_sql`` instead, that unit's own change counter, so a ward's board
    is kept while the nation's other wards change.

    What is kept is bounded in bytes, not in answers (``max_bytes``; an encoded
    answer counts its length, each answer ``ENTRY_BYTES`` more): the least recently
    read go first, so many small wards' boards are kept side by side, a few large
    ones push them out, and no set of queries grows the process beyond the bound.
    An answer larger than the whole bound is answered and not kept.
    """

    def __init__(
        self,
        engine: Engine,
        max_bytes: int = MAX_BYTES,
        version_sql: str | None = None,
        unit_version_sql: str | None = None,
    ) -> None:
        self.engine = engine
        self.max_bytes = max_bytes
        self._sql = version_sql or "SELECT name, position FROM projection_tracking ORDER BY name"
        self._unit_sql = unit_version_sql
        #: key -> (versions, answer, bytes it counts for)
        self._entries: OrderedDict[Hashable, tuple[tuple[Any, ...], Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        #: the bytes counted for every answer kept
        self.kept_bytes = 0
        self.hits = 0
        self.misses = 0
        #: reads that waited for the same answer another read was computing
        self.shared = 0
        #: answers being computed, by key and version: what a read of either waits for
        self._flights: dict[tuple[Hashable, tuple[Any, ...]], Future[Any]] = {}

    def positions(self, unit_id: str | None = None) -> tuple[Any, ...]:
        with self.engine.connect() as conn:
            if unit_id is not None and self._unit_sql is not None:
                sql = driver_sql(conn, self._unit_sql)
                return ("unit", *(tuple(row) for row in conn.exec_driver_sql(sql, (unit_id,))))
            rows = conn.exec_driver_sql(self._sql).all()
        return tuple(tuple(row) for row in rows)

    def get(self, key: Hashable, compute: Callable[[], T], unit_id: str | None = None) -> T:
        """The answer kept under ``key``, or ``compute()``'s, kept from now on. With
        ``unit_id``: an answer computed from the items raised under that unit only.

        One answer is computed once at a time: a request that misses while another
        computes the same key at the same version waits for that answer (counted as
        ``shared``). A region's figures cost seconds of CPU on a national store; a
        burst of readers after a story about a ward goes public costs one of them.
        If the computation fails, each waiting request fails with the same error.
        """
        positions = self.positions(unit_id)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == positions:
                self._entries.move_to_end(key)
                self.hits += 1
                return cast(T, found[1])
            flight = self._flights.get((key, positions))
            leader = flight is None
            if flight is None:
                flight = self._flights[(key, positions)] = Future()
            else:
                self.shared += 1
        if not leader:
            return cast(T, flight.result())
        try:
            value = compute()
        except BaseException as error:
            with self._lock:
                del self._flights[(key, positions)]
            flight.set_exception(error)
            raise
        self._keep(key, positions, value)
        with self._lock:
            del self._flights[(key, positions)]
        flight.set_result(value)
        return value

    def resize(self, max_bytes: int) -> None:
        """Keep at most ``max_bytes`` from now on, the least recently read going first
        (0: keep nothing, so every answer is computed afresh, as the benchmarks ask)."""
        with self._lock:
            self.max_bytes = max_bytes
            self._evict()

    def _evict(self) -> None:
        while self.kept_bytes > self.max_bytes:
            _, (_, _, freed) = self._entries.popitem(last=False)
            self.kept_bytes -= freed

    def _keep(self, key: Hashable, positions: tuple[Any, ...], value: Any) -> None:
        cost = ENTRY_BYTES + (len(value) if isinstance(value, (bytes, str)) else 0)
        with self._lock:
            self.misses += 1
            old = self._entries.pop(key, None)
            if old is not None:
                self.kept_bytes -= old[2]
            if cost <= self.max_bytes:
                self._entries[key] = (positions, value, cost)
                self.kept_bytes += cost
                self._evict()
