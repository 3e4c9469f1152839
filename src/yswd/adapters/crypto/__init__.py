"""Crypto-shredding: personal fields encrypted under keys that can be destroyed.

``ShreddingMapper`` (selected with ``MAPPER_TOPIC``) stores an item's
``contributor`` and private ``detail`` sealed with AES-GCM under a data key:

- one key per contributor, whose id is an HMAC of the normalised name with a
  service secret (so the name itself is never stored next to the key);
- one key per item when there is no contributor.

The keys live apart from the events: ``keys.sqlite3`` in the data folder (with
``secure_delete``) for the embedded default; the schema ``yswd_keys`` in
PostgreSQL when ``YSWD_DATABASE_URL`` is set, so that every API replica and
worker uses the same keys and one erasure destroys a key for all of them; a dict
for the in-memory store. Destroying a contributor's
key makes their name and details unreadable in every stored event, while the
stored bytes, and so the audit hash chain, stay exactly as they were. An event
whose key is gone reads back with those fields set to ``ERASED``.

Every stored event also carries a seal: an HMAC, under a secret kept with the
keys, over its originator id, version, topic and state. A row written or
edited by anything other than this service (straight into the database)
fails its seal, which the audit check (``Audit.verify``) reports.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from binascii import a2b_base64
from collections.abc import Callable, Sequence
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import CanSnapshotAggregate, DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
)
from eventsourcing.utils import get_topic, resolve_topic
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from yswd.adapters.crypto.key_stores import (
    KEYS_FILE,
    MemoryKeyStore,
    PostgresKeyStore,
    SQLiteKeyStore,
)
from yswd.aggregates.erasure import ERASED as ERASED
from yswd.aggregates.errors import InvalidInput
from yswd.aggregates.item import Item
from yswd.aggregates.topics import CONTRIBUTOR_ERASED_RECORDED
from yswd.application.ports import KeyStore as KeyStore
from yswd.application.ports import normalise_name as normalise_name

# ``KeyStore`` (what every store below is) and ``normalise_name`` are the application's
# ports; they are re-exported here, beside the stores and the mapper that use them

log = logging.getLogger(__name__)

#: what an erased personal field reads as, everywhere (views, histories, exports)
#: the fields sealed under the contributor's (or item's) key
SEALED_FIELDS = ("contributor", "detail")
SEAL_SIZE = 32
ITEM_TOPIC = get_topic(Item)
RAISED_TOPIC = get_topic(Item.Raised)


def key_id_for_contributor(secret: bytes, contributor: str) -> str:
    digest = hmac.new(secret, b"contributor\0" + normalise_name(contributor).encode(), "sha256")
    return "c:" + digest.hexdigest()


def voice_hasher(keys: KeyStore) -> Callable[[str], str]:
    """Involvement's keyed hash of a normalised contributor (``projections.public_figures``).

    Keyed by the service secret kept with the erasure keys (in PostgreSQL when scaled
    out), under its own label, so a voice never equals a key id and no name is compared.
    """
    key = hmac.new(keys.secret(), b"involvement voices", "sha256").digest()

    def voice_of(contributor: str) -> str:
        return hmac.new(key, normalise_name(contributor).encode(), "sha256").hexdigest()

    return voice_of


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

    # -- erasure (``yswd.application.ports.Shredding``) -----------------------------

    def contributor_key_id(self, contributor: str) -> str:
        return key_id_for_contributor(self.keys.secret(), contributor)

    def destroy_key(self, key_id: str) -> bool:
        return self.keys.destroy(key_id)

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
        except SQLAlchemyError:
            raise  # the key store is unreachable: an outage (503), not a broken event
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
        domain_event: DomainEventProtocol[str] = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event


class PlainStates:
    """Stored states as plain dicts, for a rebuild that reads the whole log once.

    The same steps as ``ShreddingMapper.to_domain_event`` without the event
    object: the seal is skipped, the mapper's cipher and compressor (if any)
    applied, the JSON parsed once (``orjson``; dates and instants stay in the
    transcoder's ``{"_type_", "_data_"}`` form) and the sealed personal fields
    of an ``Item.Raised`` opened. The data keys a batch needs are read from the
    key store together (one query, where the store can) and kept for the length
    of the rebuild: the profile showed 7,601 key reads for 25,420 items at 100k
    events, each a round trip on PostgreSQL. A key that is gone reads as gone,
    so its fields are ``ERASED`` exactly as the mapper shows them. An erasure
    recorded in the log forgets every kept key, so the events after it are
    opened with the keys as they are now. At most ``KEPT_KEYS`` keys are kept
    (the oldest half goes when there are more), as bytes: an ``AESGCM`` object
    holds about 2.6 KB of OpenSSL state, and keeping one per contributor took a
    1M-event rebuild from 157 MB to 335 MB; building one per sealed state costs
    under a microsecond.
    """

    def __init__(self, mapper: ShreddingMapper, kept_keys: int = 50_000) -> None:
        self.mapper = mapper
        self.kept_keys = kept_keys
        #: the kept data keys (``None``: the key is gone), oldest first
        self._keys: dict[str, bytes | None] = {}

    def plain_states(self, stored: Sequence[tuple[str, str, bytes]]) -> list[dict[str, Any]]:
        """The states of ``(topic, originator id, state)`` triples, in order."""
        if not stored:
            return []
        topics, originator_ids, states = zip(*stored, strict=True)
        return self.decode(topics, originator_ids, states)

    def decode(
        self, topics: Sequence[str], originator_ids: Sequence[str], states: Sequence[bytes]
    ) -> list[dict[str, Any]]:
        """The states of a batch, given as three columns (topics, originator ids, states).

        Columns, so that a scan hands them over without a tuple per event, and the
        states are parsed by one ``map`` with no Python call per state.
        """
        decoded = self._parsed(states)
        if CONTRIBUTOR_ERASED_RECORDED not in topics:  # the usual batch: one stretch
            self._open(_sealed_raised(topics, originator_ids, decoded))
            return decoded
        stretch: list[tuple[str, dict[str, Any]]] = []
        for topic, originator_id, state in zip(topics, originator_ids, decoded, strict=True):
            if topic == RAISED_TOPIC and "sealed" in state:
                stretch.append((originator_id, state))
            elif topic == CONTRIBUTOR_ERASED_RECORDED:
                self._open(stretch)
                stretch = []
                self.forget_keys()
        self._open(stretch)
        return decoded

    def forget_keys(self) -> None:
        self._keys.clear()

    def _parsed(self, states: Sequence[bytes]) -> list[dict[str, Any]]:
        """Each state's JSON parsed, after its seal and through the cipher and compressor."""
        stored: Any = map(_AFTER_SEAL, states)
        if self.mapper.cipher:
            stored = map(self.mapper.cipher.decrypt, stored)
        if self.mapper.compressor:
            stored = map(self.mapper.compressor.decompress, stored)
        return list(map(orjson.loads, stored))

    def _open(self, sealed_states: list[tuple[str, dict[str, Any]]]) -> None:
        """Open the sealed fields of these ``Item.Raised`` states (reading their keys once)."""
        if not sealed_states:
            return
        keys = self._keys
        missing = {state["sealed"]["key_id"] for _, state in sealed_states} - keys.keys()
        if missing:
            get_many = getattr(self.mapper.keys, "get_many", None)
            if get_many is not None:
                found = get_many(missing)
                read = ((key_id, found.get(key_id)) for key_id in missing)
            else:
                read = ((key_id, self.mapper.keys.get(key_id)) for key_id in missing)
            keys.update(read)
        for originator_id, state in sealed_states:
            sealed = state.pop("sealed")
            key = keys[sealed["key_id"]]
            if key is None:
                for field in sealed["fields"]:
                    state[field] = ERASED
                continue
            plaintext = AESGCM(key).decrypt(
                a2b_base64(sealed["nonce"]), a2b_base64(sealed["data"]), originator_id.encode()
            )
            state.update(orjson.loads(plaintext))
        if len(keys) > self.kept_keys:
            for key_id in list(islice(keys, len(keys) - self.kept_keys // 2)):
                del keys[key_id]


#: a stored state without its row seal, as ``map`` can apply it
_AFTER_SEAL = itemgetter(slice(SEAL_SIZE, None))


def _sealed_raised(
    topics: Sequence[str], originator_ids: Sequence[str], states: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """The ``Item.Raised`` states with sealed fields, and their originator ids."""
    return [
        (originator_id, state)
        for topic, originator_id, state in zip(topics, originator_ids, states, strict=True)
        if topic == RAISED_TOPIC and "sealed" in state
    ]


def _is_item_snapshot(event: Any, state: dict[str, Any]) -> bool:
    """Snapshots of items carry the same personal fields, so they are sealed too."""
    return isinstance(event, CanSnapshotAggregate) and state.get("topic") == ITEM_TOPIC


def install_key_store(
    app: Any, data_dir: Path | None, *, keys_engine: Engine | None = None
) -> KeyStore:
    """Give the app's mapper its key store.

    PostgreSQL when ``keys_engine`` is given (scaled out; an existing
    ``keys.sqlite3`` in ``data_dir`` is imported once), else a file in
    ``data_dir``, else memory.
    """
    keys: KeyStore
    if keys_engine is not None:
        keys = PostgresKeyStore(
            keys_engine, import_from=None if data_dir is None else data_dir / KEYS_FILE
        )
    elif data_dir is None:
        keys = MemoryKeyStore()
    else:
        keys = SQLiteKeyStore(data_dir / KEYS_FILE)
    mapper = app.mapper
    if isinstance(mapper, ShreddingMapper):
        mapper.use_keys(keys)
    return keys


def load_or_create_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key that signs audit checkpoints; created (mode 600) on first use."""
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
