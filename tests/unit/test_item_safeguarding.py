"""The item's safeguarding flag and the reveal, in the domain: a flag restricts the item
until a lead closes it, and closing back to the workflow leaves it as it was."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from yswd.aggregates.errors import Conflict
from yswd.aggregates.item import Channel, Item
from yswd.aggregates.item_views import item_view

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def published_item() -> Item:
    item = Item.raise_item(
        "i1",
        forum_id="cedar-cm",
        unit_id="cedar",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title="Nights",
        you_said="Someone comes into my room at night.",
        detail=None,
        contributor="Sam",
        themes=[],
        actor="secretary",
        now=NOW,
    )
    item.publish(None, "moderator", NOW)
    return item


def test_a_flag_restricts_the_item_and_refuses_publishing() -> None:
    item = published_item()
    item.flag_safeguarding("A disclosure.", LATER + timedelta(hours=24), "secretary", LATER)
    assert item.safeguarding_open and item.restricted and not item.on_public_boards
    with pytest.raises(Conflict):
        item.publish(None, "moderator", LATER)
    with pytest.raises(Conflict):
        item.flag_safeguarding("Again.", LATER, "secretary", LATER)


def test_the_acknowledgement_clock() -> None:
    item = published_item()
    item.flag_safeguarding("A disclosure.", NOW + timedelta(hours=24), "secretary", NOW)
    assert not item.ack_overdue(NOW + timedelta(hours=23))
    assert item.ack_overdue(NOW + timedelta(hours=25))
    item.acknowledge_safeguarding("Seen.", "lead", NOW + timedelta(hours=25))
    assert not item.ack_overdue(NOW + timedelta(hours=26))
    with pytest.raises(Conflict):
        item.acknowledge_safeguarding("Again.", "lead", NOW + timedelta(hours=26))


def test_closing_back_to_the_workflow_leaves_the_item_as_it_was() -> None:
    item = published_item()
    before = item_view(item)
    item.flag_safeguarding("A disclosure.", LATER + timedelta(hours=24), "secretary", LATER)
    item.close_safeguarding("No concern.", True, "lead", LATER + timedelta(hours=2))
    after = item_view(item)
    assert not item.restricted and item.on_public_boards
    assert after.pop("safeguarding")["outcome"] == "No concern."
    assert after.pop("restricted") is False
    assert after.pop("version") == before.pop("version") + 2
    assert after == before  # updated_at too: flags are not activity on the item


def test_closing_without_a_return_restricts_it_for_good() -> None:
    item = published_item()
    item.flag_safeguarding("A disclosure.", LATER, "secretary", LATER)
    item.close_safeguarding("Referred on.", False, "lead", LATER)
    assert item.restricted and not item.safeguarding_open
    with pytest.raises(Conflict):
        item.flag_safeguarding("Again.", LATER, "secretary", LATER)
    with pytest.raises(Conflict):
        item.close_safeguarding("Again.", True, "lead", LATER)


def test_a_reveal_is_recorded_with_who_when_and_why() -> None:
    item = published_item()
    assert item.reveal_contributor("To arrange a meeting about it.", "manager", LATER) == "Sam"
    assert item.reveals == (
        {"user_id": "manager", "reason": "To arrange a meeting about it.", "at": LATER},
    )
    assert item.modified_on == NOW
