"""Public response-time metrics: the contract's figures, computed over plain rows.

``compute_metrics`` is pure (rows and today's date in, figures out), so its
definitions are unit-tested with hand-worked answers. ``MetricsQueries`` reads
the rows from the ``rm_items`` read model: published items only, of one unit's
subtree (or every unit), raised inside an inclusive date window.

Definitions (see the HTTP contract, "Public"):

- first response: the item's first respond, complete or decline ever; close: the
  latest complete or decline of an item that is closed now. Days are whole days
  from ``raised_on`` to the UTC date on which that event was recorded.
- target date: ``due_on`` where given, else ``raised_on`` + target days.
- ``responded_within_target_pct``: of the items that have had a first response or
  whose target date has passed, the share whose first response came on or before
  the target date, as a percentage with one decimal.
- ``overdue``: open items whose target date has passed with no first response.
- median and 90th percentile: ``statistics.quantiles(..., method="inclusive")``;
  a single value is its own median and 90th percentile; nothing to measure → None.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from yswd.projections.staff_items import items, subtree

OPEN = frozenset({"raised", "referred", "responded"})
CLOSED = frozenset({"done", "couldnt_do"})


@dataclass(frozen=True)
class MetricRow:
    """What the metrics need of one item."""

    status: str
    raised_on: date
    target_on: date
    first_response_on: date | None = None
    closed_on: date | None = None


def quantile(values: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile by inclusive linear interpolation; None when empty."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    if percent == 50:
        return statistics.quantiles(values, n=2, method="inclusive")[0]
    if percent % 10 == 0:
        return statistics.quantiles(values, n=10, method="inclusive")[percent // 10 - 1]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def compute_metrics(rows: Iterable[MetricRow], today: date) -> dict[str, Any]:
    """Every public figure over ``rows`` as of ``today`` (a UTC date)."""
    rows = list(rows)
    first_response_days = [
        (row.first_response_on - row.raised_on).days
        for row in rows
        if row.first_response_on is not None
    ]
    close_days = [
        (row.closed_on - row.raised_on).days
        for row in rows
        if row.status in CLOSED and row.closed_on is not None
    ]
    measured = [row for row in rows if row.first_response_on is not None or row.target_on < today]
    on_time = [
        row
        for row in measured
        if row.first_response_on is not None and row.first_response_on <= row.target_on
    ]
    within_pct = round(100 * len(on_time) / len(measured), 1) if measured else None
    return {
        "items_raised": len(rows),
        "open": sum(1 for row in rows if row.status in OPEN),
        "responded": sum(1 for row in rows if row.status == "responded"),
        "done": sum(1 for row in rows if row.status == "done"),
        "couldnt_do": sum(1 for row in rows if row.status == "couldnt_do"),
        "median_days_to_first_response": quantile(first_response_days, 50),
        "p90_days_to_first_response": quantile(first_response_days, 90),
        "median_days_to_close": quantile(close_days, 50),
        "responded_within_target_pct": within_pct,
        "overdue": sum(
            1
            for row in rows
            if row.status in OPEN and row.first_response_on is None and row.target_on < today
        ),
    }


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


class MetricsQueries:
    """Reads the metric rows of published items from ``rm_items``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def rows(
        self,
        unit_id: str | None = None,
        raised_from: date | None = None,
        raised_to: date | None = None,
    ) -> list[MetricRow]:
        query = select(
            items.c.status,
            items.c.raised_on,
            items.c.target_on,
            items.c.first_response_on,
            items.c.closed_on,
        ).where(items.c.published.is_(True))
        if unit_id is not None:
            query = query.where(subtree(items.c.unit_path, unit_id))
        if raised_from is not None:
            query = query.where(items.c.raised_on >= raised_from.isoformat())
        if raised_to is not None:
            query = query.where(items.c.raised_on <= raised_to.isoformat())
        with self.engine.connect() as conn:
            result = conn.execute(query).all()
        return [
            MetricRow(
                status=status,
                raised_on=date.fromisoformat(raised_on),
                target_on=date.fromisoformat(target_on),
                first_response_on=_day(first_response_on),
                closed_on=_day(closed_on),
            )
            for status, raised_on, target_on, first_response_on, closed_on in result
        ]

    def metrics(
        self,
        today: date,
        unit_id: str | None = None,
        raised_from: date | None = None,
        raised_to: date | None = None,
    ) -> dict[str, Any]:
        return compute_metrics(self.rows(unit_id, raised_from, raised_to), today)
