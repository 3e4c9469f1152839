"""Erasures logged after a backup, applied again to the store restored from it."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yswd.adapters.backup.copies import (
    Auditor,
    contributor_names,
)
from yswd.adapters.crypto import key_id_for_contributor
from yswd.adapters.crypto.key_stores import KEY_SCHEMA
from yswd.adapters.erasure_log import (
    ErasureRecord,
)

if TYPE_CHECKING:
    from yswd.adapters.container import Container


def reapply_erasures(container: Container, records: Sequence[ErasureRecord]) -> list[ErasureRecord]:
    """Erase again, in a restored store, every erasure of ``records``; those that took effect.

    The records name keys by digest only. A contributor the restored staff read
    model still names is erased with ``forget`` (key, rows, clips, a new
    ``ContributorErased``); a key no row names is destroyed directly, and the
    clips of the items the record lists are deleted. An erasure the backup
    already holds matches nothing and is skipped, so replaying is safe to repeat.
    """
    from yswd.aggregates.access import SYSTEM

    keys = container.keys
    if keys is None or not records:
        return []
    auditor = Auditor(container)
    wanted = {record.key_id_hash: record for record in records}
    done: dict[str, ErasureRecord] = {}
    secret = keys.secret()
    for name in contributor_names(container):
        digest = _digest(key_id_for_contributor(secret, name))
        if digest in wanted and digest not in done:
            auditor.forget(name)
            done[digest] = wanted[digest]
    for key_id in _key_ids(container):
        digest = _digest(key_id)
        if digest in wanted and digest not in done:
            record = wanted[digest]
            staff = container.read_models.get("staff_items")
            keys.destroy(key_id)
            if staff is not None and hasattr(staff, "forget_cache"):
                staff.forget_cache()
            if container.clips is not None:
                container.clips.erase_items(SYSTEM, record.item_ids)
            done[digest] = record
    return sorted(done.values(), key=lambda record: record.position)


def _digest(key_id: str) -> str:
    return hashlib.sha256(key_id.encode()).hexdigest()


def _key_ids(container: Container) -> list[str]:
    """Every data key id in the container's key store (a file, or PostgreSQL's schema)."""
    keys: Any = container.keys
    path = getattr(keys, "path", None)
    if isinstance(path, Path):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return [str(row[0]) for row in conn.execute("SELECT key_id FROM data_keys")]
        finally:
            conn.close()
    engine = getattr(keys, "engine", None)
    if engine is not None:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT key_id FROM {KEY_SCHEMA}.contributor_keys")
            return [str(row[0]) for row in rows]
    return []
