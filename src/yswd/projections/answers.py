"""Answers computed from read models, kept until the rows they come from change."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from sqlalchemy import Engine

from yswd.projections.sql import driver_sql

T = TypeVar("T")


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
    """

    def __init__(
        self,
        engine: Engine,
        size: int = 512,
        version_sql: str | None = None,
        unit_version_sql: str | None = None,
    ) -> None:
        self.engine = engine
        self.size = size
        self._sql = version_sql or "SELECT name, position FROM projection_tracking ORDER BY name"
        self._unit_sql = unit_version_sql
        self._entries: OrderedDict[Hashable, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def positions(self, unit_id: str | None = None) -> tuple[Any, ...]:
        with self.engine.connect() as conn:
            if unit_id is not None and self._unit_sql is not None:
                sql = driver_sql(conn, self._unit_sql)
                return ("unit", *(tuple(row) for row in conn.exec_driver_sql(sql, (unit_id,))))
            rows = conn.exec_driver_sql(self._sql).all()
        return tuple(tuple(row) for row in rows)

    def get(self, key: Hashable, compute: Callable[[], T], unit_id: str | None = None) -> T:
        """The answer kept under ``key``, or ``compute()``'s, kept from now on. With
        ``unit_id``: an answer computed from the items raised under that unit only."""
        positions = self.positions(unit_id)
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == positions:
                self._entries.move_to_end(key)
                self.hits += 1
                return cast(T, found[1])
        value = compute()
        with self._lock:
            self.misses += 1
            self._entries[key] = (positions, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value
