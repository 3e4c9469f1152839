"""``restore``: an archive checked completely, proved, then put in place."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, cast

from yswd.adapters.backup.copies import (
    CHUNK,
    CLIPS,
    DATA,
    FORMAT,
    FORMAT_VERSION,
    GZIP_HEADER,
    MANIFEST,
    MANIFEST_DIGEST,
    ROOT,
    Auditor,
    Counting,
    NoProgress,
    OpenStore,
    Progress,
    RestoreError,
    count_rows,
    fsync_dir,
    open_copy,
)
from yswd.adapters.backup.erasures import reapply_erasures
from yswd.adapters.crypto.key_stores import KEYS_FILE
from yswd.adapters.erasure_log import (
    ErasureRecord,
    records_after,
)
from yswd.adapters.persistence import SQLITE_FILE

if TYPE_CHECKING:
    pass


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
            f"; re-applied {len(self.erasures_reapplied)} later erasure(s) from {self.erasure_log}"
        )


def restore(
    archive: Path,
    data_dir: Path,
    overwrite: bool = False,
    *,
    erasure_log: Path | None = None,
    trusted_key: str | None = None,
    progress: Progress | None = None,
    glossary_file: Path | None = None,
    build: OpenStore,
) -> Restored:
    """Restore ``archive`` into ``data_dir``; refuses a non-empty folder unless ``overwrite``.

    Every member is extracted into a temporary folder beside ``data_dir`` and
    checked against the manifest, the restored store is verified against the
    backup's signed checkpoint (signed by ``trusted_key`` when given), and the
    erasures ``erasure_log`` holds from after the backup are applied again, all
    before anything is moved into ``data_dir``. On any failure ``data_dir`` is
    left as it was. ``build`` opens the restored store to prove it
    (``yswd.bootstrap.build``).
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
            build, staging / DATA, manifest, erasure_log, trusted_key, glossary_file, progress
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
            return _read_members(archive, cast(IO[bytes], Counting(raw, progress)), staging)
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
    build: OpenStore,
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
    with open_copy(build, data, glossary) as copy:
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
            items=count_rows(copy, "rm_items"),
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


def _move_into_place(staged: Path, target: Path) -> None:
    """Put the verified store at ``target``: a rename, or entry by entry into a folder.

    An existing folder may be a mount point of its own: entries are then moved with
    ``shutil.move``, which copies where a rename cannot cross file systems.
    """
    if not target.exists():
        os.replace(staged, target)
        fsync_dir(target)
        fsync_dir(target.parent)
        return
    trash: Path | None = None
    existing = list(target.iterdir())
    if existing:  # --overwrite: what was there goes, once the new store is in place
        trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.replaced-", dir=target.parent))
        for entry in existing:
            shutil.move(entry, trash / entry.name)
    for entry in staged.iterdir():
        shutil.move(entry, target / entry.name)
    fsync_dir(target)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)
    fsync_dir(target.parent)
