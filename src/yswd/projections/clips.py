"""Read model ``clips``: which clips each item has, and what of them the public may see.

One row per clip. The transcript is kept with a flag saying whether a
moderator published it; public queries return only published transcripts, and
a media link only where consent allows it (the item's own publication is
checked by the caller, against the event store).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    or_,
    select,
    update,
)

from yswd.aggregates.clip import Clip, Consent
from yswd.aggregates.topics import event_topics
from yswd.projections.sql import upsert

metadata = MetaData()

clips = Table(
    "rm_clips",
    metadata,
    Column("clip_id", String(64), primary_key=True),
    Column("item_id", String(64), nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("consent", String(16), nullable=False),
    Column("has_media", Boolean, nullable=False),
    Column("transcript", Text),
    Column("transcript_published", Boolean, nullable=False),
    Column("attached_at", String(40), nullable=False),
    Column("position", Integer, nullable=False),
    Index("ix_rm_clips_item", "item_id"),
)


class ClipsReadModel:
    """Keeps ``rm_clips`` in step with the ``Clip`` events."""

    name = "clips"
    metadata = metadata
    wants_stored_form = False
    #: only clip events are decoded for this model (it decoded every event, items too)
    topic_prefixes = event_topics(Clip)

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if not isinstance(event, Clip.Event):
            return
        clip_id = event.originator_id.removeprefix("clip:")
        if isinstance(event, Clip.Attached):
            row = {
                "clip_id": clip_id,
                "item_id": event.item_id,
                "media_type": event.media_type,
                "consent": Consent.INTERNAL_ONLY.value,
                "has_media": True,
                "transcript": None,
                "transcript_published": False,
                "attached_at": event.timestamp.isoformat(),
                "position": position,
            }
            upsert(conn, clips, row, "clip_id")
            return
        changes: dict[str, Any] = {}
        if isinstance(event, Clip.ConsentRecorded):
            changes["consent"] = event.level
            if event.level == Consent.WITHDRAWN.value:
                changes["transcript_published"] = False
        elif isinstance(event, Clip.TranscriptAdded):
            changes = {"transcript": event.text, "transcript_published": False}
        elif isinstance(event, Clip.TranscriptPublished):
            changes["transcript_published"] = True
        elif isinstance(event, Clip.BytesDeleted):
            changes = {"has_media": False, "transcript_published": False}
        if changes:
            conn.execute(
                update(clips).where(clips.c.clip_id == clip_id).values(position=position, **changes)
            )

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(clips))


class ClipQueries:
    """Reads of ``rm_clips``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def clip_ids(self, item_id: str) -> list[str]:
        """Every clip of an item, oldest first."""
        with self.engine.connect() as conn:
            return list(
                conn.scalars(
                    select(clips.c.clip_id)
                    .where(clips.c.item_id == item_id)
                    .order_by(clips.c.attached_at, clips.c.clip_id)
                )
            )

    def public_clips(self, item_id: str) -> list[dict[str, Any]]:
        """An item's clips with a published transcript or media the public may play.

        The caller has checked that the item itself is published.
        """
        playable = (clips.c.consent == Consent.MAY_PUBLISH.value) & clips.c.has_media
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    clips.c.clip_id,
                    clips.c.media_type,
                    clips.c.transcript,
                    clips.c.transcript_published,
                    playable.label("playable"),
                )
                .where(clips.c.item_id == item_id)
                .where(clips.c.consent != Consent.WITHDRAWN.value)
                .where(or_(clips.c.transcript_published, playable))
                .order_by(clips.c.attached_at, clips.c.clip_id)
            ).all()
        return [
            {
                "id": row.clip_id,
                "transcript": row.transcript if row.transcript_published else None,
                "media_type": row.media_type if row.playable else None,
                "media_url": f"/public/clips/{row.clip_id}/media" if row.playable else None,
            }
            for row in rows
        ]
