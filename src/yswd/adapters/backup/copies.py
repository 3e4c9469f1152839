"""What backup and restore share: the archive's layout, their errors and progress,
and a store of yswd opened on a copy of the data folder (see the package's docstring)."""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from yswd.adapters.crypto import ERASED
from yswd.adapters.persistence import SQLITE_FILE
from yswd.settings import Settings

if TYPE_CHECKING:
    from yswd.adapters.container import Container

FORMAT = "yswd-backup"
FORMAT_VERSION = 1
ROOT = "yswd-backup"
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest.sha256"
DATA = "data"
CLIPS = "clips"
#: the gzip header ``backup`` writes (no file name, mtime 0, level 6, OS "unknown");
#: anything else in these ten bytes is a change that gzip itself would not notice
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
GZIP_LEVEL = 6
CHUNK = 1 << 20
SIGNING_KEY_NAME = "yswd-audit-signing-key.pem"


class BackupError(Exception):
    """The backup could not be made; nothing was written at the output path."""


class RestoreError(Exception):
    """The archive was refused, or the restore failed; the target folder is untouched."""


class Progress(Protocol):
    """Where ``backup`` and ``restore`` report what they are doing (bytes, per stage)."""

    def stage(self, description: str, total: int | None = None) -> None: ...

    def advance(self, amount: int) -> None: ...


class OpenStore(Protocol):
    """What opens a store of yswd: the composition root's ``build``.

    The command that runs a backup or a restore hands it down (``yswd.cli.backup``),
    so that this adapter, which opens a copy of the store to prove it, never
    imports the composition root that is built above it.
    """

    def __call__(self, settings: Settings, *, clock: Callable[[], datetime]) -> Container: ...


class NoProgress:
    """Reports nowhere."""

    def stage(self, description: str, total: int | None = None) -> None:
        """Nothing to show."""

    def advance(self, amount: int) -> None:
        """Nothing to show."""


class Auditor:
    """The audit use cases on one container, as the system principal.

    The ``Audit`` service of the container (``container.audit``) where there is one;
    otherwise the module functions of ``yswd.audit`` that take the container.
    """

    def __init__(self, container: Container) -> None:
        from yswd.aggregates.access import SYSTEM

        self.container = container
        self.actor = SYSTEM
        self.service: Any = getattr(container, "audit", None)
        self.module: Any = (
            None if self.service is not None else importlib.import_module("yswd.audit")
        )

    def _call(self, name: str, *args: Any) -> Any:
        if self.service is not None:
            return getattr(self.service, name)(self.actor, *args)
        return getattr(self.module, name)(self.container, self.actor, *args)

    def verify(self) -> dict[str, Any]:
        return dict(self._call("verify"))

    def verify_against(self, saved: dict[str, Any], trusted_key: str | None) -> dict[str, Any]:
        return dict(self._call("verify_against", saved, trusted_key))

    def checkpoint(self, key: Any) -> dict[str, Any]:
        return dict(self._call("checkpoint", key))

    def forget(self, contributor: str) -> dict[str, Any]:
        return dict(self._call("forget", contributor))


def load_signing_key(path: Path) -> Any:
    """The Ed25519 key that signs checkpoints (as ``yswd audit checkpoint``; made if missing)."""
    for name in ("yswd.adapters.crypto", "yswd.application.audit", "yswd.audit"):
        try:
            found = getattr(importlib.import_module(name), "load_or_create_signing_key", None)
        except ModuleNotFoundError:
            continue
        if found is not None:
            return found(path)
    raise ImportError("no load_or_create_signing_key")


def default_signing_key(settings: Settings) -> Path:
    """The key ``yswd audit checkpoint`` signs with unless told otherwise."""
    return settings.data_dir.parent / SIGNING_KEY_NAME


def _settings_for(data: Path, glossary: Path | None) -> Settings:
    """A private embedded store on a copy: nothing from the environment, no erasure log."""
    return Settings(
        data_dir=data,
        clips_dir=data / CLIPS,
        database_url=None,
        nats_url=None,
        admin_token=None,
        run_projections=True,
        erasure_log=None,
        glossary_file=glossary,
    )


@contextlib.contextmanager
def open_copy(
    build: OpenStore,
    data: Path,
    glossary: Path | None,
    clock: Callable[[], datetime] | None = None,
) -> Iterator[Container]:
    container = build(_settings_for(data, glossary), clock=clock or (lambda: datetime.now(UTC)))
    try:
        yield container
    finally:
        container.close()
        _fold_wal(data / SQLITE_FILE)


def _fold_wal(db: Path) -> None:
    """Leave one self-contained file: the WAL folded in, the journal a plain one."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    for leftover in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        leftover.unlink(missing_ok=True)


def count_rows(container: Container, table: str) -> int:
    """How many rows a read model's table holds (items, for the summaries)."""
    with container.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)


def contributor_names(container: Container) -> list[str]:
    """The names the copy's staff read model still shows (not yet erased)."""
    with container.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT DISTINCT contributor FROM rm_items WHERE contributor IS NOT NULL"
        ).all()
    return sorted(str(name) for (name,) in rows if name and name != ERASED)


class Counting:
    """A file wrapper that reports what is read through it."""

    def __init__(self, inner: IO[bytes], progress: Progress) -> None:
        self.inner = inner
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self.inner.read(size)
        self.progress.advance(len(chunk))
        return chunk


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable, not only the files' bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
