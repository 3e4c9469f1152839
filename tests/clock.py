"""The tests' calendar: time is an input, in tests too.

A test that builds the app in its own process gives it ``ticking_clock()`` and takes
every date it types, sends or expects from ``TODAY`` (``days_ago``, ``days_ahead``),
never from the machine's date. So the suite answers the same on any day, with the
system clock moved a year either way (``faketime -f '+365d'``, as CI runs it).

A test that drives a real ``yswd serve`` in another process cannot inject a clock;
it takes its dates relative to that process's today (``datetime.now(UTC).date()``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

#: the day every in-process app of the tests believes it is (the unit tests' NOW)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def ticking_clock(start: datetime = NOW) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and runs at the real rate.

    Events keep their order and their real spacing (timestamps still move on
    between two writes), but the date is ``start``'s for the whole test run,
    whatever the machine's clock says.
    """
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def days_ago(days: int, today: date = TODAY) -> str:
    """The ISO date ``days`` before ``today``."""
    return (today - timedelta(days=days)).isoformat()


def days_ahead(days: int, today: date = TODAY) -> str:
    """The ISO date ``days`` after ``today``."""
    return (today + timedelta(days=days)).isoformat()
