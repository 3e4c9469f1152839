"""Audit and privacy use cases: item histories, chain verification, erasure.

The HTTP routes and the ``yswd audit`` commands both come through here.

- ``history``: every event of an item up to an instant, with its actor, data
  and chain hash, and the item as it stood then.
- ``verify``: re-reads the whole event log in order, recomputes the hash chain
  and checks every row's seal; reports the first event that does not match.
- ``forget``: crypto-shreds a contributor. Their data key is destroyed, so the
  name and private detail of items they raised read as ``"[erased]"``
  everywhere (events are never rewritten, so the chain still verifies); the
  staff read model is re-rendered, and SQLite's WAL is checkpointed so no old
  page survives in a -wal file.
- ``checkpoint`` / ``verify_against``: an Ed25519-signed statement of the
  event count and head hash; a log edited and then fully re-chained (and even
  re-sealed) no longer matches an earlier checkpoint kept off the host.
- ``reads``: the recorded reads of identifiable data (who, when, what). Every
  history read is recorded here before it is answered, like item reads in
  ``Yswd.get_item`` and lists in the routers (``Yswd.record_read``).

Erased fields read as ``"[erased]"`` (``yswd.adapters.crypto.ERASED``); a field
that was empty stays ``null``.

Limits and operator notes:

- The chain is a read model. It records each event as the runner applies it
  (at once after every write in embedded mode), so a row deleted before the
  chain saw it cannot be noticed; a checkpoint bounds that window.
- Keys live in ``keys.sqlite3`` in the data folder (scaled out: the
  ``yswd_keys`` schema in PostgreSQL). Back them up separately from the events
  and never restore an old copy after an erasure: it would bring the destroyed
  keys back. Losing them makes every contributor's data unreadable.
- On PostgreSQL the event store holds only ciphertext, but the ``rm_items``
  read model held the plaintext: after ``forget`` run ``VACUUM (FULL, ANALYZE)``
  on ``rm_items`` and ``CHECKPOINT``, and expire base backups and WAL archives
  taken before the erasure. docs/erasure-postgresql.md has the whole list.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import select

from yswd.adapters.crypto import (
    ShreddingMapper,
    key_id_for_contributor,
    normalise_name,
)
from yswd.adapters.persistence import write_transaction
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.disclosure import ReadKind
from yswd.aggregates.errors import Conflict, DomainError, InvalidInput, NotFound
from yswd.aggregates.event_types import event_data, event_type_name
from yswd.aggregates.item import Item, item_aggregate_id
from yswd.application.views import item_view
from yswd.projections.access_log import list_reads
from yswd.projections.audit_chain import GENESIS, audit_chain, chain_hash
from yswd.projections.staff_items import items as rm_items
from yswd.projections.staff_items import upsert

if TYPE_CHECKING:
    from yswd.bootstrap import Container

SCAN_BATCH = 1000

log = logging.getLogger(__name__)


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


# -- histories ----------------------------------------------------------------------


def parse_instant(raw: str | None) -> datetime | None:
    """An ISO 8601 instant; one without a zone is taken as UTC."""
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise InvalidInput(f"as_of must be an ISO 8601 instant, not {raw!r}.") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _hashes(container: Container, aggregate_id: str) -> dict[int, str]:
    with container.engine.connect() as conn:
        rows = conn.execute(
            select(audit_chain.c.originator_version, audit_chain.c.hash).where(
                audit_chain.c.originator_id == aggregate_id
            )
        )
        return {version: digest for version, digest in rows}


def history(
    container: Container, actor: Principal, item_id: str, as_of: datetime | None = None
) -> dict[str, Any]:
    """The item's events up to ``as_of`` (all without it), and its state then."""
    actor.require(Action.AUDIT)
    app = container.app
    aggregate_id = item_aggregate_id(item_id)
    events: list[Any] = list(app.events.get(aggregate_id))
    if not events:
        raise NotFound(f"There is no item '{item_id}'.")
    if as_of is not None:
        events = [event for event in events if event.timestamp <= as_of]
        if not events:
            raise NotFound(f"Item '{item_id}' did not exist yet at {as_of.isoformat()}.")
    _catch_up(container)
    hashes = _hashes(container, aggregate_id)
    state: Item = app.repository.get(aggregate_id, version=events[-1].originator_version)
    app.require_item_in_scope(actor, state)
    app.record_read(actor, ReadKind.HISTORY, [item_id])  # raises: no record, no history
    return {
        "item_id": item_id,
        "as_of": as_of.isoformat() if as_of is not None else None,
        "state": item_view(state),
        "events": [
            {
                "version": event.originator_version,
                "type": event_type_name(event),
                "recorded_at": event.timestamp.isoformat(),
                "actor": event.actor,
                "data": event_data(event),
                "hash": hashes.get(event.originator_version),
            }
            for event in events
        ],
    }


# -- audited reads ------------------------------------------------------------------


def reads(
    container: Container,
    actor: Principal,
    *,
    user_id: str | None = None,
    item_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """The recorded reads of identifiable data, newest first: who, when, what."""
    actor.require(Action.AUDIT)
    _catch_up(container)
    found, total = list_reads(
        container.engine, user_id=user_id, item_id=item_id, limit=limit, offset=offset
    )
    names: dict[str, str | None] = {}
    for read in found:
        reader = read["reader_id"]
        if reader not in names:
            try:
                names[reader] = container.app.user(reader).name
            except DomainError:
                names[reader] = None  # the system, or a user id that is not a user
        read["reader_name"] = names[reader]
    return {"reads": found, "total": total, "limit": limit, "offset": offset}


# -- tamper evidence ----------------------------------------------------------------


def _catch_up(container: Container) -> None:
    """Bring the chain up to the log's head where this process runs the read models."""
    if container.settings.projections_in_process:
        try:
            container.runner.catch_up()
        except Exception:  # a forged row may not even decode; verify will name it
            log.warning("read models could not catch up before an audit", exc_info=True)


def _notifications(container: Container) -> Iterator[Any]:
    start = 1
    while True:
        batch = container.app.recorder.select_notifications(start=start, limit=SCAN_BATCH)
        if not batch:
            return
        yield from batch
        start = batch[-1].id + 1


def _chain_rows(container: Container) -> Iterator[Any]:
    after = 0
    while True:
        with container.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(audit_chain)
                    .where(audit_chain.c.position > after)
                    .order_by(audit_chain.c.position)
                    .limit(SCAN_BATCH)
                )
            )
        if not rows:
            return
        yield from rows
        after = rows[-1].position


def _bad(position: int, originator_id: str, version: int, reason: str) -> dict[str, Any]:
    return {
        "position": position,
        "originator_id": originator_id,
        "version": version,
        "reason": reason,
    }


def verify(container: Container, actor: Principal) -> dict[str, Any]:
    """Recompute the chain over the whole stored log and compare it with the recorded one."""
    actor.require(Action.AUDIT)
    _catch_up(container)
    mapper = container.app.mapper
    rows = _chain_rows(container)
    previous = GENESIS
    checked = 0
    first_bad: dict[str, Any] | None = None
    row = next(rows, None)
    for notification in _notifications(container):
        where = (notification.id, str(notification.originator_id), notification.originator_version)
        if row is not None and row.position < notification.id:
            first_bad = _bad(
                row.position,
                row.originator_id,
                row.originator_version,
                "this event is in the chain but missing from the event log (deleted)",
            )
            break
        if row is None or row.position > notification.id:
            first_bad = _bad(*where, "this event is in the log but not in the chain (inserted)")
            break
        if (row.originator_id, row.originator_version) != (where[1], where[2]):
            first_bad = _bad(
                *where,
                f"the chain has {row.originator_id} v{row.originator_version} here "
                "(moved or replaced)",
            )
            break
        if chain_hash(previous, notification) != row.hash:
            first_bad = _bad(*where, "the stored event was altered (its hash does not match)")
            break
        if isinstance(mapper, ShreddingMapper) and not mapper.seal_ok(notification):
            first_bad = _bad(*where, "the stored event was not written by this service (bad seal)")
            break
        previous = row.hash
        checked += 1
        row = next(rows, None)
    else:
        if row is not None:
            first_bad = _bad(
                row.position,
                row.originator_id,
                row.originator_version,
                "this event is in the chain but missing from the event log (deleted)",
            )
    answer: dict[str, Any] = {"ok": first_bad is None, "events_checked": checked}
    if first_bad is not None:
        answer["first_bad"] = first_bad
    return answer


def export(container: Container, actor: Principal) -> Iterator[dict[str, Any]]:
    """Every stored event in log order, with its data and chain hash (for JSON Lines)."""
    actor.require(Action.AUDIT)
    _catch_up(container)
    hashes: dict[int, str] = {}
    with container.engine.connect() as conn:
        for position, digest in conn.execute(select(audit_chain.c.position, audit_chain.c.hash)):
            hashes[position] = digest
    previous = GENESIS
    for notification in _notifications(container):
        event: Any = container.app.mapper.to_domain_event(notification)
        recorded = hashes.get(notification.id)
        yield {
            "position": notification.id,
            "originator_id": str(notification.originator_id),
            "version": notification.originator_version,
            "topic": notification.topic,
            "type": event_type_name(event),
            "recorded_at": event.timestamp.isoformat(),
            "actor": getattr(event, "actor", None),
            "data": event_data(event),
            "state_sha256": hashlib.sha256(bytes(notification.state)).hexdigest(),
            "previous_hash": previous,
            "hash": recorded,
        }
        previous = recorded or previous


# -- erasure ----------------------------------------------------------------------


def forget(container: Container, actor: Principal, contributor: str) -> dict[str, Any]:
    """Crypto-shred a contributor: destroy their key, purge read models, record the fact."""
    actor.require(Action.FORGET)
    name = normalise_name(contributor or "")
    if not name:
        raise InvalidInput("contributor must name the person to erase.")
    app = container.app
    mapper = app.mapper
    if not isinstance(mapper, ShreddingMapper):
        raise InvalidInput("This store was not set up for erasure (no shredding mapper).")
    _catch_up(container)
    key_id = key_id_for_contributor(mapper.keys.secret(), contributor)
    runner = container.runner
    staff = container.read_models.get("staff_items")
    with runner._lock:  # no batch may re-render a row from a cached item meanwhile
        mapper.keys.destroy(key_id)
        if staff is not None and hasattr(staff, "forget_cache"):
            staff.forget_cache()
        affected = _scrub_staff_items(container, name)
    if container.clips is not None:  # diary-room recordings are personal data too
        container.clips.erase_items(actor, affected)
    erasure = ContributorErased.record(
        app.ids(),
        hashlib.sha256(key_id.encode()).hexdigest(),
        affected,
        actor.user_id,
        app.clock(),
    )
    recordings = app.save(erasure)
    container.after_write(recordings[-1].notification.id if recordings else None)
    checkpoint_wal(container)
    return {"contributor_erased": True, "items_affected": len(affected)}


def _scrub_staff_items(container: Container, name: str) -> list[str]:
    """Re-render the contributor's staff rows from the events, which now read as erased."""
    from yswd.projections.staff_items import StaffItems

    with container.engine.connect() as conn:
        candidates = conn.execute(
            select(rm_items.c.item_id, rm_items.c.contributor).where(
                rm_items.c.contributor.is_not(None)
            )
        ).all()
    affected = [item_id for item_id, who in candidates if normalise_name(who) == name]
    staff = container.read_models.get("staff_items")
    if not affected or not isinstance(staff, StaffItems):
        return affected
    with write_transaction(container.engine) as conn:
        for item_id in affected:
            item: Item = container.app.repository.get(item_aggregate_id(item_id))
            upsert(conn, rm_items, staff.row(item), "item_id")
    return affected


def checkpoint_wal(container: Container) -> None:
    """Fold the SQLite WAL into the database and truncate it, so old pages do not linger."""
    if container.engine.dialect.name != "sqlite":
        return
    with container.engine.connect() as conn:
        for _ in range(50):
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            if busy is None or busy[0] == 0:
                return
            time.sleep(0.05)  # a reader holds an old snapshot; it will finish soon
    log.error("the SQLite WAL could not be truncated after an erasure; run it again")


# -- signed checkpoints ---------------------------------------------------------------


def _recomputed_head(container: Container, upto: int) -> tuple[int, str]:
    """(events, head hash) recomputed from the event log alone, up to position ``upto``."""
    previous = GENESIS
    count = 0
    for notification in _notifications(container):
        if notification.id > upto:
            break
        previous = chain_hash(previous, notification)
        count += 1
    return count, previous


def _checkpoint_message(body: dict[str, Any]) -> bytes:
    fields = ("count", "position", "head_hash", "time", "public_key")
    return json.dumps({f: body[f] for f in fields}, sort_keys=True).encode()


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key that signs checkpoints; created (mode 600) on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput(f"{path} does not hold an Ed25519 private key.")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def checkpoint(container: Container, actor: Principal, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A signed statement of the log as it is now: event count, head hash, time.

    Kept somewhere the data folder's owner cannot rewrite, it later shows up a
    history that was edited and then had its whole chain recomputed.
    """
    actor.require(Action.AUDIT)
    verified = verify(container, actor)
    if not verified["ok"]:
        raise Conflict("The chain does not verify now; fix that before a checkpoint.")
    position = container.app.recorder.max_notification_id() or 0
    count, head = _recomputed_head(container, position)
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    body: dict[str, Any] = {
        "count": count,
        "position": position,
        "head_hash": head,
        "time": container.clock().isoformat(),
        "public_key": base64.b64encode(public).decode(),
    }
    body["signature"] = base64.b64encode(key.sign(_checkpoint_message(body))).decode()
    return body


def verify_against(
    container: Container,
    actor: Principal,
    saved: dict[str, Any],
    trusted_public_key: str | None = None,
) -> dict[str, Any]:
    """``verify``, plus a check that the log still matches an earlier signed checkpoint."""
    answer = verify(container, actor)
    result: dict[str, Any] = {"ok": False, "position": saved.get("position")}
    try:
        public = saved["public_key"]
        if trusted_public_key is not None and public != trusted_public_key:
            raise ValueError("it was signed by another key than the trusted one")
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
            base64.b64decode(saved["signature"]), _checkpoint_message(saved)
        )
    except (KeyError, ValueError, TypeError, InvalidSignature) as error:
        result["reason"] = f"the checkpoint's signature is not valid: {error or 'bad signature'}"
    else:
        count, head = _recomputed_head(container, int(saved["position"]))
        if count != saved["count"]:
            result["reason"] = (
                f"the log holds {count} events up to position {saved['position']}, "
                f"the checkpoint says {saved['count']}"
            )
        elif head != saved["head_hash"]:
            result["reason"] = (
                "the events up to the checkpoint were changed since it was signed "
                "(the recomputed head hash differs)"
            )
        else:
            result["ok"] = True
    answer["checkpoint"] = result
    answer["ok"] = bool(answer["ok"] and result["ok"])
    return answer
