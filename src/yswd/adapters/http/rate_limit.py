"""An in-memory sliding-window rate limiter, keyed by client address.

It lives in one process: with several ``yswd serve`` replicas each one counts
on its own, so the effective limit is the per-process limit times the replicas.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from yswd.aggregates.errors import RateLimited

#: forget idle clients once this many are tracked, so memory stays bounded
SWEEP_AT = 10_000


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions per client in any ``window_seconds``."""

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError("limit must be at least 1 and the window positive")
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str) -> None:
        """Count one request from ``client``, or raise ``RateLimited`` with Retry-After."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(client)
            if hits is None:
                if len(self._hits) >= SWEEP_AT:
                    self._sweep(now)
                hits = self._hits[client] = deque()
            self._forget_old(hits, now)
            if len(hits) >= self.limit:
                retry_after = max(1, math.ceil(hits[0] + self.window - now))
                raise RateLimited(
                    f"Too many suggestions from your address; try again in {retry_after} seconds.",
                    retry_after,
                )
            hits.append(now)

    def _forget_old(self, hits: deque[float], now: float) -> None:
        while hits and hits[0] <= now - self.window:
            hits.popleft()

    def _sweep(self, now: float) -> None:
        for client in list(self._hits):
            hits = self._hits[client]
            self._forget_old(hits, now)
            if not hits:
                del self._hits[client]
