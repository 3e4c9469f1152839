"""Small-number suppression, worked by hand (threshold 5 unless said)."""

from __future__ import annotations

from yswd.projections.small_numbers import protect_partition, withhold_counts


def test_zero_stays_and_one_to_four_go() -> None:
    shown, names = withhold_counts({"a": 0, "b": 1, "c": 4, "d": 5}, 10, 5)
    # b (1) and c (4) withheld: together 5, so d need not go
    assert shown == {"a": 0, "b": None, "c": None, "d": 5}
    assert names == ["b", "c"]


def test_one_withheld_part_takes_the_smallest_shown_part_with_it() -> None:
    shown, names = withhold_counts({"a": 9, "b": 2, "c": 6}, 17, 5)
    # b alone would be 17 - 9 - 6; c (6) is the smallest shown part: 2 + 6 = 8
    assert shown == {"a": 9, "b": None, "c": None}
    assert names == ["b", "c"]


def test_withheld_parts_adding_up_to_less_than_the_threshold_take_more() -> None:
    shown, names = withhold_counts({"a": 1, "b": 1, "c": 7, "d": 9}, 18, 5)
    # 1 + 1 = 2 would be known to be two ones: c (7) goes too, making 9
    assert shown == {"a": None, "b": None, "c": None, "d": 9}
    assert names == ["a", "b", "c"]


def test_a_withheld_total_needs_no_more() -> None:
    shown, names = withhold_counts({"a": 3, "b": 0}, 3, 5, total_shown=False)
    assert shown == {"a": None, "b": 0}
    assert names == ["a"]


def test_threshold_one_withholds_nothing() -> None:
    assert withhold_counts({"a": 1, "b": 2}, 3, 1) == ({"a": 1, "b": 2}, [])


def test_protect_partition_leaves_zeros_shown() -> None:
    hidden = {"b"}
    protect_partition({"t": 3, "a": 0, "b": 3}, "t", ["a", "b"], hidden, 5)
    assert hidden == {"b"}
