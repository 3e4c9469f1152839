"""Dates as people in the UK read and type them, and words that agree with their numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from yswd.adapters.http.pages.common import date_text, parse_date
from yswd.adapters.http.templating import article, date_parts, plural, uk_date, uk_datetime


def test_a_date_reads_as_day_month_and_year() -> None:
    assert uk_date("2026-12-01") == "1 December 2026"
    assert uk_date(date(2011, 1, 10)) == "10 January 2011"
    assert uk_date("2026-11-09T15:00:00+00:00") == "9 November 2026"
    assert uk_datetime(datetime(2026, 11, 9, 15, 5, tzinfo=UTC)) == "9 November 2026 at 15:05"
    assert uk_date(None) == "" and uk_date("not a date") == "not a date"


def test_the_date_input_boxes_make_one_date() -> None:
    boxes = {"due_on-day": "1", "due_on-month": "12", "due_on-year": "2026"}
    assert parse_date(date_text(boxes, "due_on")) == date(2026, 12, 1)
    # an API-like post with one ISO field still works
    assert parse_date(date_text({"due_on": "2026-12-01"}, "due_on")) == date(2026, 12, 1)
    # 31 February is not a date; empty boxes leave an optional date out
    assert (
        parse_date(date_text({**boxes, "due_on-day": "31", "due_on-month": "2"}, "due_on")) is None
    )
    assert date_text({"due_on-day": "", "due_on-month": "", "due_on-year": ""}, "due_on") == ""
    assert parse_date("1/12/2026") == date(2026, 12, 1)


def test_the_boxes_show_what_was_typed_or_the_date() -> None:
    assert date_parts("2026-12-01") == ("1", "12", "2026")
    assert date_parts("31 2 2026") == ("31", "2", "2026")
    assert date_parts("? 2 2026") == ("", "2", "2026")
    assert date_parts("") == ("", "", "")


def test_words_agree_with_their_numbers() -> None:
    assert plural(1, "item") + " saved" == "1 item saved"
    assert plural(3, "item") == "3 items" and plural(0, "day") == "0 days"
    assert article("admin") == "an admin" and article("moderator") == "a moderator"
