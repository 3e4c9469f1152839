"""The record that a contributor was erased: when, by whom, which items; never who."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from yswd.aggregates.base import Aggregate

#: what an erased personal field reads as, wherever it is shown
ERASED = "[erased]"


class ContributorErased(Aggregate):
    """That a contributor was erased, when and by whom; never who they were."""

    if TYPE_CHECKING:
        key_id_hash: str
        items_affected: int
        item_ids: list[str]

    class Recorded(Aggregate.Created):
        """Version 2 names the items whose rows must be rendered again (ids only)."""

        class_version = 2
        key_id_hash: str
        items_affected: int
        item_ids: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["item_ids"] = []

        def apply(self, aggregate: ContributorErased) -> None:
            aggregate.key_id_hash = self.key_id_hash
            aggregate.items_affected = self.items_affected
            aggregate.item_ids = list(self.item_ids)

    @classmethod
    def record(
        cls, erasure_id: str, key_id_hash: str, item_ids: list[str], actor: str, now: datetime
    ) -> ContributorErased:
        return cls._create(
            cls.Recorded,
            id=f"erasure:{erasure_id}",
            key_id_hash=key_id_hash,
            items_affected=len(item_ids),
            item_ids=list(item_ids),
            actor=actor,
            timestamp=now,
        )
