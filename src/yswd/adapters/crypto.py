"""Crypto-shredding: personal fields encrypted under keys that can be destroyed.

``ShreddingMapper`` (selected with ``MAPPER_TOPIC``) stores an item's
``contributor`` and private ``detail`` sealed with AES-GCM under a data key:

- one key per contributor, whose id is an HMAC of the normalised name with a
  service secret (so the name itself is never stored next to the key);
- one key per item when there is no contributor.

The keys live apart from the events (``keys.sqlite3`` in the data folder, with
``secure_delete``; a dict for the in-memory store). Destroying a contributor's
key makes their name and details unreadable in every stored event, while the
stored bytes, and so the audit hash chain, stay exactly as they were. An event
whose key is gone reads back with those fields set to ``ERASED``.

Every stored event also carries a seal: an HMAC, under a secret kept with the
keys, over its originator id, version, topic and state. A row written or
edited by anything other than this service (straight into the database)
fails its seal, which ``yswd.audit.verify`` reports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import CanSnapshotAggregate, DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
)
from eventsourcing.utils import get_topic, resolve_topic

from yswd.aggregates.item import Item

KEYS_FILE = "keys.sqlite3"
#: what an erased personal field reads as, everywhere (views, histories, exports)
ERASED = "[erased]"
#: the fields sealed under the contributor's (or item's) key
SEALED_FIELDS = ("contributor", "detail")
SEAL_SIZE = 32
ITEM_TOPIC = get_topic(Item)


def normalise_name(name: str) -> str:
    """One contributor, however their name was typed: case and spaces folded."""
    return " ".join(name.split()).casefold()


class KeyStore(Protocol):
    """Where data keys and the service secret live, apart from the events."""

    def secret(self) -> bytes: ...

    def get(self, key_id: str) -> bytes | None: ...

    def get_or_create(self, key_id: str) -> bytes: ...

    def destroy(self, key_id: str) -> bool: ...


class MemoryKeyStore:
    """Keys in a dict, for the in-memory event store."""

    def __init__(self) -> None:
        self._secret = os.urandom(32)
        self._keys: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def secret(self) -> bytes:
        return self._secret

    def get(self, key_id: str) -> bytes | None:
        return self._keys.get(key_id)

    def get_or_create(self, key_id: str) -> bytes:
        with self._lock:
            return self._keys.setdefault(key_id, AESGCM.generate_key(bit_length=256))

    def destroy(self, key_id: str) -> bool:
        with self._lock:
            return self._keys.pop(key_id, None) is not None


class SQLiteKeyStore:
    """Keys in their own SQLite file, overwritten on delete and vacuumed after."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        for pragma in (
            "PRAGMA secure_delete=ON",
            "PRAGMA journal_mode=DELETE",
            "PRAGMA synchronous=FULL",
            "PRAGMA busy_timeout=10000",
        ):
            self._conn.execute(pragma)
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)"
        )
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS data_keys (key_id TEXT PRIMARY KEY, key BLOB NOT NULL)"
        )
        self._conn.execute(
            "INSERT OR IGNORE INTO secrets (name, value) VALUES ('service', ?)", (os.urandom(32),)
        )
        row = self._conn.execute("SELECT value FROM secrets WHERE name = 'service'").fetchone()
        self._secret = bytes(row[0])

    def secret(self) -> bytes:
        return self._secret

    def get(self, key_id: str) -> bytes | None:
        key = self._cache.get(key_id)
        if key is not None:
            return key
        with self._lock:
            row = self._conn.execute(
                "SELECT key FROM data_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
            if row is None:
                return None
            key = bytes(row[0])
            self._cache[key_id] = key
            return key

    def get_or_create(self, key_id: str) -> bytes:
        key = self.get(key_id)
        if key is not None:
            return key
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO data_keys (key_id, key) VALUES (?, ?)",
                (key_id, AESGCM.generate_key(bit_length=256)),
            )
        key = self.get(key_id)
        assert key is not None
        return key

    def destroy(self, key_id: str) -> bool:
        """Delete a key for good: overwritten in place, then the file is rebuilt."""
        with self._lock:
            self._cache.pop(key_id, None)
            deleted = self._conn.execute("DELETE FROM data_keys WHERE key_id = ?", (key_id,))
            found = deleted.rowcount > 0
            self._conn.execute("VACUUM")
        return found

    def close(self) -> None:
        self._conn.close()


def key_id_for_contributor(secret: bytes, contributor: str) -> str:
    digest = hmac.new(secret, b"contributor\0" + normalise_name(contributor).encode(), "sha256")
    return "c:" + digest.hexdigest()


def key_id_for_item(secret: bytes, originator_id: str) -> str:
    return "i:" + hmac.new(secret, b"item\0" + originator_id.encode(), "sha256").hexdigest()


def _framed(*parts: bytes) -> bytes:
    return b"".join(len(part).to_bytes(8, "big") + part for part in parts)


class ShreddingMapper(Mapper[str]):
    """A Mapper that seals personal fields per contributor and seals every row."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys: KeyStore = MemoryKeyStore()

    def use_keys(self, keys: KeyStore) -> None:
        self.keys = keys

    # -- the row seal ---------------------------------------------------------------

    def _seal(self, originator_id: str, version: int, topic: str, state: bytes) -> bytes:
        mac_key = hashlib.sha256(b"row seal\0" + self.keys.secret()).digest()
        message = _framed(originator_id.encode(), str(version).encode(), topic.encode(), state)
        return hmac.new(mac_key, message, "sha256").digest()

    def seal_ok(self, stored: StoredEvent) -> bool:
        """Whether a stored row is exactly as this service wrote it."""
        state = bytes(stored.state)
        if len(state) < SEAL_SIZE:
            return False
        expected = self._seal(
            str(stored.originator_id), stored.originator_version, stored.topic, state[SEAL_SIZE:]
        )
        return hmac.compare_digest(expected, state[:SEAL_SIZE])

    # -- personal fields --------------------------------------------------------------

    def _encrypt_personal(self, originator_id: str, state: dict[str, Any]) -> None:
        present = {f: state[f] for f in SEALED_FIELDS if state.get(f) is not None}
        if not present:
            return
        secret = self.keys.secret()
        contributor = state.get("contributor")
        key_id = (
            key_id_for_contributor(secret, contributor)
            if contributor
            else key_id_for_item(secret, originator_id)
        )
        nonce = os.urandom(12)
        plaintext = json.dumps(present, sort_keys=True).encode()
        ciphertext = AESGCM(self.keys.get_or_create(key_id)).encrypt(
            nonce, plaintext, originator_id.encode()
        )
        for field in SEALED_FIELDS:
            state[field] = None
        state["sealed"] = {
            "key_id": key_id,
            "fields": sorted(present),
            "nonce": base64.b64encode(nonce).decode(),
            "data": base64.b64encode(ciphertext).decode(),
        }

    def _decrypt_personal(self, originator_id: str, state: dict[str, Any]) -> None:
        sealed = state.pop("sealed", None)
        if sealed is None:
            return
        key = self.keys.get(sealed["key_id"])
        if key is None:
            for field in sealed["fields"]:
                state[field] = ERASED
            return
        plaintext = AESGCM(key).decrypt(
            base64.b64decode(sealed["nonce"]),
            base64.b64decode(sealed["data"]),
            originator_id.encode(),
        )
        state.update(json.loads(plaintext))

    # -- Mapper -------------------------------------------------------------------

    def to_stored_event(self, domain_event: DomainEventProtocol[str]) -> StoredEvent:
        topic = get_topic(domain_event.__class__)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        if isinstance(domain_event, Item.Raised):
            self._encrypt_personal(str(originator_id), event_state)
        elif _is_item_snapshot(domain_event, event_state):
            event_state["state"] = dict(event_state["state"])
            self._encrypt_personal(str(originator_id), event_state["state"])
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        seal = self._seal(str(originator_id), originator_version, topic, stored_state)
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=topic,
            state=seal + stored_state,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[str]:
        cls = resolve_topic(stored_event.topic)
        stored_state = bytes(stored_event.state)[SEAL_SIZE:]
        originator_id = str(stored_event.originator_id)
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            event_state: dict[str, Any] = self.transcoder.decode(stored_state)
            if issubclass(cls, Item.Raised):
                self._decrypt_personal(originator_id, event_state)
            elif issubclass(cls, CanSnapshotAggregate) and event_state.get("topic") == ITEM_TOPIC:
                self._decrypt_personal(originator_id, event_state["state"])
        except Exception as error:
            raise MapperDeserialisationError(
                f"Failed to deserialise stored event {originator_id!r} "
                f"v{stored_event.originator_version} ({stored_event.topic}): {error}"
            ) from error
        event_state["originator_id"] = originator_id
        event_state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event


def _is_item_snapshot(event: Any, state: dict[str, Any]) -> bool:
    """Snapshots of items carry the same personal fields, so they are sealed too."""
    return isinstance(event, CanSnapshotAggregate) and state.get("topic") == ITEM_TOPIC


def install_key_store(app: Any, data_dir: Path | None) -> KeyStore:
    """Give the app's mapper its key store: a file in ``data_dir``, or memory."""
    keys: KeyStore = MemoryKeyStore() if data_dir is None else SQLiteKeyStore(data_dir / KEYS_FILE)
    mapper = app.mapper
    if isinstance(mapper, ShreddingMapper):
        mapper.use_keys(keys)
    return keys
