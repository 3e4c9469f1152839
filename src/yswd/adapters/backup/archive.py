"""``backup``: a running embedded store into one archive (see the package's docstring)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import yswd
from yswd.adapters.backup.copies import (
    CHUNK,
    CLIPS,
    DATA,
    FORMAT,
    FORMAT_VERSION,
    GZIP_LEVEL,
    MANIFEST,
    MANIFEST_DIGEST,
    ROOT,
    Auditor,
    BackupError,
    Counting,
    NoProgress,
    OpenStore,
    Progress,
    contributor_names,
    count_rows,
    default_signing_key,
    fsync_dir,
    load_signing_key,
    open_copy,
)
from yswd.adapters.clips import FolderClipStore
from yswd.adapters.crypto import key_id_for_contributor
from yswd.adapters.crypto.key_stores import KEYS_FILE
from yswd.adapters.erasure_log import (
    ErasureLogError,
    ErasureRecord,
    append,
    erasures_after,
)
from yswd.adapters.persistence import SQLITE_FILE, sqlite_path
from yswd.settings import Settings

if TYPE_CHECKING:
    from yswd.adapters.container import Container


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


def backup(
    settings: Settings,
    out_path: Path,
    progress: Progress | None = None,
    *,
    now: datetime | None = None,
    signing_key: Path | None = None,
    erasure_log: Path | None = None,
    build: OpenStore,
) -> BackedUp:
    """Back up the embedded store of ``settings`` into ``out_path`` (a .tar.gz).

    ``build`` opens the copy to catch it up, verify and sign it (``yswd.bootstrap.build``).

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
        key = signing_key or default_signing_key(settings)
        facts = _seal_the_copy(build, settings, data, now, key)
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


@dataclass
class _Copy:
    """What the backed-up copy holds, as found by opening it."""

    log_position: int
    checkpoint: dict[str, Any]
    items: int
    erasures_finished: int
    clip_keys: dict[str, tuple[str, str]]
    erasures: list[ErasureRecord]


def _seal_the_copy(
    build: OpenStore, settings: Settings, data: Path, now: datetime, signing_key: Path
) -> _Copy:
    from yswd.aggregates.errors import DomainError

    key = load_signing_key(signing_key)
    with open_copy(build, data, settings.glossary_file, clock=lambda: now) as copy:
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
            items=count_rows(copy, "rm_items"),
            erasures_finished=finished,
            clip_keys=_clip_keys(copy),
            # the live log's erasures only: one the copy finished itself is the live
            # erasure under way, which the live store records (and syncs) on its own
            erasures=[e for e in erasures_after(copy.app) if e.position <= log_position],
        )


#: tables of who is signed in now (and who was rate limited): never restored, so a
#: restore signs everyone out (``yswd_rate_counts`` is in stores from before session 7)
SESSION_TABLES = (
    "yswd_staff_sessions",
    "yswd_sign_in_attempts",
    "yswd_rate_hits",
    "yswd_rate_counts",
)


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
    for name in contributor_names(copy):
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
                        counted = cast(IO[bytes], Counting(file, progress))
                        tar.addfile(_member(name, path.stat().st_size, mtime), counted)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, out_path)
        fsync_dir(out_path.parent)
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
