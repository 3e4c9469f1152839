"""A committed minutes import: which items one uploaded file created.

Its id is derived from the forum and a hash of the file's normalised content,
so a second upload of the same file finds this record and creates nothing.
It holds item ids only, never the rows' text (contributor names stay erasable).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate


def minutes_import_id(forum_id: str, digest: str) -> str:
    return f"minutes:{forum_id}:{digest}"


class MinutesImport(Aggregate):
    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        forum_id: str
        digest: str
        item_ids: list[str]
        rows: list[int]

    class Recorded(Aggregate.Created):
        forum_id: str
        digest: str
        item_ids: list[str]
        rows: list[int]

        def apply(self, aggregate: MinutesImport) -> None:
            aggregate.forum_id = self.forum_id
            aggregate.digest = self.digest
            aggregate.item_ids = list(self.item_ids)
            aggregate.rows = list(self.rows)

    @classmethod
    def record(
        cls,
        forum_id: str,
        digest: str,
        item_ids: list[str],
        rows: list[int],
        actor: str,
        now: datetime,
    ) -> MinutesImport:
        return cls._create(
            cls.Recorded,
            id=minutes_import_id(forum_id, digest),
            forum_id=forum_id,
            digest=digest,
            item_ids=item_ids,
            rows=rows,
            actor=actor,
            timestamp=now,
        )
