"""Choosing what fits on the ward poster (adapters/http/poster.py), with no browser.

The printed page itself is checked in tests/e2e/test_poster_pdf.py; here, the
rules: the newest outcomes are taken in order while they fit, the newest is
always shown, long texts are cut at a word, "how many more" counts the rest,
and the large print fits fewer.
"""

from __future__ import annotations

from typing import Any

from yswd.adapters.http.poster import (
    LARGE,
    NORMAL,
    SHORTEST_TEXT,
    fit,
    poster_entry,
    qr_svg,
    shorten,
)


def outcome(n: int, words: int = 10, status: str = "done") -> dict[str, Any]:
    text = " ".join(["word"] * words)
    return {
        "id": f"i{n}",
        "title": f"Item {n}",
        "status": status,
        "you_said": text,
        "we_did": text,
        "because": text,
        "instead": None,
        "responses": [{"response": text, "recorded_at": "2026-11-01T10:00:00+00:00"}],
    }


def test_short_outcomes_fill_the_page_newest_first_and_the_rest_are_counted() -> None:
    items = [outcome(n) for n in range(30)]
    chosen = fit(items, NORMAL, total=40, unit_name="Cedar ward")
    ids = [entry.item["id"] for entry in chosen.entries]
    assert 3 <= len(ids) < 30
    assert ids == [f"i{n}" for n in range(len(ids))]  # the newest, in order
    assert chosen.more == 40 - len(ids)
    used = sum(entry.height_mm for entry in chosen.entries)
    assert used <= NORMAL.room_mm("Cedar ward")


def test_everything_fits_when_there_is_little() -> None:
    chosen = fit([outcome(1), outcome(2, status="responded")], NORMAL, 2, "Cedar ward")
    assert len(chosen.entries) == 2 and chosen.more == 0
    assert [part for part, _ in chosen.entries[1].parts] == ["you_said", "we_said"]


def test_a_very_long_newest_outcome_is_cut_short_but_always_shown() -> None:
    huge = outcome(0, words=800)
    for size in (NORMAL, LARGE):
        chosen = fit([huge, outcome(1)], size, 2, "Cedar ward")
        first = chosen.entries[0]
        assert first.item["id"] == "i0"
        assert all(len(text) <= size.text_limit for _, text in first.parts)
        assert all(text.endswith("…") for _, text in first.parts)
        assert first.height_mm <= size.room_mm("Cedar ward")


def test_an_outcome_that_does_not_fit_whole_is_cut_to_fill_the_space_left() -> None:
    long = [outcome(n, words=60) for n in range(10)]
    chosen = fit(long, NORMAL, 10, "Cedar ward")
    cut = [entry for entry in chosen.entries if any(t.endswith("…") for _, t in entry.parts)]
    assert chosen.entries and cut
    assert all(len(text) >= SHORTEST_TEXT - 1 for entry in cut for _, text in entry.parts)


def test_large_print_fits_fewer_and_a_long_unit_name_leaves_less_room() -> None:
    items = [outcome(n, words=25) for n in range(30)]
    normal = fit(items, NORMAL, 30, "Cedar ward")
    large = fit(items, LARGE, 30, "Cedar ward")
    assert len(large.entries) < len(normal.entries)
    assert large.more > normal.more
    long_name = "A ward with a very long name that wraps onto a second line of the heading"
    assert NORMAL.room_mm(long_name) < NORMAL.room_mm("Cedar ward")


def test_an_area_poster_names_the_ward_and_counts_its_line() -> None:
    item = outcome(1)
    plain = poster_entry(item, NORMAL)
    placed = poster_entry(item, NORMAL, "Cedar ward (low secure)")
    assert placed.place == "Cedar ward (low secure)" and plain.place is None
    assert placed.height_mm > plain.height_mm
    chosen = fit([item], NORMAL, 1, "Meadowbank", {"i1": "Cedar ward (low secure)"})
    assert chosen.entries[0].place == "Cedar ward (low secure)"


def test_a_declined_outcome_shows_why_and_what_instead() -> None:
    item = {**outcome(1, status="couldnt_do"), "instead": "A nurse goes with you."}
    parts = [part for part, _ in poster_entry(item, NORMAL).parts]
    assert parts == ["you_said", "because", "instead"]


def test_shorten_cuts_at_a_word_and_tidies_spaces() -> None:
    assert shorten("  a   b  ", 10) == "a b"
    cut = shorten("The heating goes off at ten every night", 20)
    assert cut == "The heating goes…" and len(cut) <= 20


def test_the_qr_code_is_inline_svg_named_for_screen_readers() -> None:
    svg = qr_svg("https://yswd.example.nhs.uk/b/cedar", 'QR code for "cedar" <board>')
    assert svg.startswith(
        '<svg role="img" aria-label="QR code for &quot;cedar&quot; &lt;board&gt;"'
    )
    assert "viewBox" in svg and "<script" not in svg and "style=" not in svg
