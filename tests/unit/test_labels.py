"""The one table of labels: every status reads in staff and public words, and every
item event type has a label on the auditor's timeline."""

from __future__ import annotations

from yswd.adapters.http.labels import (
    EVENT_LABELS,
    PUBLIC_STATUS_LABELS,
    STAFF_STATUS_LABELS,
    event_label,
)
from yswd.aggregates.event_types import ITEM_EVENT_TYPES
from yswd.aggregates.item import Status
from yswd.projections.public_board import STATUSES


def test_every_item_event_type_has_a_label() -> None:
    assert set(EVENT_LABELS) == set(ITEM_EVENT_TYPES.values())


def test_a_lack_of_progress_note_reads_in_plain_words() -> None:
    assert event_label("lack_of_progress_noted") == "Lack of progress noted"


def test_every_status_reads_in_staff_and_public_words() -> None:
    assert set(STAFF_STATUS_LABELS) == {status.value for status in Status}
    assert set(PUBLIC_STATUS_LABELS) == set(STATUSES)
    assert STAFF_STATUS_LABELS["referred"] == "Referred"
    assert PUBLIC_STATUS_LABELS["referred"] == "Passed to the right team"
    assert PUBLIC_STATUS_LABELS["couldnt_do"] == "Couldn't do"
