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

Extra figures (not in the contract, added after its fields):

- ``repeats``: how many of the items are linked as a repeat of an earlier item.
- ``referral_steps``: each step of a multi-step referral has its own clock. Step
  k is an item's k-th referral; its clock runs from the UTC date the referral was
  recorded to the UTC date of the first response, completion or decline recorded
  after it (and before any later referral). Per step: ``referred`` (how many
  items had a k-th referral), ``answered`` (how many of those were answered) and
  ``median_days_to_answer`` over the answered ones (None when none were).
- ``referral_destinations``: the same clock per destination (``to_unit_id`` and
  ``to_forum_id``), most referred first.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Engine, case, or_, select

from yswd.projections.item_tables import items
from yswd.projections.sql import UnitPaths, plain_rows, subtree

OPEN = frozenset({"raised", "referred", "responded"})
#: a stored staff view of an item linked as a repeat (compact or spaced JSON)
REPEAT_PATTERNS = ('%"repeat_of":"%', '%"repeat_of": "%')
CLOSED = frozenset({"done", "couldnt_do"})


class MetricRow(NamedTuple):
    """What the metrics need of one item.

    A named tuple, not a dataclass: a region's figures make one per published item
    (127,000 on the 1M-event bench store), and a tuple of plain values drops out of
    the garbage collector's passes after the first, where a dataclass instance stays
    in every one (the collector was 30% of reading those rows).
    """

    status: str
    raised_on: date
    target_on: date
    first_response_on: date | None = None
    closed_on: date | None = None
    #: each referral step in order: (the date it was referred, the date it was answered)
    referral_steps: tuple[tuple[date, date | None], ...] = ()
    repeat: bool = False
    #: where each referral step went: (unit, forum or None), parallel to ``referral_steps``
    referral_targets: tuple[tuple[str, str | None], ...] = ()
    channel: str = ""
    themes: tuple[str, ...] = ()
    #: who raised it, as the read model holds it (``"[erased]"`` once erased); never shown,
    #: only counted as a keyed hash (``projections.involvement``)
    contributor: str | None = None


def _step_figures(days_by_key: dict[Any, list[int]], counts: dict[Any, int]) -> dict[Any, Any]:
    return {
        key: {
            "referred": counts[key],
            "answered": len(days_by_key[key]),
            "median_days_to_answer": quantile(days_by_key[key], 50),
        }
        for key in counts
    }


def referral_destination_figures(rows: Iterable[MetricRow]) -> list[dict[str, Any]]:
    """The same clock per destination (unit and forum), most referred first."""
    counts: dict[tuple[str, str | None], int] = {}
    days: dict[tuple[str, str | None], list[int]] = {}
    for row in rows:
        for (referred_on, answered_on), target in zip(
            row.referral_steps, row.referral_targets, strict=False
        ):
            counts[target] = counts.get(target, 0) + 1
            answered = days.setdefault(target, [])
            if answered_on is not None:
                answered.append((answered_on - referred_on).days)
    figures = _step_figures(days, counts)
    ordered = sorted(counts, key=lambda key: (-counts[key], key[0], key[1] or ""))
    return [
        {"to_unit_id": unit, "to_forum_id": forum, **figures[(unit, forum)]}
        for unit, forum in ordered
    ]


def referral_step_figures(rows: Iterable[MetricRow]) -> list[dict[str, Any]]:
    """Per referral step: how many were referred, answered, and the median days to answer."""
    referred: dict[int, int] = {}
    answered: dict[int, list[int]] = {}
    for row in rows:
        for number, (referred_on, answered_on) in enumerate(row.referral_steps, start=1):
            referred[number] = referred.get(number, 0) + 1
            days = answered.setdefault(number, [])
            if answered_on is not None:
                days.append((answered_on - referred_on).days)
    return [
        {
            "step": number,
            "referred": referred[number],
            "answered": len(answered[number]),
            "median_days_to_answer": quantile(answered[number], 50),
        }
        for number in sorted(referred)
    ]


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
        "repeats": sum(1 for row in rows if row.repeat),
        "referral_steps": referral_step_figures(rows),
        "referral_destinations": referral_destination_figures(rows),
    }


def statistic_bases(rows: Iterable[MetricRow], today: date) -> dict[str, int]:
    """How many items each median, 90th percentile and percentage is computed over.

    Small-number suppression (``projections.small_numbers``) withholds a figure
    computed over fewer items than the threshold.
    """
    rows = list(rows)
    responded = sum(1 for row in rows if row.first_response_on is not None)
    closed = sum(1 for row in rows if row.status in CLOSED and row.closed_on is not None)
    measured = sum(1 for row in rows if row.first_response_on is not None or row.target_on < today)
    return {
        "median_days_to_first_response": responded,
        "p90_days_to_first_response": responded,
        "median_days_to_close": closed,
        "responded_within_target_pct": measured,
    }


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _utc_day(instant: str | None) -> date | None:
    if not instant:
        return None
    if instant.endswith("+00:00"):  # how every instant is stored: its date is its start
        return date.fromisoformat(instant[:10])
    return datetime.fromisoformat(instant).astimezone(UTC).date()


def steps_of(doc_text: str | None) -> tuple[tuple[date, date | None], ...]:
    """The referral steps of a staff view stored as JSON (none when not referred)."""
    return _steps_and_targets(doc_text)[0]


def _steps_and_targets(
    doc_text: str | None,
) -> tuple[tuple[tuple[date, date | None], ...], tuple[tuple[str, str | None], ...]]:
    if not doc_text:
        return (), ()
    steps = []
    targets = []
    for step in orjson.loads(doc_text).get("referrals") or []:
        referred_on = _utc_day(step.get("recorded_at"))
        if referred_on is not None:
            steps.append((referred_on, _utc_day(step.get("answered_at"))))
            targets.append((str(step.get("to_unit_id")), step.get("to_forum_id")))
    return tuple(steps), tuple(targets)


class MetricsQueries:
    """Reads the metric rows of published items from ``rm_items``."""

    def __init__(self, engine: Engine, paths: UnitPaths) -> None:
        self.engine = engine
        self.paths = paths

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
            # the full view is read only for referred items, whose steps are measured
            case((items.c.referred_to.is_not(None), items.c.doc), else_=None),
            or_(*(items.c.doc.like(pattern) for pattern in REPEAT_PATTERNS)),
            items.c.channel,
            items.c.themes,
            items.c.contributor,
        ).where(items.c.published.is_(True))
        if unit_id is not None:
            query = query.where(subtree(items.c.unit_path, self.paths(unit_id)))
        if raised_from is not None:
            query = query.where(items.c.raised_on >= raised_from.isoformat())
        if raised_to is not None:
            query = query.where(items.c.raised_on <= raised_to.isoformat())
        with self.engine.connect() as conn:
            result = plain_rows(conn, query)
        metric_rows = []
        for (
            status,
            raised_on,
            target_on,
            first_response_on,
            closed_on,
            doc,
            repeat,
            channel,
            themes,
            contributor,
        ) in result:
            steps, targets = _steps_and_targets(doc)
            metric_rows.append(
                MetricRow(
                    status=status,
                    raised_on=date.fromisoformat(raised_on),
                    target_on=date.fromisoformat(target_on),
                    first_response_on=_day(first_response_on),
                    closed_on=_day(closed_on),
                    referral_steps=steps,
                    repeat=bool(repeat),
                    referral_targets=targets,
                    channel=channel,
                    themes=tuple(orjson.loads(themes)) if themes else (),
                    contributor=contributor,
                )
            )
        return metric_rows

    def metrics(
        self,
        today: date,
        unit_id: str | None = None,
        raised_from: date | None = None,
        raised_to: date | None = None,
    ) -> dict[str, Any]:
        return compute_metrics(self.rows(unit_id, raised_from, raised_to), today)
