"""Text similarity for repeated issues, with answers that can be checked by hand."""

from __future__ import annotations

import math

from yswd.projections.similarity import rank, tokens


def test_tokens_drop_stop_words_and_fold_plurals() -> None:
    assert tokens("The washing machines are BROKEN again!") == ["washing", "machine", "broken"]


def test_identical_text_scores_one_and_unrelated_text_zero() -> None:
    scored = dict(
        rank(
            "washing machine broken",
            [("same", "Washing machine broken"), ("other", "cold dinners")],
        )
    )
    assert math.isclose(scored["same"], 1.0)
    assert scored["other"] == 0.0


def test_worked_example() -> None:
    # query q = {laundry, broken}; candidates a = {laundry, broken, still}, b = {laundry}
    # documents: q, a, b (N = 3); df: laundry 3, broken 2, still 1
    # idf = ln((1+3)/(1+df)) + 1: laundry 1, broken ln(4/3)+1, still ln 2+1
    laundry, broken, still = 1.0, math.log(4 / 3) + 1, math.log(2) + 1
    q = [laundry, broken]
    a = [laundry, broken, still]
    expected_a = (laundry * laundry + broken * broken) / (math.hypot(*q) * math.hypot(*a))
    expected_b = laundry * laundry / (math.hypot(*q) * laundry)
    scored = dict(rank("laundry broken", [("a", "laundry broken still"), ("b", "laundry")]))
    assert scored["a"] == round(expected_a, 3)
    assert scored["b"] == round(expected_b, 3)


def test_best_first() -> None:
    ranked = rank(
        "no bus to the day centre after 4pm",
        [
            ("food", "the food is cold"),
            ("bus", "the last bus to the centre leaves at 4pm"),
            ("x", ""),
        ],
    )
    assert ranked[0][0] == "bus"
    assert ranked[-1][1] == 0.0
