"""Where the data keys and the service secret are kept: memory, SQLite or PostgreSQL.

A contributor's (or item's) data key seals their personal fields; destroying it is
the erasure (crypto-shredding, see :mod:`yswd.adapters.crypto`).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from yswd.aggregates.erasure import ERASED as ERASED
from yswd.application.ports import KeyStore as KeyStore
from yswd.application.ports import normalise_name as normalise_name

# ``KeyStore`` (what every store below is) and ``normalise_name`` are the application's
# ports; they are re-exported here, beside the stores and the mapper that use them


log = logging.getLogger(__name__)

KEYS_FILE = "keys.sqlite3"
#: the PostgreSQL schema holding the service secret and the data keys, apart from
#: the events and read models (own grants, own backup policy)
KEY_SCHEMA = "yswd_keys"
#: advisory lock key serialising the key schema's creation across processes
KEY_SCHEMA_LOCK = 0x7973_7764_0000_0002  # "yswd" + 2


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

    def get_many(self, key_ids: Collection[str]) -> dict[str, bytes]:
        return {key_id: self._keys[key_id] for key_id in key_ids if key_id in self._keys}

    def get_or_create(self, key_id: str) -> bytes:
        with self._lock:
            return self._keys.setdefault(key_id, AESGCM.generate_key(bit_length=256))

    def destroy(self, key_id: str) -> bool:
        with self._lock:
            return self._keys.pop(key_id, None) is not None

    def close(self) -> None:
        """Nothing to release."""


class SQLiteKeyStore:
    """Keys in their own SQLite file, overwritten on delete and vacuumed after."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}
        self._data_version: int | None = None
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
        with self._lock:
            self._drop_cache_if_changed_elsewhere()
            key = self._cache.get(key_id)
            if key is not None:
                return key
            row = self._conn.execute(
                "SELECT key FROM data_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
            if row is None:
                return None
            key = bytes(row[0])
            self._cache[key_id] = key
            return key

    def get_many(self, key_ids: Collection[str]) -> dict[str, bytes]:
        """The keys of ``key_ids`` that exist, read in one query per 500."""
        found: dict[str, bytes] = {}
        wanted = list(key_ids)
        with self._lock:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" for _ in chunk)
                rows = self._conn.execute(
                    f"SELECT key_id, key FROM data_keys WHERE key_id IN ({marks})", chunk
                )
                found.update((key_id, bytes(key)) for key_id, key in rows)
        return found

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

    def _drop_cache_if_changed_elsewhere(self) -> None:
        """Another process (a CLI command, a second server) may have destroyed a key.

        SQLite's ``data_version`` moves whenever another connection commits to the
        file, so cached keys are trusted only while it stands still.
        """
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            self._cache.clear()
            self._data_version = version


class PostgresKeyStore:
    """Keys in PostgreSQL (schema ``yswd_keys``), shared by every replica and worker.

    Nothing but the service secret is cached: a key destroyed through one process
    must stop decrypting in every other one at once, and a key read is one
    primary-key lookup. Two processes creating the same contributor's key at
    the same moment both end up with the one that was inserted first
    (``INSERT ... ON CONFLICT DO NOTHING``, then read it back).

    On first use, when the schema holds no secret yet and a ``keys.sqlite3``
    from an earlier embedded or single-host deployment is given, its secret and
    keys are copied in, so existing events stay readable and their seals valid.
    """

    def __init__(self, engine: Engine, *, import_from: Path | None = None) -> None:
        self.engine = engine
        self._secret = self._set_up(import_from)

    def _set_up(self, import_from: Path | None) -> bytes:
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEY_SCHEMA_LOCK})
            exists = conn.scalar(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": KEY_SCHEMA}
            )
            if not exists:
                conn.execute(text(f"CREATE SCHEMA {KEY_SCHEMA}"))
            conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {KEY_SCHEMA}.service_secrets "
                    "(name TEXT PRIMARY KEY, value BYTEA NOT NULL)"
                )
            )
            conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {KEY_SCHEMA}.contributor_keys ("
                    "key_id TEXT PRIMARY KEY, key BYTEA NOT NULL, "
                    "created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            )
            secret = conn.scalar(
                text(f"SELECT value FROM {KEY_SCHEMA}.service_secrets WHERE name = 'service'")
            )
            if secret is None and import_from is not None and import_from.exists():
                secret = self._import_sqlite(conn, import_from)
            if secret is None:
                secret = os.urandom(32)
                conn.execute(
                    text(
                        f"INSERT INTO {KEY_SCHEMA}.service_secrets (name, value) "
                        "VALUES ('service', :value)"
                    ),
                    {"value": secret},
                )
            elif import_from is not None and import_from.exists():
                _warn_if_the_file_differs(bytes(secret), import_from)
        return bytes(secret)

    @staticmethod
    def _import_sqlite(conn: Any, path: Path) -> bytes:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            secret = bytes(
                source.execute("SELECT value FROM secrets WHERE name = 'service'").fetchone()[0]
            )
            keys = source.execute("SELECT key_id, key FROM data_keys").fetchall()
        finally:
            source.close()
        conn.execute(
            text(f"INSERT INTO {KEY_SCHEMA}.service_secrets (name, value) VALUES ('service', :v)"),
            {"v": secret},
        )
        if keys:
            conn.execute(
                text(
                    f"INSERT INTO {KEY_SCHEMA}.contributor_keys (key_id, key) VALUES (:k, :v) "
                    "ON CONFLICT (key_id) DO NOTHING"
                ),
                [{"k": key_id, "v": bytes(key)} for key_id, key in keys],
            )
        log.warning(
            "imported the service secret and %d data keys from %s into PostgreSQL; "
            "delete that file once every process runs with YSWD_DATABASE_URL",
            len(keys),
            path,
        )
        return secret

    def secret(self) -> bytes:
        return self._secret

    def get(self, key_id: str) -> bytes | None:
        with self.engine.connect() as conn:
            found = conn.scalar(
                text(f"SELECT key FROM {KEY_SCHEMA}.contributor_keys WHERE key_id = :k"),
                {"k": key_id},
            )
        return None if found is None else bytes(found)

    def get_many(self, key_ids: Collection[str]) -> dict[str, bytes]:
        """The keys of ``key_ids`` that exist, in one round trip (a rebuild's batch)."""
        if not key_ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT key_id, key FROM {KEY_SCHEMA}.contributor_keys "
                    "WHERE key_id = ANY(:ks)"
                ),
                {"ks": list(key_ids)},
            )
            return {str(key_id): bytes(key) for key_id, key in rows}

    def get_or_create(self, key_id: str) -> bytes:
        """The key, made now if there is none: one transaction, one connection.

        It used three (a read, an insert, a read again), each a pool checkout with
        its ping: about 8 round trips for each new contributor or gap-box voice.
        """
        select = text(f"SELECT key FROM {KEY_SCHEMA}.contributor_keys WHERE key_id = :k")
        with self.engine.begin() as conn:
            found = conn.scalar(select, {"k": key_id})
            if found is None:
                found = conn.scalar(
                    text(
                        f"INSERT INTO {KEY_SCHEMA}.contributor_keys (key_id, key) "
                        "VALUES (:k, :v) ON CONFLICT (key_id) DO NOTHING RETURNING key"
                    ),
                    {"k": key_id, "v": AESGCM.generate_key(bit_length=256)},
                )
            if found is None:  # another process made it first: read what it made
                found = conn.scalar(select, {"k": key_id})
        if found is None:  # destroyed between its insert and this read: create it afresh
            return self.get_or_create(key_id)
        return bytes(found)

    def destroy(self, key_id: str) -> bool:
        """Delete a key for every process, then rewrite the table without its bytes."""
        with self.engine.begin() as conn:
            deleted = conn.execute(
                text(f"DELETE FROM {KEY_SCHEMA}.contributor_keys WHERE key_id = :k"),
                {"k": key_id},
            )
            found = deleted.rowcount > 0
        try:
            # VACUUM FULL writes the table anew, so the dead row's bytes are not
            # left in its pages (the WAL and backups still hold them until they
            # expire: see deploy/README.md)
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text("SET lock_timeout = '5s'"))
                conn.execute(text(f"VACUUM FULL {KEY_SCHEMA}.contributor_keys"))
        except SQLAlchemyError:
            log.warning("the key table could not be vacuumed after an erasure; it will be later")
        return found

    def close(self) -> None:
        self.engine.dispose()


def _warn_if_the_file_differs(secret: bytes, path: Path) -> None:
    try:
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = source.execute("SELECT value FROM secrets WHERE name = 'service'").fetchone()
        finally:
            source.close()
    except sqlite3.Error:
        return
    if row is not None and bytes(row[0]) != secret:
        log.warning(
            "%s holds a different service secret from PostgreSQL's key store; PostgreSQL's is used",
            path,
        )
