"""A diary-room clip: audio or video someone recorded about an item.

The clip's bytes never enter the event store. The events record what was
stored (media type, size, a SHA-256 of the bytes and where the clip store
keeps them), the consent the speaker gave, the transcript and summary staff
wrote, and when the bytes were deleted.

Consent is ``internal_only`` (staff may play it), ``may_publish`` (the public
may play it once the item is published) or ``withdrawn``. Withdrawal is final:
the bytes are deleted and nothing more may be done with the clip.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import Conflict


class Consent(StrEnum):
    INTERNAL_ONLY = "internal_only"
    MAY_PUBLISH = "may_publish"
    WITHDRAWN = "withdrawn"


class DeletionReason(StrEnum):
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONTRIBUTOR_ERASED = "contributor_erased"


def clip_aggregate_id(clip_id: str) -> str:
    return f"clip:{clip_id}"


class ClipWithdrawn(Conflict):
    """A change to a clip whose consent was withdrawn (409)."""


class Clip(Aggregate):
    """One recording attached to an item, with its consent and its text."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        item_id: str
        media_type: str
        size: int
        sha256: str
        storage_key: str
        consent: Consent
        has_media: bool
        transcript: str | None
        transcript_published: bool
        summary: str | None

    class Attached(Aggregate.Created):
        """The bytes were stored durably under ``storage_key``."""

        item_id: str
        media_type: str
        size: int
        sha256: str
        storage_key: str

        def apply(self, aggregate: Clip) -> None:
            aggregate.item_id = self.item_id
            aggregate.media_type = self.media_type
            aggregate.size = self.size
            aggregate.sha256 = self.sha256
            aggregate.storage_key = self.storage_key
            aggregate.consent = Consent.INTERNAL_ONLY
            aggregate.has_media = True
            aggregate.transcript = None
            aggregate.transcript_published = False
            aggregate.summary = None

    class ConsentRecorded(Aggregate.Event):
        level: str

        def apply(self, aggregate: Clip) -> None:
            aggregate.consent = Consent(self.level)
            if aggregate.consent is Consent.WITHDRAWN:
                aggregate.transcript_published = False

    class TranscriptAdded(Aggregate.Event):
        """A transcript was written (or rewritten); it is not public until published."""

        text: str

        def apply(self, aggregate: Clip) -> None:
            aggregate.transcript = self.text
            aggregate.transcript_published = False

    class TranscriptPublished(Aggregate.Event):
        """A moderator approved the current transcript for the public."""

        def apply(self, aggregate: Clip) -> None:
            aggregate.transcript_published = True

    class SummaryAdded(Aggregate.Event):
        text: str

        def apply(self, aggregate: Clip) -> None:
            aggregate.summary = self.text

    class BytesDeleted(Aggregate.Event):
        """The stored bytes are gone; nothing can play the clip any more."""

        reason: str

        def apply(self, aggregate: Clip) -> None:
            aggregate.has_media = False
            aggregate.transcript_published = False

    # -- commands -----------------------------------------------------------

    @classmethod
    def attach(
        cls,
        clip_id: str,
        *,
        item_id: str,
        media_type: str,
        size: int,
        sha256: str,
        storage_key: str,
        consent: Consent,
        actor: str,
        now: datetime,
    ) -> Clip:
        """A clip whose bytes are already stored, with the consent given at recording."""
        if consent is Consent.WITHDRAWN:
            raise ClipWithdrawn("A clip cannot be attached with its consent withdrawn.")
        clip = cls._create(
            cls.Attached,
            id=clip_aggregate_id(clip_id),
            item_id=item_id,
            media_type=media_type,
            size=size,
            sha256=sha256,
            storage_key=storage_key,
            actor=actor,
            timestamp=now,
        )
        clip._record(cls.ConsentRecorded, actor, now, level=consent.value)
        return clip

    def record_consent(self, level: Consent, actor: str, now: datetime) -> None:
        self._require_not_withdrawn()
        if level is not self.consent:
            self._record(self.ConsentRecorded, actor, now, level=level.value)

    def add_transcript(self, text: str, publish: bool, actor: str, now: datetime) -> None:
        self._require_not_withdrawn()
        if text != self.transcript:
            self._record(self.TranscriptAdded, actor, now, text=text)
        if publish and not self.transcript_published:
            self._record(self.TranscriptPublished, actor, now)

    def publish_transcript(self, actor: str, now: datetime) -> None:
        self._require_not_withdrawn()
        if self.transcript is None:
            raise Conflict("This clip has no transcript to publish yet.")
        if not self.transcript_published:
            self._record(self.TranscriptPublished, actor, now)

    def add_summary(self, text: str, actor: str, now: datetime) -> None:
        self._require_not_withdrawn()
        if text != self.summary:
            self._record(self.SummaryAdded, actor, now, text=text)

    def withdraw(self, actor: str, now: datetime) -> None:
        """Record the withdrawal and that the bytes were deleted (the caller deleted them)."""
        self._require_not_withdrawn()
        self._record(self.ConsentRecorded, actor, now, level=Consent.WITHDRAWN.value)
        self._record(self.BytesDeleted, actor, now, reason=DeletionReason.CONSENT_WITHDRAWN.value)

    def erase_media(self, actor: str, now: datetime) -> None:
        """Record that the bytes were deleted because the contributor was erased."""
        if self.has_media:
            self._record(
                self.BytesDeleted, actor, now, reason=DeletionReason.CONTRIBUTOR_ERASED.value
            )

    # -- queries ------------------------------------------------------------

    @property
    def clip_id(self) -> str:
        return self.id.removeprefix("clip:")

    @property
    def withdrawn(self) -> bool:
        return self.consent is Consent.WITHDRAWN

    def playable_by_public(self, item_published: bool) -> bool:
        return item_published and self.has_media and self.consent is Consent.MAY_PUBLISH

    def _require_not_withdrawn(self) -> None:
        if self.withdrawn:
            raise ClipWithdrawn("Consent for this clip was withdrawn; it can no longer be changed.")
        if not self.has_media:
            raise ClipWithdrawn("This clip was erased; it can no longer be changed.")
