"""Audited reads: that a member of staff read identifiable data (who, when, what).

Each read is its own small aggregate (id ``read:<random>``), written to the
event store before the data is shown, so the record is covered by the hash
chain like every other event. It names the reader, their role, the kind of
read and the items read, and never the contributor's name or any detail.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate

#: the prefix of every read record's aggregate id (and its NATS subject token)
READ_PREFIX = "read"


class ReadKind(StrEnum):
    """What was read."""

    ITEM = "item"  # one item with its contributor or private detail (API or staff page)
    ITEM_LIST = "item_list"  # a list of items, some carrying a contributor or detail
    FEEDBACK_PACK = "feedback_pack"  # a forum's feedback pack (it carries whole items)
    HISTORY = "history"  # an item's history: every event, with the personal fields


def read_aggregate_id(read_id: str) -> str:
    return f"{READ_PREFIX}:{read_id}"


class Disclosure(Aggregate):
    """One read of identifiable data by a member of staff."""

    if TYPE_CHECKING:
        reader_id: str
        role: str
        kind: str
        item_ids: list[str]
        read_at: datetime

    class IdentifiableDataRead(Aggregate.Created):
        reader_id: str
        role: str
        kind: str
        item_ids: list[str]

        def apply(self, aggregate: Disclosure) -> None:
            aggregate.reader_id = self.reader_id
            aggregate.role = self.role
            aggregate.kind = self.kind
            aggregate.item_ids = list(self.item_ids)
            aggregate.read_at = self.timestamp

    @classmethod
    def record(
        cls,
        read_id: str,
        *,
        reader_id: str,
        role: str,
        kind: ReadKind,
        item_ids: Iterable[str],
        now: datetime,
    ) -> Disclosure:
        return cls._create(
            cls.IdentifiableDataRead,
            id=read_aggregate_id(read_id),
            reader_id=reader_id,
            role=role,
            kind=kind.value,
            item_ids=list(item_ids),
            actor=reader_id,
            timestamp=now,
        )
