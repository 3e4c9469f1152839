"""Stable names for event types, used in histories, exports and the NATS relay.

A stored topic names a Python class, which may be renamed (with
``register_topic``). These names are the public contract instead: the relay
publishes ``yswd.events.item.<name>`` and histories show ``"type": <name>``.
The mapping lives here, in one place; any event class not listed falls back
to the snake_case of ``<Aggregate><Event>``.
"""

from __future__ import annotations

import re
from typing import Any

from yswd.aggregates.disclosure import Disclosure
from yswd.aggregates.item import Item

#: event class -> its stable name; keep these unchanged once published
ITEM_EVENT_TYPES: dict[type[Any], str] = {
    Item.Raised: "item_raised",
    Item.Published: "item_published",
    Item.Referred: "item_referred",
    Item.ResponsePosted: "response_posted",
    Item.ProgressNoted: "progress_noted",
    Item.Completed: "item_completed",
    Item.Declined: "item_declined",
    Item.ChangeVerified: "change_verified",
    Item.ChangeNotConfirmed: "change_not_confirmed",
    Item.Reopened: "item_reopened",
    Item.LackOfProgressNoted: "lack_of_progress_noted",
    Item.RepeatLinked: "repeat_linked",
    Item.RepeatRecorded: "repeat_recorded",
    Item.SafeguardingFlagged: "safeguarding_flagged",
    Item.SafeguardingAcknowledged: "safeguarding_acknowledged",
    Item.SafeguardingClosed: "safeguarding_closed",
    Item.ContributorRevealed: "contributor_revealed",
}

#: records of staff reading identifiable data (``read:<id>``, subject ``yswd.events.read.*``)
READ_EVENT_TYPES: dict[type[Any], str] = {
    Disclosure.IdentifiableDataRead: "identifiable_data_read",
}

#: fields every event carries that are not part of its own data
ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "actor", "originator_topic"}
)


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def event_type_name(event: Any) -> str:
    """The stable name of an event (or of an event class)."""
    cls = event if isinstance(event, type) else type(event)
    known = ITEM_EVENT_TYPES.get(cls) or READ_EVENT_TYPES.get(cls)
    if known is not None:
        return known
    owner = cls.__qualname__.split(".")
    return "_".join(snake_case(part) for part in owner[-2:])


def event_data(event: Any) -> dict[str, Any]:
    """An event's own fields (no envelope), as JSON-safe values."""
    return {
        key: json_safe(value) for key, value in vars(event).items() if key not in ENVELOPE_FIELDS
    }


def json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
