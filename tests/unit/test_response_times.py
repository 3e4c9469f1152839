"""The public metrics' definitions, checked against answers worked out by hand."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from yswd.projections.response_times import (
    MetricRow,
    compute_metrics,
    quantile,
    referral_destination_figures,
    referral_step_figures,
    steps_of,
)

TODAY = date(2026, 11, 23)
RAISED = date(2026, 10, 1)


def row(
    status: str = "raised",
    *,
    raised_on: date = RAISED,
    target_days: int = 28,
    first_response_after: int | None = None,
    closed_after: int | None = None,
) -> MetricRow:
    return MetricRow(
        status=status,
        raised_on=raised_on,
        target_on=raised_on + timedelta(days=target_days),
        first_response_on=(
            raised_on + timedelta(days=first_response_after)
            if first_response_after is not None
            else None
        ),
        closed_on=raised_on + timedelta(days=closed_after) if closed_after is not None else None,
    )


def test_nothing_to_measure_gives_zero_counts_and_null_figures() -> None:
    figures = compute_metrics([], TODAY)
    assert figures == {
        "items_raised": 0,
        "open": 0,
        "responded": 0,
        "done": 0,
        "couldnt_do": 0,
        "median_days_to_first_response": None,
        "p90_days_to_first_response": None,
        "median_days_to_close": None,
        "responded_within_target_pct": None,
        "overdue": 0,
        "repeats": 0,
        "referral_steps": [],
        "referral_destinations": [],
    }


def test_counts_by_status() -> None:
    rows = [
        row("raised", raised_on=TODAY),
        row("referred", raised_on=TODAY),
        row("responded", first_response_after=0, raised_on=TODAY),
        row("done", first_response_after=0, closed_after=0, raised_on=TODAY),
        row("done", first_response_after=0, closed_after=0, raised_on=TODAY),
        row("couldnt_do", first_response_after=0, closed_after=0, raised_on=TODAY),
    ]
    figures = compute_metrics(rows, TODAY)
    assert figures["items_raised"] == 6
    assert figures["open"] == 3
    assert figures["responded"] == 1
    assert figures["done"] == 2
    assert figures["couldnt_do"] == 1


def test_median_and_p90_interpolate_inclusively() -> None:
    # first responses after 1, 2, 3, 4 and 10 days.
    # inclusive: position (n-1)*q over sorted data [1, 2, 3, 4, 10]
    # median: position 2 -> 3; p90: position 3.6 -> 4 + 0.6 * (10 - 4) = 7.6
    rows = [row("responded", first_response_after=days) for days in (4, 1, 10, 3, 2)]
    figures = compute_metrics(rows, TODAY)
    assert figures["median_days_to_first_response"] == 3
    assert figures["p90_days_to_first_response"] == pytest.approx(7.6)


def test_median_of_an_even_count_is_the_midpoint() -> None:
    # [2, 5, 9, 20]: median position 1.5 -> 5 + 0.5 * 4 = 7;
    # p90 position 2.7 -> 9 + 0.7 * 11 = 16.7
    rows = [row("responded", first_response_after=days) for days in (20, 2, 9, 5)]
    figures = compute_metrics(rows, TODAY)
    assert figures["median_days_to_first_response"] == pytest.approx(7.0)
    assert figures["p90_days_to_first_response"] == pytest.approx(16.7)


def test_a_single_value_is_its_own_median_and_p90() -> None:
    figures = compute_metrics([row("responded", first_response_after=6)], TODAY)
    assert figures["median_days_to_first_response"] == 6
    assert figures["p90_days_to_first_response"] == 6
    assert quantile([], 50) is None


def test_median_days_to_close_counts_only_items_closed_now() -> None:
    rows = [
        row("done", first_response_after=2, closed_after=8),
        row("couldnt_do", first_response_after=3, closed_after=3),
        # reopened after a completion: it had a first response but is not closed now
        row("raised", first_response_after=5),
        # the read model clears closed_on on reopen; a stale value must still not count
        row("referred", first_response_after=1, closed_after=40),
    ]
    figures = compute_metrics(rows, TODAY)
    # close days [8, 3] -> median 5.5
    assert figures["median_days_to_close"] == pytest.approx(5.5)
    # first response days [2, 3, 5, 1] -> sorted [1, 2, 3, 5], median 2.5
    assert figures["median_days_to_first_response"] == pytest.approx(2.5)


def test_responded_within_target_and_overdue() -> None:
    recent = TODAY - timedelta(days=3)  # target not yet passed
    rows = [
        row("responded", first_response_after=10),  # on time
        row("done", first_response_after=28, closed_after=30),  # on the target day: on time
        row("done", first_response_after=29, closed_after=29),  # a day late
        row("raised"),  # target (2026-10-29) passed, no response: late and overdue
        row("referred", raised_on=recent),  # target still ahead: not measured
        row("raised", raised_on=recent, first_response_after=1),  # reopened, answered in time
    ]
    figures = compute_metrics(rows, TODAY)
    # measured: 5 (all but the recent unanswered one); on time: 3 -> 60.0
    assert figures["responded_within_target_pct"] == 60.0
    assert figures["overdue"] == 1


def test_within_target_is_rounded_to_one_decimal_and_uses_due_dates() -> None:
    rows = [
        row("responded", first_response_after=5, target_days=7),
        row("responded", first_response_after=5, target_days=4),  # due date earlier: late
        row("responded", first_response_after=1, target_days=1),
    ]
    figures = compute_metrics(rows, TODAY)
    assert figures["responded_within_target_pct"] == 66.7


def test_target_day_itself_is_not_overdue() -> None:
    due_today = row("raised", raised_on=TODAY - timedelta(days=28))
    assert compute_metrics([due_today], TODAY)["overdue"] == 0
    assert compute_metrics([due_today], TODAY)["responded_within_target_pct"] is None
    assert compute_metrics([due_today], TODAY + timedelta(days=1))["overdue"] == 1
    assert (
        compute_metrics([due_today], TODAY + timedelta(days=1))["responded_within_target_pct"]
        == 0.0
    )


def test_query_takes_published_items_of_the_subtree_inside_an_inclusive_window() -> None:
    from sqlalchemy import insert

    from yswd.adapters.persistence import memory_engine
    from yswd.projections.item_tables import items, metadata
    from yswd.projections.response_times import MetricsQueries

    engine = memory_engine()
    metadata.create_all(engine)

    def item(item_id: str, path: str, raised_on: str, published: bool = True) -> dict[str, object]:
        return {
            "item_id": item_id,
            "forum_id": "f",
            "unit_id": path.strip("/").split("/")[-1],
            "unit_path": path,
            "channel": "forum",
            "status": "responded",
            "published": published,
            "verified": False,
            "raised_on": raised_on,
            "target_on": (date.fromisoformat(raised_on) + timedelta(days=28)).isoformat(),
            "first_response_on": raised_on,
            "themes": "[]",
            "created_at": raised_on + "T09:00:00+00:00",
            "updated_at": raised_on + "T09:00:00+00:00",
            "version": 3,
            "doc": "{}",
        }

    with engine.begin() as conn:
        conn.execute(
            insert(items),
            [
                item("a", "/nw/mb/cedar/", "2026-10-01"),
                item("b", "/nw/mb/willow/", "2026-10-15"),
                item("c", "/nw/mb/cedar/", "2026-10-31"),
                item("d", "/nw/mb/cedar/", "2026-11-01"),
                item("hidden", "/nw/mb/cedar/", "2026-10-10", published=False),
                item("other", "/else/", "2026-10-10"),
            ],
        )
    paths = {"nw": ("nw",), "mb": ("nw", "mb"), "cedar": ("nw", "mb", "cedar")}
    queries = MetricsQueries(engine, paths.get)

    def raised(**kwargs: object) -> int:
        return int(queries.metrics(TODAY, **kwargs)["items_raised"])  # type: ignore[arg-type]

    assert raised() == 5
    assert raised(unit_id="nw") == 4
    assert raised(unit_id="cedar") == 3
    assert raised(unit_id="mb", raised_from=date(2026, 10, 15)) == 3
    assert raised(unit_id="mb", raised_to=date(2026, 10, 15)) == 2
    assert raised(raised_from=date(2026, 10, 15), raised_to=date(2026, 10, 31)) == 2
    assert raised(raised_from=date(2026, 11, 2)) == 0
    assert queries.metrics(TODAY, raised_from=date(2026, 11, 2))["median_days_to_close"] is None


def d(day: int) -> date:
    return RAISED + timedelta(days=day)


def test_each_referral_step_has_its_own_clock() -> None:
    # item A: referred day 0, answered day 4; referred again day 10, answered day 30
    # item B: referred day 2, answered day 8; referred again day 9, not answered yet
    # item C: referred day 5, re-referred day 6 before any answer; step 2 answered day 16
    # step 1 days: A 4, B 6 (C unanswered) -> median 5.0
    # step 2 days: A 20, C 10 (B waiting) -> median 15.0
    rows = [
        MetricRow("done", RAISED, d(28), d(4), d(30), ((d(0), d(4)), (d(10), d(30)))),
        MetricRow("referred", RAISED, d(28), d(8), None, ((d(2), d(8)), (d(9), None))),
        MetricRow("responded", RAISED, d(28), d(16), None, ((d(5), None), (d(6), d(16)))),
        MetricRow("raised", RAISED, d(28)),
    ]
    assert referral_step_figures(rows) == [
        {"step": 1, "referred": 3, "answered": 2, "median_days_to_answer": 5.0},
        {"step": 2, "referred": 3, "answered": 2, "median_days_to_answer": 15.0},
    ]
    assert compute_metrics(rows, TODAY)["referral_steps"] == referral_step_figures(rows)


def test_a_step_with_no_answers_has_no_median() -> None:
    rows = [MetricRow("referred", RAISED, d(28), None, None, ((d(1), None),))]
    assert referral_step_figures(rows) == [
        {"step": 1, "referred": 1, "answered": 0, "median_days_to_answer": None}
    ]


def test_repeats_are_counted() -> None:
    rows = [
        MetricRow("raised", RAISED, d(28), repeat=True),
        MetricRow("raised", RAISED, d(28), repeat=True),
        MetricRow("raised", RAISED, d(28)),
    ]
    assert compute_metrics(rows, TODAY)["repeats"] == 2


def test_steps_are_read_from_the_stored_view_in_utc_days() -> None:
    doc = {
        "referrals": [
            {
                "recorded_at": "2026-10-01T23:30:00-02:00",
                "answered_at": "2026-10-05T09:00:00+00:00",
            },
            {"recorded_at": "2026-10-06T09:00:00+00:00", "answered_at": None},
        ]
    }
    # 23:30 at UTC-2 is 01:30 on 2 October in UTC
    assert steps_of(json.dumps(doc)) == (
        (date(2026, 10, 2), date(2026, 10, 5)),
        (date(2026, 10, 6), None),
    )
    assert steps_of(None) == ()


def test_each_destination_has_its_own_clock() -> None:
    # A: partnership board answered after 4 days, then the dev board after 20
    # B: partnership board answered after 6 days, then a unit (no forum), waiting
    # partnership board: [4, 6] -> 5.0 over 2; dev board: [20]; unit "transport": none answered
    board, dev, unit = ("city", "partnership-board"), ("salford", "dev-board"), ("transport", None)
    rows = [
        MetricRow(
            "done",
            RAISED,
            d(28),
            d(4),
            d(30),
            ((d(0), d(4)), (d(10), d(30))),
            referral_targets=(board, dev),
        ),
        MetricRow(
            "referred",
            RAISED,
            d(28),
            d(8),
            None,
            ((d(2), d(8)), (d(9), None)),
            referral_targets=(board, unit),
        ),
    ]
    assert referral_destination_figures(rows) == [
        {
            "to_unit_id": "city",
            "to_forum_id": "partnership-board",
            "referred": 2,
            "answered": 2,
            "median_days_to_answer": 5.0,
        },
        {
            "to_unit_id": "salford",
            "to_forum_id": "dev-board",
            "referred": 1,
            "answered": 1,
            "median_days_to_answer": 20.0,
        },
        {
            "to_unit_id": "transport",
            "to_forum_id": None,
            "referred": 1,
            "answered": 0,
            "median_days_to_answer": None,
        },
    ]
