"""Audit and privacy use cases: item histories, chain verification, erasure.

The HTTP routes and the ``yswd audit`` commands both come through here, by the
one ``Audit`` service the composition root builds (``container.audit``).

- ``history``: every event of an item up to an instant, with its actor, data
  and chain hash, and the item as it stood then. A stream with a stored event
  missing answers what is there, with ``damaged: true``.
- ``verify``: re-reads the whole event log in order, recomputes the hash chain
  and checks every row's seal; reports the first event that does not match.
- ``forget``: crypto-shreds a contributor. Their data key is destroyed, so the
  name and private detail of items they raised read as ``"[erased]"``
  everywhere (events are never rewritten, so the chain still verifies). The
  erasure's record names the items, and the staff read model renders those
  again when it applies it (at once in embedded mode; scaled out, the workers
  do). Then SQLite's WAL is checkpointed so no old page survives in a -wal file.
  An admin with scopes may erase only someone whose every item is in scope
  (the key is one per person); otherwise 403, before anything is destroyed.
- ``checkpoint`` / ``verify_against``: an Ed25519-signed statement of the
  event count and head hash; a log edited and then fully re-chained (and even
  re-sealed) no longer matches an earlier checkpoint kept off the host.
- ``reads``: the recorded reads of identifiable data (who, when, what), only
  of items in the caller's scope. Every
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.disclosure import ReadKind
from yswd.aggregates.erasure import ContributorErased
from yswd.aggregates.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from yswd.aggregates.event_types import event_data, event_type_name
from yswd.aggregates.item import Item, item_aggregate_id
from yswd.aggregates.item_views import item_view
from yswd.application.clips import Clips
from yswd.application.ports import (
    AuditTrail,
    ChainLink,
    Clock,
    ErasureLog,
    ReadModelSync,
    Shredding,
    SigningKeyFile,
    WriteAheadLog,
    normalise_name,
)
from yswd.application.service import Yswd
from yswd.projections.audit_chain import GENESIS, chain_hash

SCAN_BATCH = 1000
#: told ``(position reached, last position)`` as a long scan of the log goes on
Progress = Callable[[int, int], None]


def parse_instant(raw: str | None) -> datetime | None:
    """An ISO 8601 instant; one without a zone is taken as UTC."""
    if raw is None or raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise InvalidInput(f"as_of must be an ISO 8601 instant, not {raw!r}.") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _intact_versions(events: list[Any]) -> int:
    """How many of the item's first events are all there (1, 2, 3, ... with no gap)."""
    intact = 0
    for event in events:
        if event.originator_version != intact + 1:
            break
        intact += 1
    return intact


def _bad(position: int, originator_id: str, version: int, reason: str) -> dict[str, Any]:
    return {
        "position": position,
        "originator_id": originator_id,
        "version": version,
        "reason": reason,
    }


def _missing(link: ChainLink) -> dict[str, Any]:
    return _bad(
        link.position,
        link.originator_id,
        link.originator_version,
        "this event is in the chain but missing from the event log (deleted)",
    )


def _checkpoint_message(body: dict[str, Any]) -> bytes:
    fields = ("count", "position", "head_hash", "time", "public_key")
    return json.dumps({f: body[f] for f in fields}, sort_keys=True).encode()


class Audit:
    """Histories, tamper checks, checkpoints, recorded reads and erasure, for auditors."""

    def __init__(
        self,
        app: Yswd,
        *,
        trail: AuditTrail,
        read_models: ReadModelSync,
        shredding: Shredding | None,
        clips: Clips | None,
        wal: WriteAheadLog,
        signing_key_file: SigningKeyFile,
        clock: Clock,
        erasure_log: ErasureLog | None = None,
    ) -> None:
        self.app = app
        self.uow = app.uow
        self.trail = trail
        self.read_models = read_models
        self.shredding = shredding
        self.clips = clips
        self.wal = wal
        self.signing_key_file = signing_key_file
        self.clock = clock
        self.erasure_log = erasure_log

    # -- histories ----------------------------------------------------------------------

    def history(
        self, actor: Principal, item_id: str, as_of: datetime | None = None
    ) -> dict[str, Any]:
        """The item's events up to ``as_of`` (all without it), and its state then."""
        actor.require(Action.AUDIT)
        aggregate_id = item_aggregate_id(item_id)
        events: list[Any] = list(self.app.events.get(aggregate_id))
        if not events:
            raise NotFound(f"There is no item '{item_id}'.")
        if as_of is not None:
            events = [event for event in events if event.timestamp <= as_of]
            if not events:
                raise NotFound(f"Item '{item_id}' did not exist yet at {as_of.isoformat()}.")
        self.read_models.refresh_read_models()
        hashes = self.trail.chain_hashes(aggregate_id)
        intact = _intact_versions(events)
        damaged = intact < events[-1].originator_version
        state: Item | None = (
            self.app.repository.get(aggregate_id, version=intact) if intact else None
        )
        if state is not None:
            self.app.require_item_in_scope(actor, state)
        elif not actor.covers_everything:  # nothing to tell its units by: only the unlimited
            raise Forbidden(f"Item '{item_id}' is outside your scope.")
        self.app.record_read(actor, ReadKind.HISTORY, [item_id])  # raises: no record, no history
        answer: dict[str, Any] = {
            "item_id": item_id,
            "as_of": as_of.isoformat() if as_of is not None else None,
            # a damaged stream: the item as it stood before its first missing event
            "state": item_view(state) if state is not None else None,
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
        if damaged:
            answer["damaged"] = True
        return answer

    # -- audited reads ------------------------------------------------------------------

    def reads(
        self,
        actor: Principal,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """The recorded reads of identifiable data, newest first: who, when, what."""
        actor.require(Action.AUDIT)
        self.read_models.refresh_read_models()
        found, total = self.trail.reads(
            user_id=user_id, item_id=item_id, limit=limit, offset=offset, within=actor
        )
        names: dict[str, str | None] = {}
        for read in found:
            reader = read["reader_id"]
            if reader not in names:
                try:
                    names[reader] = self.app.user(reader).name
                except DomainError:
                    names[reader] = None  # the system, or a user id that is not a user
            read["reader_name"] = names[reader]
        return {"reads": found, "total": total, "limit": limit, "offset": offset}

    # -- tamper evidence ----------------------------------------------------------------

    def verify(self, actor: Principal, progress: Progress | None = None) -> dict[str, Any]:
        """Recompute the chain over the whole stored log and compare it with the recorded one.

        ``progress`` hears how far the scan has got, a batch at a time (for a console).
        """
        actor.require(Action.AUDIT)
        self.read_models.refresh_read_models()
        links = self.trail.chain_links()
        previous = GENESIS
        checked = 0
        first_bad: dict[str, Any] | None = None
        link = next(links, None)
        for notification in self._notifications(progress):
            where = (
                notification.id,
                str(notification.originator_id),
                notification.originator_version,
            )
            if link is not None and link.position < notification.id:
                first_bad = _missing(link)
                break
            if link is None or link.position > notification.id:
                first_bad = _bad(*where, "this event is in the log but not in the chain (inserted)")
                break
            if (link.originator_id, link.originator_version) != (where[1], where[2]):
                first_bad = _bad(
                    *where,
                    f"the chain has {link.originator_id} v{link.originator_version} here "
                    "(moved or replaced)",
                )
                break
            if chain_hash(previous, notification) != link.hash:
                first_bad = _bad(*where, "the stored event was altered (its hash does not match)")
                break
            if self.shredding is not None and not self.shredding.seal_ok(notification):
                first_bad = _bad(
                    *where, "the stored event was not written by this service (bad seal)"
                )
                break
            previous = link.hash
            checked += 1
            link = next(links, None)
        else:
            if link is not None:
                first_bad = _missing(link)
        answer: dict[str, Any] = {"ok": first_bad is None, "events_checked": checked}
        if first_bad is not None:
            answer["first_bad"] = first_bad
        return answer

    def export(
        self, actor: Principal, progress: Progress | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every stored event in log order, with its data and chain hash (for JSON Lines).

        ``progress`` hears how far the export has got, a batch at a time (for a console).
        """
        actor.require(Action.AUDIT)
        self.read_models.refresh_read_models()
        hashes = self.trail.chain_hashes_by_position()
        previous = GENESIS
        for notification in self._notifications(progress):
            event: Any = self.app.mapper.to_domain_event(notification)
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

    # -- signed checkpoints -------------------------------------------------------------

    def signing_key(self, path: Path) -> Ed25519PrivateKey:
        """The key that signs checkpoints, kept at ``path`` (made there on first use)."""
        return self.signing_key_file(path)

    def checkpoint(self, actor: Principal, key: Ed25519PrivateKey) -> dict[str, Any]:
        """A signed statement of the log as it is now: event count, head hash, time.

        Kept somewhere the data folder's owner cannot rewrite, it later shows up a
        history that was edited and then had its whole chain recomputed.
        """
        actor.require(Action.AUDIT)
        verified = self.verify(actor)
        if not verified["ok"]:
            raise Conflict("The chain does not verify now; fix that before a checkpoint.")
        position = self.app.recorder.max_notification_id() or 0
        count, head = self._recomputed_head(position)
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        body: dict[str, Any] = {
            "count": count,
            "position": position,
            "head_hash": head,
            "time": self.clock().isoformat(),
            "public_key": base64.b64encode(public).decode(),
        }
        body["signature"] = base64.b64encode(key.sign(_checkpoint_message(body))).decode()
        return body

    def verify_against(
        self,
        actor: Principal,
        saved: dict[str, Any],
        trusted_public_key: str | None = None,
    ) -> dict[str, Any]:
        """``verify``, plus a check that the log still matches an earlier signed checkpoint."""
        answer = self.verify(actor)
        result: dict[str, Any] = {"ok": False, "position": saved.get("position")}
        try:
            public = saved["public_key"]
            if trusted_public_key is not None and public != trusted_public_key:
                raise ValueError("it was signed by another key than the trusted one")
            Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
                base64.b64decode(saved["signature"]), _checkpoint_message(saved)
            )
        except (KeyError, ValueError, TypeError, InvalidSignature) as error:
            why = error or "bad signature"
            result["reason"] = f"the checkpoint's signature is not valid: {why}"
        else:
            count, head = self._recomputed_head(int(saved["position"]))
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

    # -- erasure ------------------------------------------------------------------------

    def forget(self, actor: Principal, contributor: str) -> dict[str, Any]:
        """Crypto-shred a contributor: destroy their key, record the fact, re-render rows.

        The record names the affected items; the staff read model renders them
        again from the events (which now read as erased) when it applies it.
        """
        actor.require(Action.FORGET)
        name = normalise_name(contributor or "")
        if not name:
            raise InvalidInput("contributor must name the person to erase.")
        if self.shredding is None:
            raise InvalidInput("This store was not set up for erasure (no shredding mapper).")
        self.read_models.refresh_read_models()
        affected = [
            item_id for item_id, who in self.trail.contributors() if normalise_name(who) == name
        ]
        self._require_all_in_scope(actor, affected)  # before anything is destroyed
        key_id = self.shredding.contributor_key_id(contributor)
        self.shredding.destroy_key(key_id)
        if self.clips is not None:  # diary-room recordings are personal data too
            self.clips.erase_items(actor, affected)
        erasure = ContributorErased.record(
            self.uow.ids(),
            hashlib.sha256(key_id.encode()).hexdigest(),
            affected,
            actor.user_id,
            self.uow.clock(),
        )
        position = self.uow.save(erasure)
        if self.erasure_log is not None:
            self.erasure_log.note(erasure, position, actor.user_id)
        self.read_models.after_write(position)
        self.wal.truncate()
        return {"contributor_erased": True, "items_affected": len(affected)}

    def _require_all_in_scope(self, actor: Principal, item_ids: list[str]) -> None:
        """A scoped admin may erase only someone whose every item is in their scope.

        The person's key is one for all their items, so erasing would reach items
        the admin cannot read. The refusal says neither how many nor which.
        """
        if actor.covers_everything:
            return
        for item_id in item_ids:
            try:
                in_scope = self.app.item_in_scope(actor, self.app.load_item(item_id))
            except DomainError:  # gone, or its history damaged: not known to be in scope
                in_scope = False
            if not in_scope:
                raise Forbidden(
                    "This person has items outside your scope, so only an administrator "
                    "who covers them all can erase them. Nothing was erased."
                )

    # -- the event log ------------------------------------------------------------------

    def _notifications(self, progress: Progress | None = None) -> Iterator[Any]:
        """Every stored event in log order, read a batch at a time.

        ``progress`` is told each batch's last position once the caller has taken
        the whole batch, against the log's last position when the scan began.
        """
        last = (self.app.recorder.max_notification_id() or 0) if progress else 0
        if progress:
            progress(0, last)
        start = 1
        while True:
            batch = self.app.recorder.select_notifications(start=start, limit=SCAN_BATCH)
            if not batch:
                return
            yield from batch
            start = batch[-1].id + 1
            if progress:  # events written since the scan began move the end along
                last = max(last, batch[-1].id)
                progress(batch[-1].id, last)

    def _recomputed_head(self, upto: int) -> tuple[int, str]:
        """(events, head hash) recomputed from the event log alone, up to position ``upto``."""
        previous = GENESIS
        count = 0
        for notification in self._notifications():
            if notification.id > upto:
                break
            previous = chain_hash(previous, notification)
            count += 1
        return count, previous
