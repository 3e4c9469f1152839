"""The forum feedback pack: what came back since the last meeting, to read out.

Built on the ``staff_items`` read model: an item belongs in the pack when a
response, an outcome (done / couldn't do) or a progress note was recorded on
or after the given date.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from yswd.projections.item_tables import items
from yswd.projections.staff_item_queries import not_restricted


def _on_or_after(instant: str | None, since: date) -> bool:
    return instant is not None and instant[:10] >= since.isoformat()


def what_came_back(doc: dict[str, Any], since: date) -> list[dict[str, Any]]:
    """The entries of one item recorded since ``since``, oldest first."""
    entries: list[dict[str, Any]] = []
    for response in doc["responses"]:
        if _on_or_after(response["recorded_at"], since):
            entries.append(
                {
                    "kind": "response",
                    "text": response["response"],
                    "recorded_at": response["recorded_at"],
                }
            )
    for note in doc["progress"]:
        if _on_or_after(note["recorded_at"], since):
            entries.append(
                {"kind": "progress", "text": note["note"], "recorded_at": note["recorded_at"]}
            )
    if _on_or_after(doc.get("closed_at"), since):
        if doc["status"] == "done":
            entries.append(
                {"kind": "we_did", "text": doc["we_did"], "recorded_at": doc["closed_at"]}
            )
        elif doc["status"] == "couldnt_do":
            text = doc["because"] + (f" Instead: {doc['instead']}" if doc.get("instead") else "")
            entries.append({"kind": "couldnt_do", "text": text, "recorded_at": doc["closed_at"]})
    return sorted(entries, key=lambda entry: entry["recorded_at"])


def feedback_pack(engine: Engine, forum_id: str, since: date) -> list[dict[str, Any]]:
    query = (
        select(items.c.doc)
        .where(items.c.forum_id == forum_id)
        .where(items.c.updated_at >= since.isoformat())
        .where(not_restricted())  # a flagged item is never read out at a meeting
        .order_by(items.c.raised_on, items.c.created_at)
    )
    with engine.connect() as conn:
        docs = [json.loads(doc) for doc in conn.scalars(query)]
    pack = []
    for doc in docs:
        came_back = what_came_back(doc, since)
        if came_back:
            pack.append({"item": doc, "came_back": came_back})
    return pack


EXPORT_COLUMNS = (
    "id",
    "raised_on",
    "first_response_at",
    "closed_at",
    "status",
    "unit_id",
    "forum_id",
    "channel",
    "themes",
    "published",
    "due_on",
    "title",
)


def items_csv(docs: list[dict[str, Any]]) -> str:
    """Lifecycle timestamps for commissioners. No contributor, no private detail."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for doc in docs:
        row = []
        for column in EXPORT_COLUMNS:
            value = doc.get(column)
            if column == "themes":
                value = ";".join(value or [])
            text = "" if value is None else str(value)
            if text[:1] in ("=", "+", "-", "@"):  # no formula injection in spreadsheets
                text = "'" + text
            row.append(text)
        writer.writerow(row)
    return out.getvalue()
