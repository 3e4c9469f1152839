"""The public figures built on the metrics: the window's, by month, by theme, and involvement.

Each is computed over the same rows as ``GET /public/api/v1/metrics``
(``MetricsQueries.rows``: published items of the unit's subtree raised in the
window) and goes out with small numbers withheld (``small_numbers``).

Involvement ("not the same few people", seed 004):

- ``distinct_voices``: contributors are matched on ``voice_of(contributor)``, a
  keyed hash of the normalised name (the composition root passes one keyed by a
  secret kept with the erasure keys), so no name is compared or shown. An item
  with no contributor is a voice of its own; so is each item of an erased
  contributor (it reads ``"[erased]"``): after an erasure that person's items
  no longer add up to one voice, and they are dropped from the top five.
- ``top5_share_pct``: the share of the window's items raised by its five most
  frequent named contributors, one decimal. Withheld when the window has fewer
  than ``threshold`` items or fewer than ``threshold`` distinct voices.
- ``channels``: items per channel, which add up to ``items`` (so secondary
  suppression applies).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from yswd.aggregates.erasure import ERASED
from yswd.projections.response_times import MetricRow, compute_metrics, statistic_bases
from yswd.projections.small_numbers import (
    COUNTS,
    HELD_BACK,
    drop_held_back,
    is_small,
    protect_partition,
    suppress_metrics,
    withhold_counts,
)

#: a contributor's voice: a keyed hash of the normalised name (never the name)
VoiceOf = Callable[[str], str]
TOP = 5


def public_metrics(
    rows: Sequence[MetricRow], today: date, threshold: int, held_back: bool = False
) -> dict[str, Any]:
    """The metrics answer, with small numbers withheld (``held_back``: for a page)."""
    answer = suppress_metrics(compute_metrics(rows, today), statistic_bases(rows, today), threshold)
    return answer if held_back else drop_held_back(answer)


def monthly_metrics(
    rows: Sequence[MetricRow], today: date, threshold: int, held_back: bool = False
) -> dict[str, Any]:
    """The metrics of each month of ``raised_on`` (oldest first), small numbers withheld.

    The months add up to the window's figures, which the metrics answer shows,
    so each count is also protected across the months (secondary suppression).
    """
    by_month: dict[str, list[MetricRow]] = {}
    for row in sorted(rows, key=lambda row: row.raised_on):
        by_month.setdefault(f"{row.raised_on:%Y-%m}", []).append(row)
    # a month with nothing raised between two that had items is a month of zeros
    for month in _months_between(min(by_month, default=""), max(by_month, default="")):
        by_month.setdefault(month, [])
    by_month = dict(sorted(by_month.items()))
    window = compute_metrics(rows, today)
    months = {month: compute_metrics(part, today) for month, part in by_month.items()}
    answers = {
        month: suppress_metrics(figures, statistic_bases(by_month[month], today), threshold)
        for month, figures in months.items()
    }
    for name in COUNTS:
        if is_small(window[name], threshold):
            continue
        values = {month: figures[name] for month, figures in months.items()}
        hidden = {month for month, answer in answers.items() if name in answer["suppressed"]}
        protect_partition(
            {**values, "\0window": window[name]}, "\0window", list(values), hidden, threshold
        )
        for month in hidden:
            answer = answers[month]
            if name not in answer["suppressed"]:
                answer[name] = None
                answer["suppressed"].append(name)
                if values[month] >= threshold:
                    answer[HELD_BACK].append(name)
    listed = [{"month": month, **answer} for month, answer in answers.items()]
    suppressed = [f"{entry['month']}.{name}" for entry in listed for name in entry["suppressed"]]
    found = {"months": listed, "suppressed": suppressed}
    return found if held_back else drop_held_back(found)


def _months_between(first: str, last: str) -> list[str]:
    """Every "YYYY-MM" from ``first`` to ``last`` inclusive (none when either is empty)."""
    if not first or not last:
        return []
    year, month = int(first[:4]), int(first[5:])
    found = []
    while f"{year:04d}-{month:02d}" <= last:
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def theme_metrics(
    rows: Sequence[MetricRow], today: date, threshold: int, held_back: bool = False
) -> dict[str, Any]:
    """The metrics of each theme (an item may have several), most raised first.

    Themes overlap and not every item has one, so the themes do not add up to
    the window's total and there is no partition to protect.
    """
    by_theme: dict[str, list[MetricRow]] = {}
    for row in rows:
        for theme in dict.fromkeys(row.themes):
            by_theme.setdefault(theme, []).append(row)
    ordered = sorted(by_theme, key=lambda theme: (-len(by_theme[theme]), theme.casefold()))
    themes = []
    for theme in ordered:
        part = by_theme[theme]
        figures = suppress_metrics(
            compute_metrics(part, today), statistic_bases(part, today), threshold
        )
        themes.append({"theme": theme, **figures})
    suppressed = [f"{entry['theme']}.{name}" for entry in themes for name in entry["suppressed"]]
    found = {"themes": themes, "suppressed": suppressed}
    return found if held_back else drop_held_back(found)


def _voices(rows: Iterable[MetricRow], voice_of: VoiceOf) -> tuple[Counter[str], int]:
    """Items per named voice, and how many items are voices of their own."""
    named: Counter[str] = Counter()
    anonymous = 0
    for row in rows:
        contributor = (row.contributor or "").strip()
        if not contributor or contributor == ERASED:
            anonymous += 1
        else:
            named[voice_of(contributor)] += 1
    return named, anonymous


def involvement(
    rows: Sequence[MetricRow], voice_of: VoiceOf, threshold: int, held_back: bool = False
) -> dict[str, Any]:
    """How many people spoke, whether it is the same few, and through which channels."""
    total = len(rows)
    named, anonymous = _voices(rows, voice_of)
    voices = len(named) + anonymous
    top = sum(count for _, count in named.most_common(TOP))
    share = round(100 * top / total, 1) if total else None
    suppressed = []
    items_shown: int | None = total
    if is_small(total, threshold):
        items_shown = None
        suppressed.append("items")
    voices_shown: int | None = voices
    if is_small(voices, threshold):
        voices_shown = None
        suppressed.append("distinct_voices")
    if share is not None and min(total, voices) < threshold:
        share = None
        suppressed.append("top5_share_pct")
    counts = dict(sorted(Counter(row.channel for row in rows).items()))
    channels, hidden = withhold_counts(
        counts, total, threshold, total_shown=items_shown is not None
    )
    suppressed.extend(f"channels.{name}" for name in hidden)
    found = {
        "items": items_shown,
        "distinct_voices": voices_shown,
        "top5_share_pct": share,
        "channels": channels,
        "suppressed": suppressed,
        HELD_BACK: [f"channels.{name}" for name in hidden if counts[name] >= threshold],
    }
    return found if held_back else drop_held_back(found)
