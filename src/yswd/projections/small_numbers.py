"""Small numbers identify people: public figures withheld below a threshold.

On a 15-bed ward, "1 item couldn't be done" or "the median response took 40
days" over two items can point at a person. So, in every public figure
(``YSWD_SMALL_NUMBER_THRESHOLD``, ``threshold`` here, default 5):

- a count from 1 to ``threshold - 1`` is ``None`` (0 stays 0: nothing to point at);
- a median, 90th percentile or percentage computed over fewer than ``threshold``
  items is ``None``;
- every field withheld is named in the answer's ``"suppressed"`` list.

Secondary suppression: where a total and its parts are all shown, one withheld
part could be worked out by subtraction. So when a shown total has withheld
parts whose sum could be recovered and is below the threshold (one withheld part,
or several adding up to fewer than ``threshold``), the smallest shown non-zero
part is withheld too, until the withheld parts add up to ``threshold`` or more.
Nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: the count fields of the metrics answer
COUNTS = ("items_raised", "open", "responded", "done", "couldnt_do", "overdue", "repeats")
#: a total and the parts that add up to it, in the metrics answer
METRIC_PARTITIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("items_raised", ("open", "done", "couldnt_do")),
)
#: the per-entry counts and statistic of ``referral_steps`` and ``referral_destinations``
REFERRAL_LISTS = ("referral_steps", "referral_destinations")


#: the page-only list of counts withheld by secondary suppression (``drop_held_back``)
HELD_BACK = "held_back"


def drop_held_back(answer: Any) -> Any:
    """``answer`` without the page-only ``held_back`` lists, at any depth."""
    if isinstance(answer, dict):
        return {key: drop_held_back(value) for key, value in answer.items() if key != HELD_BACK}
    if isinstance(answer, list):
        return [drop_held_back(value) for value in answer]
    return answer


def is_small(value: Any, threshold: int) -> bool:
    """A count that could point at someone: 1 to ``threshold - 1``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < threshold


def small_counts(values: Mapping[str, Any], threshold: int) -> set[str]:
    """The names of the counts in ``values`` that are small."""
    return {name for name, value in values.items() if is_small(value, threshold)}


def protect_partition(
    values: Mapping[str, Any],
    total: str,
    parts: Sequence[str],
    hidden: set[str],
    threshold: int,
) -> None:
    """Secondary suppression: withhold more parts until none is derivable by subtraction.

    ``values`` holds the true counts; ``hidden`` the names already withheld (extended
    in place). A withheld total needs nothing more: then every part is below the
    threshold too, so withheld or 0.
    """
    if total in hidden:
        return
    while True:
        withheld = [part for part in parts if part in hidden]
        if not withheld:
            return
        if len(withheld) > 1 and sum(int(values[part] or 0) for part in withheld) >= threshold:
            return
        shown = [part for part in parts if part not in hidden and values[part]]
        if not shown:
            return
        hidden.add(min(shown, key=lambda part: (int(values[part]), part)))


def protect_partitions(
    values: Mapping[str, Any],
    partitions: Iterable[tuple[str, Sequence[str]]],
    hidden: set[str],
    threshold: int,
) -> None:
    """``protect_partition`` over several partitions sharing counts, until none changes."""
    partitions = list(partitions)
    while True:
        before = len(hidden)
        for total, parts in partitions:
            protect_partition(values, total, parts, hidden, threshold)
        if len(hidden) == before:
            return


def suppress_metrics(
    figures: Mapping[str, Any],
    bases: Mapping[str, int],
    threshold: int,
    partitions: Iterable[tuple[str, Sequence[str]]] = METRIC_PARTITIONS,
) -> dict[str, Any]:
    """``figures`` (``compute_metrics``) with small numbers withheld, and ``"suppressed"``.

    ``bases`` gives how many items each statistic is computed over
    (``statistic_bases``).
    """
    answer = dict(figures)
    hidden = small_counts({name: figures[name] for name in COUNTS if name in figures}, threshold)
    protect_partitions(figures, partitions, hidden, threshold)
    for name, base in bases.items():
        if 0 < base < threshold and figures.get(name) is not None:
            hidden.add(name)
    suppressed = [name for name in figures if name in hidden]
    for name in suppressed:
        answer[name] = None
    # withheld only so that no other part can be worked out (not small themselves): the
    # pages say "not shown" for these rather than "fewer than 5"; never in a JSON answer
    answer[HELD_BACK] = [
        name for name in suppressed if name in COUNTS and figures[name] >= threshold
    ]
    for list_name in REFERRAL_LISTS:
        if list_name in figures:
            answer[list_name] = [
                _suppress_referral(entry, threshold, f"{list_name}[{index}]", suppressed)
                for index, entry in enumerate(figures[list_name])
            ]
    answer["suppressed"] = suppressed
    return answer


def _suppress_referral(
    entry: Mapping[str, Any], threshold: int, prefix: str, suppressed: list[str]
) -> dict[str, Any]:
    shown = dict(entry)
    for name in ("referred", "answered"):
        if is_small(entry.get(name), threshold):
            shown[name] = None
            suppressed.append(f"{prefix}.{name}")
    if entry.get("median_days_to_answer") is not None and entry.get("answered", 0) < threshold:
        shown["median_days_to_answer"] = None
        suppressed.append(f"{prefix}.median_days_to_answer")
    return shown


def withhold_counts(
    counts: Mapping[str, int], total: int, threshold: int, total_shown: bool = True
) -> tuple[dict[str, int | None], list[str]]:
    """Counts that partition ``total`` (channels, months), with small ones withheld.

    Secondary suppression applies when ``total`` is shown.
    """
    hidden = small_counts(counts, threshold)
    if total_shown:
        values: dict[str, Any] = {**counts, "\0total": total}
        protect_partition(values, "\0total", list(counts), hidden, threshold)
    names = [name for name in counts if name in hidden]
    return {name: (None if name in hidden else value) for name, value in counts.items()}, names
