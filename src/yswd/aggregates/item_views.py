"""How an item is shown: the staff representation of the HTTP contract, and the public one.

Both projections and the HTTP edge use these functions, so an item reads the
same wherever it comes from.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from yswd.aggregates.access import Principal
from yswd.aggregates.item import Item

PUBLIC_FIELDS = (
    "id",
    "title",
    "you_said",
    "status",
    "raised_on",
    "responses",
    "we_did",
    "because",
    "instead",
    "verified",
    "updated_at",
)


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {key: iso(value) if isinstance(value, date) else value for key, value in entry.items()}
        for entry in entries
    ]


def item_view(item: Item) -> dict[str, Any]:
    """The staff view of an item, exactly the contract's field names.

    ``safeguarding`` and ``restricted`` appear once an item has been flagged, and
    ``reveals`` once its contributor was revealed: an item with neither answers
    exactly as it did before flags and reveals existed.
    """
    view: dict[str, Any] = {
        "id": item.item_id,
        "forum_id": item.forum_id,
        "unit_id": item.unit_id,
        "channel": item.channel.value,
        "raised_on": iso(item.raised_on),
        "title": item.title,
        "you_said": item.you_said,
        "original_you_said": item.original_you_said,
        "detail": item.detail,
        "contributor": item.contributor,
        "themes": list(item.themes),
        "status": item.status.value,
        "version": item.version,
        "published": item.published,
        "referred_to": item.referred_to,
        "referred_to_forum": item.referred_to_forum,
        "repeat_of": item.repeat_of,
        "repeats": _entries(item.repeats),
        "times_raised": 1 + len(item.repeats),
        "due_on": iso(item.due_on),
        "responses": _entries(item.responses),
        "progress": _entries(item.progress),
        "referrals": _entries(item.referrals),
        "we_did": item.we_did,
        "because": item.because,
        "instead": item.instead,
        "verified": item.verified,
        "first_response_at": iso(item.first_response_at),
        "closed_at": iso(item.closed_at),
        "created_at": iso(item.created_on),
        "updated_at": iso(item.modified_on),
    }
    if item.safeguarding is not None:
        view["safeguarding"] = safeguarding_view(item.safeguarding)
        view["restricted"] = item.restricted
    if item.reveals:
        view["reveals"] = [
            {"user_id": entry["user_id"], "reason": entry["reason"], "at": iso(entry["at"])}
            for entry in item.reveals
        ]
    return view


def safeguarding_view(flag: dict[str, Any] | None) -> dict[str, Any] | None:
    if flag is None:
        return None
    return {
        key: iso(value) if isinstance(value, datetime) else value for key, value in flag.items()
    }


def shown_to(principal: Principal, view: dict[str, Any]) -> dict[str, Any]:
    """The staff view as this caller may see it.

    Managers and moderators never see who raised an item (``contributor_held``
    says someone did), nor the record of reveals. Once a flag is closed back to
    the workflow, only those who may read flagged items see that there was one.
    """
    shown = dict(view)
    if not principal.sees_contributor:
        shown["contributor_held"] = view.get("contributor") is not None
        shown["contributor"] = None
        shown.pop("reveals", None)
    if not principal.sees_safeguarding and not view.get("restricted"):
        shown.pop("safeguarding", None)  # closed back to the workflow: as it was before
        shown.pop("restricted", None)
    return shown


def public_view(staff_view: dict[str, Any]) -> dict[str, Any]:
    """Only approved, impersonal fields. Responses lose everything but text and date."""
    public = {field: staff_view[field] for field in PUBLIC_FIELDS}
    public["responses"] = [
        {"response": entry["response"], "recorded_at": entry["recorded_at"]}
        for entry in staff_view["responses"]
    ]
    public["themes"] = staff_view["themes"]
    public["times_raised"] = staff_view.get("times_raised", 1)  # how often this issue came up
    return public
