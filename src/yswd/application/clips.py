"""Diary-room clips: attaching recordings to items, consent, transcripts, playing them.

The bytes go to a clip store (the ``ClipStore`` port); the facts about them
are ``Clip`` events. The order of writes keeps both promises at once:

- attaching stores the bytes durably first, then saves the event; if the save
  fails the bytes are deleted again, so no bytes exist without a clip;
- withdrawing consent deletes the bytes first, then saves the withdrawal; a
  withdrawal is never acknowledged while the bytes still exist, and a failed
  save is simply repeated by the caller.

The media type is sniffed from the bytes' magic numbers, never taken from the
request's Content-Type or the file name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.clip import Clip, Consent, clip_aggregate_id
from yswd.aggregates.errors import DomainError, Forbidden, InvalidInput, NotFound
from yswd.aggregates.item import Item
from yswd.application.ports import ClipIndex, ClipStore, PendingClip
from yswd.application.service import Yswd
from yswd.application.unit_of_work import Written, require_version

DEFAULT_MAX_CLIP_BYTES = 50 * 1024 * 1024
TRANSCRIPT_MAX = 20_000
SUMMARY_MAX = 4000

#: what may be uploaded: the media types sniffing can return
ACCEPTED_TYPES = (
    "audio/mp4",
    "video/mp4",
    "video/quicktime",
    "video/3gpp",
    "video/webm",
    "video/x-matroska",
    "audio/ogg",
    "video/ogg",
    "audio/mpeg",
    "audio/wav",
    "audio/flac",
)


class ClipTooLarge(DomainError):
    """An upload over the clip size limit (413)."""


class UnsupportedClipType(DomainError):
    """Bytes that are not a recognised audio or video format (415)."""


# -- sniffing -------------------------------------------------------------------------


def sniff_media_type(head: bytes) -> str | None:
    """The media type of a recording from its first bytes, or None if not audio/video."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P ", b"F4A "):
            return "audio/mp4"
        if brand == b"qt  ":
            return "video/quicktime"
        if brand.startswith(b"3g"):
            return "video/3gpp"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska or WebM
        doctype = head[:64]
        if b"webm" in doctype:
            return "video/webm"
        if b"matroska" in doctype:
            return "video/x-matroska"
        return None
    if head.startswith(b"OggS"):
        return "video/ogg" if b"theora" in head[:128] else "audio/ogg"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"ID3") and len(head) >= 10:
        return "audio/mpeg"
    if _mpeg_audio_frame(head):
        return "audio/mpeg"
    return None


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio layer III frame header (an MP3 without an ID3 tag)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    sample_rate = (head[2] >> 2) & 0b11
    return version != 0b01 and layer == 0b01 and bitrate not in (0, 0xF) and sample_rate != 0b11


# -- views ----------------------------------------------------------------------------


def clip_view(clip: Clip) -> dict[str, Any]:
    """The staff view of a clip."""
    return {
        "id": clip.clip_id,
        "item_id": clip.item_id,
        "media_type": clip.media_type,
        "size": clip.size,
        "sha256": clip.sha256,
        "consent": clip.consent.value,
        "has_media": clip.has_media,
        "media_url": f"/api/v1/clips/{clip.clip_id}/media" if clip.has_media else None,
        "transcript": clip.transcript,
        "transcript_published": clip.transcript_published,
        "summary": clip.summary,
        "version": clip.version,
        "created_at": clip.created_on.isoformat(),
        "updated_at": clip.modified_on.isoformat(),
    }


# -- the use cases ----------------------------------------------------------------------


class Clips:
    """The clip use cases, on the application's event store and a clip store."""

    def __init__(
        self,
        app: Yswd,
        store: ClipStore,
        queries: ClipIndex,
        max_bytes: int = DEFAULT_MAX_CLIP_BYTES,
    ) -> None:
        self.app = app
        self.uow = app.uow
        self.store = store
        self.queries = queries
        self.max_bytes = max_bytes

    # -- attaching --------------------------------------------------------------

    def item_for_upload(self, actor: Principal, item_id: str) -> Item:
        """The item a clip is about to be attached to; refuses before any bytes are read."""
        actor.require(Action.ATTACH_CLIPS)
        return self._item(actor, item_id)

    def begin_upload(self) -> PendingClip:
        return self.store.begin()

    def take(self, upload: PendingClip, chunk: bytes) -> None:
        """Write one chunk of an upload, refusing it once it passes the size limit."""
        if upload.size + len(chunk) > self.max_bytes:
            raise ClipTooLarge(
                f"A clip may be at most {self.max_bytes // (1024 * 1024)} MiB "
                f"({self.max_bytes} bytes)."
            )
        upload.write(chunk)

    def attach(
        self, actor: Principal, item_id: str, upload: PendingClip, consent: Consent
    ) -> Written[Clip]:
        """Store the upload's bytes durably, then record the clip. Discards it when refused."""
        try:
            item = self.item_for_upload(actor, item_id)
            if upload.size == 0:
                raise InvalidInput("The file is empty.")
            media_type = sniff_media_type(upload.head)
            if media_type is None:
                raise UnsupportedClipType(
                    "This file is not a recording we can keep. Upload audio or video: "
                    "MP4 or M4A, WebM or MKV, Ogg, MP3 or WAV."
                )
            if consent is Consent.WITHDRAWN:
                raise InvalidInput("A clip cannot be uploaded with its consent withdrawn.")
        except BaseException:
            upload.discard()
            raise
        sha256 = upload.sha256()
        key = upload.commit()
        try:
            clip = Clip.attach(
                self.uow.ids(),
                item_id=item.item_id,
                media_type=media_type,
                size=upload.size,
                sha256=sha256,
                storage_key=key,
                consent=consent,
                actor=actor.user_id,
                now=self.uow.clock(),
            )
            position = self.uow.save(clip)
        except BaseException:
            self.store.delete(key)  # no bytes without a clip
            raise
        return Written(clip, position)

    # -- reading ----------------------------------------------------------------

    def clip(self, actor: Principal, clip_id: str) -> Clip:
        """A clip whose item is in the caller's scope."""
        actor.require(Action.READ_ITEMS)
        clip = self._load(clip_id)
        self._require_in_scope(actor, clip)
        return clip

    def clips_of_item(self, actor: Principal, item_id: str) -> list[Clip]:
        item = self._item(actor, item_id)
        return [self._load(clip_id) for clip_id in self.queries.clip_ids(item.item_id)]

    def media(self, actor: Principal, clip_id: str) -> tuple[Clip, int]:
        """A clip staff may play, and its stored size; NotFound once the bytes are gone."""
        return self._playable(self.clip(actor, clip_id))

    def public_media(self, clip_id: str) -> tuple[Clip, int]:
        """A clip the public may play: consent allows it and the item is published."""
        try:
            clip = self._load(clip_id)
            item = self.app.load_item(clip.item_id)
        except NotFound:
            raise NotFound("There is no such clip.") from None
        if not clip.playable_by_public(item.on_public_boards):
            raise NotFound("There is no such clip.")
        return self._playable(clip)

    def public_clips(self, item_id: str) -> list[dict[str, Any]]:
        """What the public may see of a published item's clips."""
        item = self.app.load_item(item_id)
        if not item.on_public_boards:  # unpublished, or under a safeguarding restriction
            raise NotFound(f"There is no item '{item_id}'.")
        return self.queries.public_clips(item.item_id)

    def read(self, clip: Clip, start: int, end: int) -> Iterable[bytes]:
        return self.store.read(clip.storage_key, start, end)

    # -- consent and text ---------------------------------------------------------

    def record_consent(
        self, actor: Principal, clip_id: str, level: Consent, expected_version: int | None
    ) -> Written[Clip]:
        actor.require(Action.ATTACH_CLIPS)
        if level is Consent.WITHDRAWN:
            return self.withdraw(actor, clip_id, expected_version)
        return self._change(
            actor,
            clip_id,
            expected_version,
            lambda clip, now: clip.record_consent(level, actor.user_id, now),
        )

    def withdraw(
        self, actor: Principal, clip_id: str, expected_version: int | None
    ) -> Written[Clip]:
        """Delete the bytes, then record the withdrawal and the deletion."""
        actor.require(Action.ATTACH_CLIPS)

        def withdraw(clip: Clip, now: datetime) -> None:
            clip.withdraw(actor.user_id, now)  # refuses a clip already withdrawn
            self.store.delete(clip.storage_key)

        return self._change(actor, clip_id, expected_version, withdraw)

    def add_transcript(
        self,
        actor: Principal,
        clip_id: str,
        text: str,
        publish: bool,
        expected_version: int | None,
    ) -> Written[Clip]:
        """Staff who attach clips write transcripts; only a moderator may publish one."""
        if not (actor.may(Action.ATTACH_CLIPS) or actor.may(Action.PUBLISH)):
            raise Forbidden(f"A {actor.role.value} may not write transcripts.")
        if publish:
            actor.require(Action.PUBLISH)
        if len(text) > TRANSCRIPT_MAX:
            raise InvalidInput(f"A transcript must be at most {TRANSCRIPT_MAX} characters.")

        def add_transcript(clip: Clip, now: datetime) -> None:
            clip.add_transcript(text, publish, actor.user_id, now)

        return self._change(actor, clip_id, expected_version, add_transcript)

    def publish_transcript(
        self, actor: Principal, clip_id: str, expected_version: int | None
    ) -> Written[Clip]:
        """A moderator makes the transcript public, as it was written."""
        actor.require(Action.PUBLISH)

        def publish_transcript(clip: Clip, now: datetime) -> None:
            clip.publish_transcript(actor.user_id, now)

        return self._change(actor, clip_id, expected_version, publish_transcript)

    def add_summary(
        self, actor: Principal, clip_id: str, text: str, expected_version: int | None
    ) -> Written[Clip]:
        actor.require(Action.ATTACH_CLIPS)
        if len(text) > SUMMARY_MAX:
            raise InvalidInput(f"A summary must be at most {SUMMARY_MAX} characters.")

        def add_summary(clip: Clip, now: datetime) -> None:
            clip.add_summary(text, actor.user_id, now)

        return self._change(actor, clip_id, expected_version, add_summary)

    # -- erasure --------------------------------------------------------------------

    def erase_items(self, actor: Principal, item_ids: Iterable[str]) -> int:
        """Delete the bytes of every clip of these items (a contributor is being erased).

        Returns how many clips lost their bytes. Called by the erasure flow, after
        the caller checked that ``actor`` may erase contributors.
        """
        actor.require(Action.FORGET)
        erased = 0
        for item_id in item_ids:
            for clip_id in self.queries.clip_ids(item_id):
                if self._erase_media(actor, clip_id) is not None:
                    erased += 1
        return erased

    def _erase_media(self, actor: Principal, clip_id: str) -> int | None:
        """Delete one clip's bytes, then record it; None when it had none left."""

        def attempt() -> list[Aggregate]:
            clip = self._load(clip_id)
            if not clip.has_media:
                return []
            self.store.delete(clip.storage_key)
            clip.erase_media(actor.user_id, self.uow.clock())
            return [clip]

        return self.uow.save_with_retries(f"Clip '{clip_id}'", attempt)

    # -- internals --------------------------------------------------------------------

    def _item(self, actor: Principal, item_id: str) -> Item:
        """An item in the caller's scope (its personal fields are not shown, so not logged)."""
        actor.require(Action.READ_ITEMS)
        item = self.app.load_item(item_id)
        _require_visible(actor, item)
        self.app.require_item_in_scope(actor, item)
        return item

    def _load(self, clip_id: str) -> Clip:
        clip: Clip = self.uow.get(clip_aggregate_id(clip_id), f"There is no clip '{clip_id}'.")
        return clip

    def _require_in_scope(self, actor: Principal, clip: Clip) -> None:
        item = self.app.load_item(clip.item_id)
        if item.restricted and not actor.sees_safeguarding:
            raise NotFound(f"There is no clip '{clip.clip_id}'.")
        if not self.app.item_in_scope(actor, item):
            raise Forbidden(f"Clip '{clip.clip_id}' is outside your scope.")

    def _playable(self, clip: Clip) -> tuple[Clip, int]:
        if clip.withdrawn or not clip.has_media:
            raise NotFound("This clip's recording was deleted.")
        size = self.store.size(clip.storage_key)
        if size is None:
            raise NotFound("This clip's recording was deleted.")
        return clip, size

    def _change(
        self,
        actor: Principal,
        clip_id: str,
        expected_version: int | None,
        change: Callable[[Clip, datetime], None],
    ) -> Written[Clip]:
        """Load, check scope, change and save one clip, with optimistic concurrency."""
        changed: list[Clip] = []

        def attempt() -> list[Clip]:
            clip = self.clip(actor, clip_id)
            require_version(clip, expected_version, f"Clip '{clip_id}'")
            change(clip, self.uow.clock())
            changed[:] = [clip]
            return [clip]

        what = f"Clip '{clip_id}'"
        position = self.uow.save_with_retries(what, attempt, fenced=expected_version is not None)
        return Written(changed[0], position)


def _require_visible(actor: Principal, item: Item) -> None:
    """An item under a safeguarding restriction does not exist for most staff."""
    if item.restricted and not actor.sees_safeguarding:
        raise NotFound(f"There is no item '{item.item_id}'.")
