"""A forum's agenda: what it must consider at its next meeting (seed 004, Appendix III).

Built on the ``rm_items`` read model (owned by ``projections/staff_items``); this
module only reads it. Three sections:

- ``referred``: open items referred to this forum, newest referral first, each with
  its due date, the referral note, who referred it and from where;
- ``raised``: open items raised at this forum (and not referred back to it), overdue
  ones first, each with its "why there has been a lack of progress" notes;
- ``closed``: items of this forum (raised at it, or referred to it at some point)
  closed on or after ``since`` (the last meeting's date).

An item is overdue when it is open, has had no first response and its target date
has passed. A lack-of-progress note counts for an overdue item when it was recorded
on or after the target date; an overdue item without one is flagged
``needs_lack_of_progress_note``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Engine, or_, select

from yswd.projections.item_tables import items
from yswd.projections.staff_item_queries import OPEN_STATUSES, is_overdue, not_restricted

#: without ``since``, items closed in this many days before today are listed
DEFAULT_SINCE_DAYS = 28


def _latest_referral_to(doc: dict[str, Any], forum_id: str) -> dict[str, Any] | None:
    steps: list[dict[str, Any]] = doc.get("referrals") or []
    found = [step for step in steps if step.get("to_forum_id") == forum_id]
    return found[-1] if found else None


def lack_of_progress_notes(doc: dict[str, Any], since: str | None) -> list[dict[str, Any]]:
    """The item's lack-of-progress notes recorded on or after ``since`` (a date), oldest first."""
    return [
        note
        for note in doc.get("progress") or []
        if note.get("kind") == "lack_of_progress"
        and (since is None or note["recorded_at"][:10] >= since)
    ]


def _entry(doc: dict[str, Any], target_on: str, today: str) -> dict[str, Any]:
    overdue = is_overdue(doc, target_on, today)
    notes = lack_of_progress_notes(doc, target_on) if overdue else []
    return {
        "item": {
            key: doc.get(key)
            for key in (
                "id",
                "forum_id",
                "unit_id",
                "title",
                "you_said",
                "status",
                "raised_on",
                "due_on",
                "referred_to",
                "referred_to_forum",
                "times_raised",
                "closed_at",
                "we_did",
                "because",
                "instead",
                "responses",
            )
        },
        "target_on": target_on,
        "overdue": overdue,
        "lack_of_progress": notes,
        "needs_lack_of_progress_note": overdue and not notes,
    }


def build_agenda(
    engine: Engine,
    *,
    forum_id: str,
    forum_unit_id: str,
    today: date,
    since: date,
    scope: Any = None,
) -> dict[str, list[dict[str, Any]]]:
    """The three sections of the agenda of ``forum_id`` as of ``today``."""
    # forum ids are slugs (no LIKE wildcards); the view may be stored compact or spaced
    patterns = (f'%"to_forum_id":"{forum_id}"%', f'%"to_forum_id": "{forum_id}"%')
    query = (
        select(items.c.doc, items.c.target_on)
        .where(
            or_(
                items.c.forum_id == forum_id,
                items.c.referred_to == forum_unit_id,
                *(items.c.doc.like(pattern) for pattern in patterns),
            )
        )
        .where(not_restricted())
    )  # never a flagged item, whoever prints the agenda
    if scope is not None:
        query = query.where(scope)
    with engine.connect() as conn:
        rows = [(json.loads(doc), target_on) for doc, target_on in conn.execute(query)]
    now = today.isoformat()
    referred: list[tuple[str, dict[str, Any]]] = []
    raised: list[dict[str, Any]] = []
    closed: list[dict[str, Any]] = []
    for doc, target_on in rows:
        is_open = doc["status"] in OPEN_STATUSES
        if is_open and doc.get("referred_to_forum") == forum_id:
            step = _latest_referral_to(doc, forum_id) or {}
            entry = _entry(doc, target_on, now)
            entry["referral"] = {
                key: step.get(key)
                for key in (
                    "from_unit_id",
                    "from_forum_id",
                    "referred_by",
                    "recorded_at",
                    "due_on",
                    "note",
                )
            }
            referred.append((step.get("recorded_at") or "", entry))
        elif is_open and doc["forum_id"] == forum_id:
            raised.append(_entry(doc, target_on, now))
        elif (
            not is_open
            and (doc.get("closed_at") or "")[:10] >= since.isoformat()
            and (doc["forum_id"] == forum_id or _latest_referral_to(doc, forum_id))
        ):
            closed.append(_entry(doc, target_on, now))
    referred.sort(key=lambda pair: (pair[0], pair[1]["item"]["id"]), reverse=True)
    raised.sort(
        key=lambda entry: (not entry["overdue"], entry["item"]["raised_on"], entry["item"]["id"])
    )
    closed.sort(key=lambda entry: entry["item"]["closed_at"] or "", reverse=True)
    return {"referred": [entry for _, entry in referred], "raised": raised, "closed": closed}
