"""Backups of the embedded store that restore, and prove it.

``backup`` copies a running embedded store (``YSWD_DATA_DIR``) into one archive,
while ``serve`` goes on taking writes; ``restore`` checks an archive completely
before it writes anything, then proves the restored store against the backup's
own signed checkpoint. Scaled out (``YSWD_DATABASE_URL``) the database is backed
up with PostgreSQL's own tools: see docs/operations/backup.md.

What the data folder holds, and so what a backup holds:

- ``yswd.sqlite3``: the event store and every read model, in one SQLite file (WAL);
- ``keys.sqlite3``: the contributors' data keys and the service secret;
- ``clips/<key>.clip`` (or ``YSWD_CLIPS_DIR``): diary-room recordings' bytes.

The archive (``.tar.gz``; every member under ``yswd-backup/``)::

    yswd-backup/manifest.json        what this is: positions, head hash, checkpoint, checksums
    yswd-backup/manifest.sha256      the SHA-256 of manifest.json
    yswd-backup/data/yswd.sqlite3    events + read models (SQLite online backup)
    yswd-backup/data/keys.sqlite3    the key store (SQLite online backup)
    yswd-backup/data/clips/<key>.clip

Consistency while writes go on:

1. The event store is copied with SQLite's online backup API in a single step:
   one read transaction, so the copy is one committed state of events and read
   models together (WAL: writers are not blocked meanwhile).
2. Then the key store. A data key is created before the first event sealed
   under it is committed, so every event in the copy finds its key in this later
   copy, unless the key was destroyed in between: an erasure under way. The
   backup finishes that erasure in the copy (``forget`` on the copy), so no
   plaintext row outlives its key.
3. The copy is opened as a store of its own: read models caught up, the chain
   verified and a checkpoint signed (as ``yswd audit checkpoint``) over the
   copy's own events. The manifest's position and head hash are the copy's, so
   the archive holds every event up to its position by construction.
4. Clip files are copied last, and only those the copy's events still point to:
   a clip's bytes are made durable before its event is stored, so each one is
   there; one deleted since (withdrawn, erased) is listed as gone.

A checksum covers every member, a digest covers the manifest, gzip's CRC covers
the stream and its header must be exactly what ``backup`` writes: one flipped
byte anywhere, or a truncated file, is refused.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

import yswd
from yswd.adapters.clips import FolderClipStore
from yswd.adapters.crypto import ERASED, KEY_SCHEMA, KEYS_FILE, key_id_for_contributor
from yswd.adapters.erasure_log import (
    ErasureLogError,
    ErasureRecord,
    append,
    erasures_after,
    records_after,
)
from yswd.adapters.persistence import SQLITE_FILE, sqlite_path
from yswd.settings import Settings

if TYPE_CHECKING:
    from yswd.bootstrap import Container

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


class NoProgress:
    """Reports nowhere."""

    def stage(self, description: str, total: int | None = None) -> None:
        """Nothing to show."""

    def advance(self, amount: int) -> None:
        """Nothing to show."""


@dataclass
class BackedUp:
    """What ``backup`` wrote: the archive and its manifest."""

    path: Path
    manifest: dict[str, Any]
    #: erasures added to the erasure log (None: no log given)
    erasure_log_added: int | None = None

    def summary(self) -> str:
        m = self.manifest
        line = (
            f"backed up {m['events']} events, {m['items']} items and {m['clips']} clips "
            f"up to position {m['position']} (head hash {m['head_hash']}) to {self.path}"
        )
        if self.erasure_log_added is not None:
            line += f"; {self.erasure_log_added} erasure(s) added to the erasure log"
        return line


@dataclass
class Restored:
    """What ``restore`` put in place."""

    data_dir: Path
    events: int
    items: int
    clips: int
    position: int
    head_hash: str
    erasures_reapplied: list[ErasureRecord] = field(default_factory=list)
    erasure_log: Path | None = None

    def summary(self) -> str:
        line = (
            f"restored {self.events} events, {self.items} items and {self.clips} clips "
            f"up to position {self.position} (head hash {self.head_hash}) into {self.data_dir}, "
            "verified against the backup's signed checkpoint"
        )
        if self.erasure_log is None:
            return line + "; no erasure log given, so no later erasure was re-applied"
        return line + (
            f"; re-applied {len(self.erasures_reapplied)} later erasure(s) "
            f"from {self.erasure_log}"
        )


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
        self.module: Any = None if self.service is not None else importlib.import_module(
            "yswd.audit"
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


# -- backup -------------------------------------------------------------------------


def backup(
    settings: Settings,
    out_path: Path,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
    signing_key: Path | None = None,
    erasure_log: Path | None = None,
) -> BackedUp:
    """Back up the embedded store of ``settings`` into ``out_path`` (a .tar.gz).

    ``out_path`` may be a folder: the archive is then named after ``now``. The
    archive is written under a temporary name beside it and renamed when complete.
    With ``erasure_log``, every erasure in the backed-up store that the log lacks is
    appended to it too.
    """
    progress = progress or NoProgress()
    now = now or datetime.now(UTC)
    if not settings.embedded:
        raise BackupError(
            "YSWD_DATABASE_URL is set: back up PostgreSQL with pg_dump or a base backup "
            "(docs/operations/backup.md); `yswd backup` is for the embedded store"
        )
    events_db = sqlite_path(settings)
    keys_db = settings.data_dir / KEYS_FILE
    if not events_db.is_file() or not keys_db.is_file():
        raise BackupError(f"{settings.data_dir} holds no yswd store ({SQLITE_FILE}, {KEYS_FILE})")
    out_path = _archive_path(out_path, now)
    if out_path.exists():
        raise BackupError(f"{out_path} exists already; choose another name")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    clips_dir = settings.clips_dir or settings.data_dir / CLIPS
    staging = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", dir=out_path.parent))
    try:
        data = staging / DATA
        data.mkdir()
        # 1. events and read models, one snapshot; 2. then the keys (see the docstring)
        progress.stage("copying the event store", events_db.stat().st_size)
        _sqlite_backup(events_db, data / SQLITE_FILE)
        progress.advance(events_db.stat().st_size)
        progress.stage("copying the key store", keys_db.stat().st_size)
        _sqlite_backup(keys_db, data / KEYS_FILE)
        progress.advance(keys_db.stat().st_size)
        # 3. the copy as a store of its own: caught up, consistent, verified, signed
        progress.stage("verifying the copy and signing a checkpoint")
        facts = _seal_the_copy(settings, data, now, signing_key or default_signing_key(settings))
        # 4. the clips the copy points to
        copied, gone = _copy_clips(clips_dir, data / CLIPS, facts.clip_keys, progress)
        files = _checksums(staging, progress)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "yswd_version": yswd.__version__,
            "created_at": now.isoformat(),
            "log_position": facts.log_position,
            "position": facts.checkpoint["position"],
            "events": facts.checkpoint["count"],
            "head_hash": facts.checkpoint["head_hash"],
            "items": facts.items,
            "clips": copied,
            "clips_gone": gone,
            "erasures_finished": facts.erasures_finished,
            "checkpoint": facts.checkpoint,
            "files": files,
        }
        _write_archive(staging, manifest, out_path, now, progress)
        done = BackedUp(out_path, manifest)
        if erasure_log is not None:  # the log gains what the store holds and it lacks
            try:
                done.erasure_log_added = append(erasure_log, facts.erasures)
            except (OSError, ErasureLogError) as error:
                raise BackupError(
                    f"{out_path} was written, but the erasure log could not be updated: {error}"
                ) from None
        return done
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _archive_path(out_path: Path, now: datetime) -> Path:
    if out_path.is_dir():
        return out_path / f"yswd-backup-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar.gz"
    return out_path


def _sqlite_backup(source: Path, target: Path) -> None:
    """SQLite's online backup, in one step: one consistent snapshot of ``source``."""
    src = sqlite3.connect(source, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # pages=-1: all pages in one step, under one read transaction
            ok = dst.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise BackupError(f"the copy of {source.name} does not check out: {ok}")
        finally:
            dst.close()
    except sqlite3.Error as error:
        raise BackupError(f"{source} could not be backed up: {error}") from None
    finally:
        src.close()


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
def _open_copy(
    data: Path, glossary: Path | None, clock: Callable[[], datetime] | None = None
) -> Iterator[Container]:
    from yswd.bootstrap import build

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


@dataclass
class _Copy:
    """What the backed-up copy holds, as found by opening it."""

    log_position: int
    checkpoint: dict[str, Any]
    items: int
    erasures_finished: int
    clip_keys: dict[str, tuple[str, str]]
    erasures: list[ErasureRecord]


def _seal_the_copy(settings: Settings, data: Path, now: datetime, signing_key: Path) -> _Copy:
    from yswd.aggregates.errors import DomainError

    key = load_signing_key(signing_key)
    with _open_copy(data, settings.glossary_file, clock=lambda: now) as copy:
        log_position = copy.app.recorder.max_notification_id() or 0
        _forget_sessions(copy, data)
        copy.runner.catch_up()
        finished = _finish_erasures_under_way(copy)
        try:
            checkpoint = Auditor(copy).checkpoint(key)
        except DomainError as error:
            raise BackupError(
                f"the copy does not verify ({error.message}); run `yswd audit verify`"
            ) from None
        return _Copy(
            log_position=log_position,
            checkpoint=checkpoint,
            items=_count(copy, "rm_items"),
            erasures_finished=finished,
            clip_keys=_clip_keys(copy),
            # the live log's erasures only: one the copy finished itself is the live
            # erasure under way, which the live store records (and syncs) on its own
            erasures=[e for e in erasures_after(copy) if e.position <= log_position],
        )


#: tables of who is signed in now: never restored, so a restore signs everyone out
SESSION_TABLES = ("yswd_staff_sessions", "yswd_sign_in_attempts", "yswd_rate_counts")


def _forget_sessions(copy: Container, data: Path) -> None:
    """Drop the copy's sessions and the cookie key the copy made for itself.

    A session signed out after the backup must not come back with a restore, and
    the copy's ``secret-key`` is a new one made when the copy was opened, not the
    live one: the restored service makes its own, so no old cookie is honoured.
    """
    from sqlalchemy import inspect, text

    present = set(inspect(copy.engine).get_table_names())
    with copy.engine.begin() as connection:
        for table in SESSION_TABLES:
            if table in present:
                connection.execute(text(f"DELETE FROM {table}"))
    (data / "secret-key").unlink(missing_ok=True)


def _count(container: Container, table: str) -> int:
    with container.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)


def _contributor_names(container: Container) -> list[str]:
    """The names the copy's staff read model still shows (not yet erased)."""
    with container.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT DISTINCT contributor FROM rm_items WHERE contributor IS NOT NULL"
        ).all()
    return sorted(str(name) for (name,) in rows if name and name != ERASED)


def _finish_erasures_under_way(copy: Container) -> int:
    """Erase, in the copy, every contributor whose key did not make it into it.

    Such a key was destroyed after the event store was copied and before the key
    store was: an erasure was under way. Its plaintext rows must go too.
    """
    keys = copy.keys
    if keys is None:
        return 0
    secret = keys.secret()
    done: set[str] = set()
    for name in _contributor_names(copy):
        key_id = key_id_for_contributor(secret, name)
        if key_id not in done and keys.get(key_id) is None:
            Auditor(copy).forget(name)
            done.add(key_id)
    return len(done)


def _clip_keys(copy: Container) -> dict[str, tuple[str, str]]:
    """clip id -> (storage key, SHA-256), for every clip whose bytes the copy says exist."""
    from yswd.aggregates.clip import clip_aggregate_id

    with copy.engine.connect() as conn:
        clip_ids = [
            str(row[0])
            for row in conn.exec_driver_sql("SELECT clip_id FROM rm_clips WHERE has_media")
        ]
    found: dict[str, tuple[str, str]] = {}
    for clip_id in clip_ids:
        clip: Any = copy.app.repository.get(clip_aggregate_id(clip_id))
        if getattr(clip, "has_media", False):
            found[clip_id] = (str(clip.storage_key), str(clip.sha256))
    return found


def _copy_clips(
    source: Path, target: Path, keys: dict[str, tuple[str, str]], progress: Progress
) -> tuple[int, list[str]]:
    """Copy each clip, checked against the SHA-256 its event recorded.

    A clip withdrawn or erased since the event store was copied is gone, or was
    being overwritten while it was read: it is left out, and listed as gone.
    """
    store = FolderClipStore(source)
    sizes = {clip_id: store.size(key) for clip_id, (key, _) in keys.items()}
    progress.stage("copying clips", sum(size or 0 for size in sizes.values()))
    target.mkdir(exist_ok=True)
    copied, gone = 0, []
    for clip_id, (key, sha256) in sorted(keys.items()):
        copy = target / f"{key}.clip"
        digest = hashlib.sha256()
        try:
            with store.path(key).open("rb") as src, copy.open("xb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    progress.advance(len(chunk))
        except FileNotFoundError:
            copy.unlink(missing_ok=True)
            gone.append(clip_id)
            continue
        if digest.hexdigest() != sha256:
            copy.unlink()
            gone.append(clip_id)
            continue
        copied += 1
    return copied, gone


def _sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest()


def _checksums(staging: Path, progress: Progress) -> dict[str, dict[str, Any]]:
    paths = sorted(p for p in (staging / DATA).rglob("*") if p.is_file())
    progress.stage("checksumming", sum(p.stat().st_size for p in paths))
    return {
        p.relative_to(staging).as_posix(): {
            "sha256": _sha256_file(p, progress),
            "size": p.stat().st_size,
        }
        for p in paths
    }


class _Counting:
    """A file wrapper that reports what is read through it."""

    def __init__(self, inner: IO[bytes], progress: Progress) -> None:
        self.inner = inner
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self.inner.read(size)
        self.progress.advance(len(chunk))
        return chunk


def _write_archive(
    staging: Path, manifest: dict[str, Any], out_path: Path, now: datetime, progress: Progress
) -> None:
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    digest_bytes = f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST}\n".encode()
    files = manifest["files"]
    progress.stage("writing the archive", sum(entry["size"] for entry in files.values()))
    temp = out_path.with_name(f".{out_path.name}.partial")
    mtime = int(now.timestamp())
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw:
            gz = gzip.GzipFile(
                fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0, filename=""
            )
            with gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for name, payload in ((MANIFEST, manifest_bytes), (MANIFEST_DIGEST, digest_bytes)):
                    tar.addfile(_member(name, len(payload), mtime), io.BytesIO(payload))
                for name in sorted(files):
                    path = staging / name
                    with path.open("rb") as file:
                        counted = cast(IO[bytes], _Counting(file, progress))
                        tar.addfile(_member(name, path.stat().st_size, mtime), counted)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, out_path)
        _fsync_dir(out_path.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _member(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(f"{ROOT}/{name}")
    info.size = size
    info.mtime = mtime
    info.mode = 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- restore ------------------------------------------------------------------------


def restore(
    archive: Path,
    data_dir: Path,
    overwrite: bool = False,
    *,
    erasure_log: Path | None = None,
    trusted_key: str | None = None,
    progress: Progress | None = None,
    glossary_file: Path | None = None,
) -> Restored:
    """Restore ``archive`` into ``data_dir``; refuses a non-empty folder unless ``overwrite``.

    Every member is extracted into a temporary folder beside ``data_dir`` and
    checked against the manifest, the restored store is verified against the
    backup's signed checkpoint (signed by ``trusted_key`` when given), and the
    erasures ``erasure_log`` holds from after the backup are applied again, all
    before anything is moved into ``data_dir``. On any failure ``data_dir`` is
    left as it was.
    """
    progress = progress or NoProgress()
    data_dir = data_dir.absolute()
    if data_dir.exists() and not data_dir.is_dir():
        raise RestoreError(f"{data_dir} is not a folder")
    if data_dir.exists() and any(data_dir.iterdir()) and not overwrite:
        raise RestoreError(
            f"{data_dir} is not empty; restore into an empty folder, or pass --overwrite "
            "to replace what it holds"
        )
    if not archive.is_file():
        raise RestoreError(f"{archive} is not a file")
    created_parent = not data_dir.parent.exists()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_dir.name}.restore-", dir=data_dir.parent))
    try:
        manifest = _extract_and_check(archive, staging, progress)
        result = _prove_and_replay(
            staging / DATA, manifest, erasure_log, trusted_key, glossary_file, progress
        )
        result.data_dir = data_dir
        progress.stage("moving the restored store into place")
        _move_into_place(staging / DATA, data_dir)
        return result
    except BaseException:
        if created_parent:
            shutil.rmtree(data_dir.parent, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refused(archive: Path, why: str) -> RestoreError:
    return RestoreError(f"{archive} was refused: {why}. Nothing was restored.")


def _extract_and_check(archive: Path, staging: Path, progress: Progress) -> dict[str, Any]:
    """Extract into ``staging``, checking every byte; the verified manifest."""
    size = archive.stat().st_size
    progress.stage("checking the archive", size)
    with archive.open("rb") as raw:
        if raw.read(len(GZIP_HEADER)) != GZIP_HEADER:
            raise _refused(archive, "it is not a yswd backup (or its gzip header was changed)")
        raw.seek(0)
        try:
            return _read_members(archive, cast(IO[bytes], _Counting(raw, progress)), staging)
        except RestoreError:
            raise
        except EOFError:
            raise _refused(archive, "it is truncated (the compressed stream ends early)") from None
        except (tarfile.TarError, OSError, zlib.error, ValueError) as error:
            raise _refused(archive, f"it is damaged ({error})") from None


def _read_members(archive: Path, raw: IO[bytes], staging: Path) -> dict[str, Any]:
    gz = gzip.GzipFile(fileobj=raw, mode="rb")
    manifest: dict[str, Any] | None = None
    manifest_bytes = b""
    seen: set[str] = set()
    with tarfile.open(fileobj=gz, mode="r|") as tar:
        for index, member in enumerate(tar):
            name = _member_name(archive, member)
            if name in seen:
                raise _refused(archive, f"{name} appears twice")
            seen.add(name)
            source = tar.extractfile(member)
            assert source is not None
            if index == 0:
                if name != MANIFEST:
                    raise _refused(archive, "it does not begin with a yswd backup manifest")
                manifest_bytes = source.read()
                manifest = _parse_manifest(archive, manifest_bytes)
                continue
            assert manifest is not None
            if index == 1:
                expected = f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST}\n"
                if name != MANIFEST_DIGEST or source.read(4096).decode(errors="replace") != (
                    expected
                ):
                    raise _refused(archive, "its manifest does not match the manifest's digest")
                continue
            entry = manifest["files"].get(name)
            if entry is None:
                raise _refused(archive, f"it holds {name}, which the manifest does not list")
            target = staging / name
            target.parent.mkdir(parents=True, exist_ok=True)
            digest, written = hashlib.sha256(), 0
            with target.open("xb") as out:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    written += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if written != entry["size"] or digest.hexdigest() != entry["sha256"]:
                raise _refused(archive, f"{name} does not match its checksum in the manifest")
    while gz.read(CHUNK):  # the rest of the stream, so that gzip checks its CRC and length
        pass
    if manifest is None:
        raise _refused(archive, "it holds no manifest")
    missing = sorted(set(manifest["files"]) - seen)
    if missing:
        raise _refused(archive, f"it lacks {', '.join(missing)}, which the manifest lists")
    return manifest


def _member_name(archive: Path, member: tarfile.TarInfo) -> str:
    path = PurePosixPath(member.name)
    if not member.isfile() or path.is_absolute() or ".." in path.parts or path.parts[0] != ROOT:
        raise _refused(archive, f"it holds an unexpected entry {member.name!r}")
    return PurePosixPath(*path.parts[1:]).as_posix()


def _parse_manifest(archive: Path, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise _refused(archive, "its manifest is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refused(archive, "it is not a yswd backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _refused(
            archive,
            f"it is backup format {manifest.get('format_version')!r}; "
            f"this yswd reads {FORMAT_VERSION}",
        )
    files = manifest.get("files")
    checkpoint = manifest.get("checkpoint")
    required = {f"{DATA}/{SQLITE_FILE}", f"{DATA}/{KEYS_FILE}"}
    if not isinstance(files, dict) or not required <= set(files):
        raise _refused(archive, "its manifest does not list the event and key stores")
    for name, entry in files.items():
        parts = PurePosixPath(name).parts
        if (
            not parts
            or parts[0] != DATA
            or ".." in parts
            or not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("size"), int)
        ):
            raise _refused(archive, f"its manifest has a bad entry for {name!r}")
    if (
        not isinstance(checkpoint, dict)
        or checkpoint.get("position") != manifest.get("position")
        or checkpoint.get("head_hash") != manifest.get("head_hash")
    ):
        raise _refused(archive, "its manifest's position and head hash are not its checkpoint's")
    return manifest


def _prove_and_replay(
    data: Path,
    manifest: dict[str, Any],
    erasure_log: Path | None,
    trusted_key: str | None,
    glossary: Path | None,
    progress: Progress,
) -> Restored:
    for db in (SQLITE_FILE, KEYS_FILE):
        _quick_check(data / db)
    # the log is read first: a damaged log stops the restore before any work
    log_position = int(manifest.get("log_position", manifest["position"]))
    later = records_after(erasure_log, log_position) if erasure_log is not None else []
    progress.stage("verifying the restored store against the backup's checkpoint")
    with _open_copy(data, glossary) as copy:
        auditor = Auditor(copy)
        answer = auditor.verify_against(manifest["checkpoint"], trusted_key)
        if not answer["ok"]:
            why = answer.get("checkpoint", {}).get("reason") or answer.get("first_bad")
            raise RestoreError(
                f"the restored store does not verify against the backup's checkpoint ({why}). "
                "Nothing was restored."
            )
        reapplied: list[ErasureRecord] = []
        if later:
            progress.stage(f"re-applying {len(later)} later erasure(s)")
            reapplied = reapply_erasures(copy, later)
            after = auditor.verify()
            if not after["ok"]:
                raise RestoreError(f"the chain does not verify after the erasures: {after}")
        result = Restored(
            data_dir=data,
            events=int(manifest["events"]),
            items=_count(copy, "rm_items"),
            clips=sum(1 for name in manifest["files"] if name.startswith(f"{DATA}/{CLIPS}/")),
            position=int(manifest["position"]),
            head_hash=str(manifest["head_hash"]),
            erasures_reapplied=reapplied,
            erasure_log=erasure_log,
        )
    return result


def _quick_check(db: Path) -> None:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as error:
        ok = str(error)
    finally:
        conn.close()
    if ok != "ok":
        raise RestoreError(f"{db.name} in the archive is not a sound SQLite database: {ok}")


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
    for name in _contributor_names(container):
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


def _move_into_place(staged: Path, target: Path) -> None:
    """Put the verified store at ``target``: a rename, or entry by entry into a folder.

    An existing folder may be a mount point of its own: entries are then moved with
    ``shutil.move``, which copies where a rename cannot cross file systems.
    """
    if not target.exists():
        os.replace(staged, target)
        _fsync_dir(target)
        _fsync_dir(target.parent)
        return
    trash: Path | None = None
    existing = list(target.iterdir())
    if existing:  # --overwrite: what was there goes, once the new store is in place
        trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.replaced-", dir=target.parent))
        for entry in existing:
            shutil.move(entry, trash / entry.name)
    for entry in staged.iterdir():
        shutil.move(entry, target / entry.name)
    _fsync_dir(target)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    _fsync_dir(target.parent)
