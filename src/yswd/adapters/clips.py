"""The clip store: where diary-room recordings' bytes live, outside the event store.

An upload is written to a temporary file while it streams in (hashing and
counting as it goes), then ``commit`` makes it durable: fsync the file, rename
it into place, fsync the folder. Only then is the ``Clip.Attached`` event
saved; if that save fails the caller deletes the bytes again.

``FolderClipStore`` keeps one file per clip under ``YSWD_DATA_DIR/clips/``;
``MemoryClipStore`` keeps bytes in a dict, for the in-memory event store.
Deleting a clip overwrites its file with zeros before unlinking it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from yswd.application.ports import ClipStore as ClipStore
from yswd.application.ports import PendingClip as PendingClip

# ``ClipStore`` and ``PendingClip`` (what the stores below are) are the application's
# ports, re-exported for the HTTP edge

#: how many leading bytes are kept for type sniffing
HEAD_BYTES = 4096
CHUNK = 256 * 1024
#: a temporary upload older than this was left by a crash, and is removed
STALE_UPLOAD_SECONDS = 3600
_KEY = re.compile(r"^[0-9a-f]{32}$")


def new_key() -> str:
    return secrets.token_hex(16)


class _Hashing:
    """Counts, hashes and keeps the head of what passes through."""

    def __init__(self) -> None:
        self.size = 0
        self.head = b""
        self._hash = hashlib.sha256()

    def _take(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._hash.update(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]

    def sha256(self) -> str:
        return self._hash.hexdigest()


class FolderClipStore:
    """One file per clip in ``root``; uploads stream into ``root/tmp`` first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"

    def begin(self) -> PendingClip:
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._remove_stale_uploads()
        return _PendingFile(self)

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("not a clip storage key")
        return self.root / f"{key}.clip"

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except (FileNotFoundError, ValueError):
            return None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with self.path(key).open("rb") as file:
            file.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                chunk = file.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def delete(self, key: str) -> bool:
        try:
            path = self.path(key)
        except ValueError:
            return False
        return _shred(path)

    def _remove_stale_uploads(self) -> None:
        cutoff = time.time() - STALE_UPLOAD_SECONDS
        for leftover in self.tmp.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if leftover.stat().st_mtime < cutoff:
                    _shred(leftover)

    def _fsync_folder(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _PendingFile(_Hashing):
    def __init__(self, store: FolderClipStore) -> None:
        super().__init__()
        self.store = store
        self.key = new_key()
        self.temp = store.tmp / f"{self.key}.part"
        self._file: BinaryIO | None = self.temp.open("xb")
        self._committed = False

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            raise ValueError("this upload is finished")
        self._take(chunk)
        self._file.write(chunk)

    def commit(self) -> str:
        if self._file is None:
            raise ValueError("this upload is finished")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        os.replace(self.temp, self.store.path(self.key))
        self.store._fsync_folder()
        self._committed = True
        return self.key

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if not self._committed:
            _shred(self.temp)


def _shred(path: Path) -> bool:
    """Overwrite a file with zeros, then unlink it. False if it was not there."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as file:
            zeros = bytes(min(CHUNK, size))
            left = size
            while left > 0:
                file.write(zeros[: min(len(zeros), left)])
                left -= min(len(zeros), left)
            file.flush()
            os.fsync(file.fileno())
        path.unlink()
    except FileNotFoundError:
        return False
    return True


class MemoryClipStore:
    """Clip bytes in a dict, for the in-memory event store (nothing touches disk)."""

    def __init__(self) -> None:
        self._clips: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def begin(self) -> PendingClip:
        return _PendingMemory(self)

    def size(self, key: str) -> int | None:
        data = self._clips.get(key)
        return None if data is None else len(data)

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        data = self._clips[key][start:end]
        for offset in range(0, len(data), CHUNK):
            yield data[offset : offset + CHUNK]

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._clips.pop(key, None) is not None

    def _put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._clips[key] = data


class _PendingMemory(_Hashing):
    def __init__(self, store: MemoryClipStore) -> None:
        super().__init__()
        self.store = store
        self._buffer: io.BytesIO | None = io.BytesIO()

    def write(self, chunk: bytes) -> None:
        if self._buffer is None:
            raise ValueError("this upload is finished")
        self._take(chunk)
        self._buffer.write(chunk)

    def commit(self) -> str:
        if self._buffer is None:
            raise ValueError("this upload is finished")
        key = new_key()
        self.store._put(key, self._buffer.getvalue())
        self._buffer = None
        return key

    def discard(self) -> None:
        self._buffer = None
