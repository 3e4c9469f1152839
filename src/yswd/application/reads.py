"""Audited reads: no contributor's name or private detail is shown without a record.

Each read of identifiable data is recorded (``Disclosure``: who, their role,
what kind of read, which items, when) before it is answered, and a read whose
record cannot be written is refused. Auditors list the records through
``yswd.application.audit``.
"""

from __future__ import annotations

from collections.abc import Iterable

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.disclosure import Disclosure, ReadKind
from yswd.aggregates.item import Item
from yswd.application.items import Items
from yswd.application.unit_of_work import UnitOfWork, new_id


class AuditedReads:
    """Reading one item, and recording the reads of identifiable data."""

    def __init__(self, uow: UnitOfWork, items: Items) -> None:
        self.uow = uow
        self.items = items

    def get_item(self, actor: Principal, item_id: str, version: int | None = None) -> Item:
        """One item in the actor's scope; a read of its contributor or detail is recorded."""
        actor.require(Action.READ_ITEMS)
        item = self.items.load_item(item_id, version)
        self.items.require_readable(actor, item)
        if (actor.sees_contributor and item.contributor is not None) or item.detail is not None:
            self.record_read(actor, ReadKind.ITEM, [item.item_id])
        return item

    def record_read(self, actor: Principal, kind: ReadKind, item_ids: Iterable[str]) -> int | None:
        """Record who read which items' identifiable data, and when, before it is shown.

        It raises when the record cannot be written, and then the read must be
        refused: no identifiable data leaves without its record. Returns the
        record's log position (None when there was nothing to record).
        """
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return None
        read = Disclosure.record(
            new_id(),  # random, and never drawn from ``uow.ids`` (tests fix those)
            reader_id=actor.user_id,
            role=actor.role.value,
            kind=kind,
            item_ids=ids,
            now=self.uow.clock(),
        )
        return self.uow.save(read)
