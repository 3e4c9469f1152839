"""The minutes parser: every row reported, never an exception."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from yswd.aggregates.item import Channel
from yswd.application.minutes import digest, parse_minutes

TODAY = date(2026, 11, 23)


def test_a_good_csv_gives_one_good_row_per_line() -> None:
    text = (
        "title,you_said,channel,themes,contributor,detail,raised_on\r\n"
        'Laundry,"The machine is broken, again",community_meeting,'
        "facilities;wards,Ann,,2026-11-02\r\n"
        "Food,Cold dinners,,,,,\r\n"
    )
    rows = parse_minutes(text, "csv", TODAY, Channel.CITIZENS_VIEW)
    assert [row.report() for row in rows] == [
        {"row": 2, "ok": True, "errors": []},
        {"row": 3, "ok": True, "errors": []},
    ]
    first, second = (row.values for row in rows)
    assert first is not None and second is not None
    assert first["you_said"] == "The machine is broken, again"
    assert first["themes"] == ["facilities", "wards"]
    assert first["raised_on"] == date(2026, 11, 2)
    assert first["channel"] is Channel.COMMUNITY_MEETING
    assert second["channel"] is Channel.CITIZENS_VIEW  # the forum's default
    assert second["raised_on"] == TODAY
    assert second["contributor"] is None


def test_bad_rows_are_reported_with_their_line_numbers() -> None:
    text = (
        "title,you_said,channel,raised_on\n"
        "Laundry,Broken,community_meeting,2026-11-02\n"
        ",No title,,\n"
        "Food,Cold,telepathy,2026-02-30\n"
        "Too,many,cells,2026-11-02,extra\n"
    )
    rows = {row.row: row for row in parse_minutes(text, "csv", TODAY)}
    assert rows[2].ok
    assert rows[3].errors == ["title is required"]
    assert any("channel must be one of" in error for error in rows[4].errors)
    assert "raised_on is not a real date" in rows[4].errors
    assert not rows[5].ok


def test_header_problems_are_row_one() -> None:
    rows = parse_minutes("title,said\nA,B\n", "csv", TODAY)
    assert len(rows) == 1 and rows[0].row == 1
    assert rows[0].errors == ["unknown column 'said'", "missing column 'you_said'"]
    assert parse_minutes("", "csv", TODAY)[0].errors == ["the file is empty"]


def test_formula_cells_stay_text() -> None:
    rows = parse_minutes('title,you_said\n=cmd|calc!A1,"+SUM(1,2)"\n', "csv", TODAY)
    assert rows[0].values is not None
    assert rows[0].values["title"] == "=cmd|calc!A1"
    assert rows[0].values["you_said"] == "+SUM(1,2)"


def test_markdown_list() -> None:
    text = (
        "# Development Board, 13 December\n\n"
        "- Transport: no bus after 4pm\n"
        "* ATOS: assessments: too rushed\n"
        "Some stray prose\n"
        "- No colon here\n"
    )
    rows = parse_minutes(text, "markdown", TODAY, Channel.CITIZENS_VIEW)
    assert [(row.row, row.ok) for row in rows] == [(3, True), (4, True), (5, False), (6, False)]
    assert rows[1].values is not None
    assert rows[1].values["title"] == "ATOS"
    assert rows[1].values["you_said"] == "assessments: too rushed"
    assert parse_minutes("\n\n# only a heading\n", "markdown", TODAY)[0].errors == [
        "no items found"
    ]


def test_the_digest_ignores_line_endings_and_trailing_space() -> None:
    assert digest("csv", "\ufefftitle,you_said\r\nA,B  \r\n\r\n") == digest(
        "csv", "title,you_said\nA,B\n"
    )
    assert digest("csv", "title,you_said\nA,B\n") != digest("markdown", "title,you_said\nA,B\n")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), fmt=st.sampled_from(["csv", "markdown"]))
def test_never_raises_and_every_row_is_judged(text: str, fmt: str) -> None:
    rows = parse_minutes(text, fmt, TODAY)
    assert rows
    for row in rows:
        assert row.row >= 1
        assert row.ok == (not row.errors)
        assert (row.values is not None) == row.ok


bad_cell = st.sampled_from(["", " ", "\x01bad", "x" * 201])


@settings(max_examples=100, deadline=None)
@given(
    good=st.lists(
        st.from_regex(r"[A-Za-z][A-Za-z ]{0,20}", fullmatch=True), min_size=0, max_size=5
    ),
    bad_title=bad_cell,
    position=st.integers(0, 5),
)
def test_a_bad_row_is_always_reported(good: list[str], bad_title: str, position: int) -> None:
    lines = [f"{title},said" for title in good]
    lines.insert(min(position, len(lines)), f'"{bad_title}",said')
    rows = parse_minutes("title,you_said\n" + "\n".join(lines) + "\n", "csv", TODAY)
    assert sum(1 for row in rows if not row.ok) == 1
    assert len(rows) == len(lines)
    (bad,) = [row for row in rows if not row.ok]
    assert bad.row == 2 + min(position, len(good))  # its line in the file (header is 1)
