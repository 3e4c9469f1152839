"""The erasure log: every erasure, written down outside the data folder, for restores.

Restoring a backup made before an erasure would bring the erased person back:
the backup's key store still holds their key, and its read models their name.
The erasure's own record (``ContributorErased``) is in the live event store,
which is exactly what a restore after a lost disk no longer has. So every
erasure is also appended here, to a file kept beside the backup archives
(``YSWD_ERASURE_LOG``, or ``--erasure-log``), and ``yswd restore --erasure-log``
re-applies every erasure recorded after the backup's position.

One JSON object per line, append-only, never the name or any personal field::

    {"kind": "contributor_erased", "erasure_id": "erasure:…", "position": 1234,
     "key_id_hash": "<sha-256 of the contributor's key id>",
     "item_ids": ["…"], "at": "2026-11-02T10:00:00+00:00", "by": "<user id>"}

``key_id_hash`` is the digest ``ContributorErased`` itself stores: the key id is
an HMAC of the normalised name under the service secret, so only a holder of
that secret (in the key store) can tell whose erasure a line is, and only by
guessing names. ``position`` is the erasure event's position in the live log.

The lines are added by ``yswd erasure-log sync`` and every ``yswd backup
--erasure-log``, which append each erasure of the store that the log lacks
(``erasures_after``; one line per erasure id, so repeating is harmless), and by
``FileErasureLog.note``: the hook for ``forget`` to call once its record is
stored, so that the line is written when the erasure happens. Appends take an
exclusive ``flock`` and are fsynced; a line is never rewritten.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yswd.application.service import Yswd

log = logging.getLogger(__name__)

KIND = "contributor_erased"
#: the stored topic of ``ContributorErased.Recorded`` (``yswd.aggregates.topics``:
#: stored names never change, wherever the class is defined)
ERASURE_TOPIC = "yswd.audit:ContributorErased.Recorded"
SCAN_BATCH = 1000


class ErasureLogError(Exception):
    """The erasure log cannot be read: a restore must not go on without it."""


@dataclass(frozen=True)
class ErasureRecord:
    """One erasure: which key (by digest), where in the log, which items. No name."""

    erasure_id: str
    position: int
    key_id_hash: str
    item_ids: tuple[str, ...] = ()
    at: str = ""
    by: str = ""
    kind: str = field(default=KIND)

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "erasure_id": self.erasure_id,
                "position": self.position,
                "key_id_hash": self.key_id_hash,
                "item_ids": list(self.item_ids),
                "at": self.at,
                "by": self.by,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, line: str) -> ErasureRecord:
        data = json.loads(line)
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise ValueError("not an erasure record")
        key_id_hash = data["key_id_hash"]
        if not (isinstance(key_id_hash, str) and len(key_id_hash) == 64):
            raise ValueError("key_id_hash is not a SHA-256 digest")
        return cls(
            erasure_id=str(data["erasure_id"]),
            position=int(data["position"]),
            key_id_hash=key_id_hash,
            item_ids=tuple(str(item) for item in data.get("item_ids", ())),
            at=str(data.get("at", "")),
            by=str(data.get("by", "")),
        )

    @classmethod
    def of_event(cls, event: Any, position: int) -> ErasureRecord:
        """The record of a stored ``ContributorErased.Recorded`` event."""
        timestamp = getattr(event, "timestamp", None)
        return cls(
            erasure_id=str(event.originator_id),
            position=int(position),
            key_id_hash=str(event.key_id_hash),
            item_ids=tuple(str(item) for item in getattr(event, "item_ids", ()) or ()),
            at=timestamp.isoformat() if timestamp is not None else "",
            by=str(getattr(event, "actor", "")),
        )


def read_log(path: Path) -> list[ErasureRecord]:
    """Every record in the log, in the order written.

    A missing file, or a line that cannot be read, stops the reader: going on could
    skip an erasure. (``sync`` and ``backup --erasure-log`` create the file, empty
    when there has been no erasure yet.)
    """
    if not path.is_file():
        raise ErasureLogError(
            f"the erasure log {path} does not exist; give the log kept beside the backups "
            "(`yswd erasure-log sync --erasure-log FILE` creates it)"
        )
    records: list[ErasureRecord] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ErasureLogError(f"the erasure log {path} cannot be read: {error}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(ErasureRecord.from_json(line))
        except (ValueError, KeyError, TypeError) as error:
            raise ErasureLogError(
                f"line {number} of the erasure log {path} is damaged ({error}); "
                "repair it (or run `yswd backup --erasure-log` on the live store to add "
                "the erasures it holds) before restoring"
            ) from None
    return records


def records_after(path: Path, position: int) -> list[ErasureRecord]:
    """The erasures the log holds from after log position ``position`` (oldest first)."""
    return sorted(
        (record for record in read_log(path) if record.position > position),
        key=lambda record: record.position,
    )


def append(path: Path, records: Iterable[ErasureRecord]) -> int:
    """Append the records the log does not hold yet (by ``erasure_id``); how many were.

    The file is created (mode 600) if it does not exist, even when there is nothing to add.
    """
    wanted = list(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        known = {record.erasure_id for record in read_log(path)}
        lines = []
        for record in wanted:
            if record.erasure_id not in known:
                known.add(record.erasure_id)
                lines.append(record.to_json() + "\n")
        if lines:
            _ends_with_newline_or_fix(fd, path)
            os.write(fd, "".join(lines).encode())
            os.fsync(fd)
        return len(lines)
    finally:
        os.close(fd)  # releases the lock


def _ends_with_newline_or_fix(fd: int, path: Path) -> None:
    """A line torn by a crash mid-append must not swallow the next record."""
    size = path.stat().st_size
    if size == 0:
        return
    with path.open("rb") as file:
        file.seek(size - 1)
        if file.read(1) != b"\n":
            os.write(fd, b"\n")


class FileErasureLog:
    """The erasure hook's target: ``note`` appends the erasure just stored.

    ``forget`` calls ``note`` with its ``ContributorErased`` record once that is
    saved, and the log position saving it returned. The erasure has happened by
    then (the key is gone), so a failure to write is logged, not raised;
    ``yswd erasure-log sync`` (or the next ``yswd backup --erasure-log``) adds
    the line from the event store.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def note(self, erasure: Any, position: int | None, actor: str = "") -> None:
        """Append the record of ``erasure`` (a ``ContributorErased``) stored at ``position``."""
        if position is None:
            return
        when = getattr(erasure, "modified_on", None) or getattr(erasure, "created_on", None)
        record = ErasureRecord(
            erasure_id=str(erasure.id),
            position=int(position),
            key_id_hash=str(erasure.key_id_hash),
            item_ids=tuple(str(item) for item in getattr(erasure, "item_ids", ()) or ()),
            at=when.isoformat() if when is not None else "",
            by=actor,
        )
        try:
            append(self.path, [record])
        except (OSError, ErasureLogError):
            log.error(
                "an erasure could not be added to the erasure log %s; run "
                "`yswd erasure-log sync --erasure-log %s` to add it from the event store",
                self.path,
                self.path,
                exc_info=True,
            )


def erasures_after(app: Yswd, position: int = 0) -> Iterator[ErasureRecord]:
    """Every erasure the event store holds after ``position``, oldest first."""
    start = position + 1
    while True:
        batch = app.recorder.select_notifications(
            start=start, limit=SCAN_BATCH, topics=[ERASURE_TOPIC]
        )
        if not batch:
            return
        for notification in batch:
            event = app.mapper.to_domain_event(notification)
            yield ErasureRecord.of_event(event, notification.id)
        start = batch[-1].id + 1


def sync_log(app: Yswd, path: Path) -> int:
    """Add to the log every erasure in the event store that it lacks."""
    return append(path, erasures_after(app))
