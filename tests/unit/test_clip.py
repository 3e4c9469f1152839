"""Diary-room clips: the aggregate, type sniffing, the folder store and the use cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from yswd.adapters.clips import FolderClipStore, MemoryClipStore
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.clip import Clip, ClipWithdrawn, Consent
from yswd.aggregates.errors import Conflict, Forbidden, InvalidInput, NotFound
from yswd.aggregates.event_types import event_type_name
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.application.clips import Clips, ClipTooLarge, UnsupportedClipType, sniff_media_type
from yswd.bootstrap import Container, build, fixed_clock
from yswd.projections.clips import ClipQueries

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def attached(consent: Consent = Consent.INTERNAL_ONLY) -> Clip:
    return Clip.attach(
        "c1",
        item_id="i1",
        media_type="video/mp4",
        size=10,
        sha256="0" * 64,
        storage_key="k" * 32,
        consent=consent,
        actor="sec",
        now=NOW,
    )


# -- the aggregate ------------------------------------------------------------------


def test_a_clip_is_attached_with_its_consent_as_two_events() -> None:
    clip = attached(Consent.MAY_PUBLISH)
    events = clip.collect_events()
    assert [event_type_name(e) for e in events] == ["clip_attached", "clip_consent_recorded"]
    assert clip.id == "clip:c1" and clip.clip_id == "c1"
    assert clip.consent is Consent.MAY_PUBLISH and clip.has_media
    assert not hasattr(events[0], "data") and not hasattr(events[0], "bytes")


def test_the_public_may_play_only_with_consent_and_a_published_item() -> None:
    clip = attached()
    assert not clip.playable_by_public(item_published=True)
    clip.record_consent(Consent.MAY_PUBLISH, "sec", NOW)
    assert not clip.playable_by_public(item_published=False)
    assert clip.playable_by_public(item_published=True)


def test_withdrawal_is_final_and_hides_the_transcript() -> None:
    clip = attached()
    clip.add_transcript("We need more staff at night.", True, "mod", NOW)
    assert clip.transcript_published
    clip.withdraw("sec", NOW)
    assert clip.withdrawn and not clip.has_media and not clip.transcript_published
    with pytest.raises(ClipWithdrawn):
        clip.withdraw("sec", NOW)
    with pytest.raises(ClipWithdrawn):
        clip.record_consent(Consent.MAY_PUBLISH, "sec", NOW)
    with pytest.raises(ClipWithdrawn):
        clip.publish_transcript("mod", NOW)
    with pytest.raises(ClipWithdrawn):
        clip.add_summary("x", "sec", NOW)


def test_a_rewritten_transcript_needs_publishing_again() -> None:
    clip = attached()
    with pytest.raises(Conflict):
        clip.publish_transcript("mod", NOW)
    clip.add_transcript("First words", True, "mod", NOW)
    clip.add_transcript("Second words", False, "sec", NOW)
    assert clip.transcript == "Second words" and not clip.transcript_published
    version = clip.version
    clip.add_transcript("Second words", False, "sec", NOW)  # nothing new: nothing recorded
    assert clip.version == version


def test_a_clip_cannot_start_withdrawn() -> None:
    with pytest.raises(ClipWithdrawn):
        attached(Consent.WITHDRAWN)


# -- sniffing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (MP4, "video/mp4"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "audio/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x82\x88matroska", "video/x-matroska"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", "video/ogg"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", "audio/ogg"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "audio/mpeg"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"\x89PNG\r\n\x1a\n", None),
        (b"GIF89a", None),
        (b"%PDF-1.7", None),
        (b"RIFF\x00\x00\x00\x00AVI ", None),
        (b"\xff\xf1\x50\x80", None),  # AAC ADTS, layer bits 00: not MP3
        (b"\xff\xfb\xf0\x64", None),  # MP3 sync with a forbidden bitrate
        (b"hello world, this is text", None),
        (b"", None),
    ],
)
def test_the_type_comes_from_the_bytes(head: bytes, expected: str | None) -> None:
    assert sniff_media_type(head) == expected


# -- the folder store -----------------------------------------------------------------


def test_the_folder_store_commits_reads_ranges_and_shreds(tmp_path: Path) -> None:
    store = FolderClipStore(tmp_path / "clips")
    pending = store.begin()
    pending.write(b"abc")
    pending.write(b"defgh")
    assert pending.size == 8 and pending.head == b"abcdefgh"
    assert list((tmp_path / "clips" / "tmp").iterdir())  # streaming into a temporary file
    key = pending.commit()
    assert not list((tmp_path / "clips" / "tmp").iterdir())
    assert store.size(key) == 8
    assert b"".join(store.read(key)) == b"abcdefgh"
    assert b"".join(store.read(key, 2, 5)) == b"cde"
    assert store.delete(key) is True
    assert store.size(key) is None
    assert store.delete(key) is False
    assert store.delete("../../etc/passwd") is False
    assert store.size("../../etc/passwd") is None


def test_a_discarded_upload_leaves_nothing(tmp_path: Path) -> None:
    store = FolderClipStore(tmp_path / "clips")
    pending = store.begin()
    pending.write(b"secret words")
    pending.discard()
    pending.discard()
    assert [p for p in (tmp_path / "clips").rglob("*") if p.is_file()] == []


# -- the use cases ------------------------------------------------------------------


@pytest.fixture
def container() -> Iterator[Container]:
    built = build(memory=True, clock=fixed_clock(NOW))
    app = built.app
    app.create_unit(SYSTEM, "trust", "The trust", None)
    app.create_unit(SYSTEM, "cedar", "Cedar ward", "trust")
    app.create_unit(SYSTEM, "elsewhere", "Elsewhere", None)
    app.create_forum(SYSTEM, "cedar-cm", "Cedar meeting", "cedar", ForumKind.COMMUNITY_MEETING)
    yield built
    built.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "clips"


@pytest.fixture
def clips(container: Container, folder: Path) -> Clips:
    return Clips(container.app, FolderClipStore(folder), ClipQueries(container.engine), 1000)


def secretary(*scopes: str) -> Principal:
    return Principal("sec-1", "A secretary", Role.SECRETARY, frozenset(scopes or ("cedar",)))


def raise_item(container: Container) -> str:
    written = container.app.raise_item(
        SYSTEM,
        forum_id="cedar-cm",
        channel=Channel.DIARY_ROOM,
        raised_on=date(2026, 11, 20),
        title="Night staff",
        you_said="There are not enough staff at night.",
        contributor="Robin",
    )
    return written.value.item_id


def send(clips: Clips, data: bytes, item_id: str, actor: Principal | None = None) -> Clip:
    actor = actor or secretary()
    clips.item_for_upload(actor, item_id)
    upload = clips.begin_upload()
    try:
        for offset in range(0, len(data), 100):
            clips.take(upload, data[offset : offset + 100])
        return clips.attach(actor, item_id, upload, Consent.INTERNAL_ONLY).value
    finally:
        upload.discard()  # as the HTTP edge does; a no-op once committed


def files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_clip_is_stored_then_recorded(container: Container, clips: Clips, folder: Path) -> None:
    item_id = raise_item(container)
    clip = send(clips, MP4 + b"x" * 200, item_id)
    assert clip.media_type == "video/mp4" and clip.size == len(MP4) + 200
    container.runner.catch_up()
    assert [c.clip_id for c in clips.clips_of_item(secretary(), item_id)] == [clip.clip_id]
    played, size = clips.media(secretary(), clip.clip_id)
    assert size == clip.size
    assert b"".join(clips.read(played, 0, size)) == MP4 + b"x" * 200
    assert len(files(folder)) == 1


def test_too_large_and_unknown_types_store_nothing(
    container: Container, clips: Clips, folder: Path
) -> None:
    item_id = raise_item(container)
    with pytest.raises(ClipTooLarge):
        send(clips, MP4 + b"x" * 1000, item_id)
    with pytest.raises(UnsupportedClipType):
        send(clips, b"\x89PNG\r\n\x1a\n" + b"x" * 100, item_id)
    with pytest.raises(InvalidInput):
        send(clips, b"", item_id)
    assert files(folder) == []


def test_when_the_event_cannot_be_saved_the_bytes_are_removed(
    container: Container, clips: Clips, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = raise_item(container)

    def outage(*_: Any, **__: Any) -> Any:
        raise OperationalError("the database went away")

    monkeypatch.setattr(container.app, "save", outage)
    with pytest.raises(OperationalError):
        send(clips, MP4 + b"y" * 100, item_id)
    assert files(folder) == []


def test_scope_and_role_are_checked_before_any_bytes(container: Container, clips: Clips) -> None:
    item_id = raise_item(container)
    with pytest.raises(Forbidden):
        clips.item_for_upload(secretary("elsewhere"), item_id)
    moderator = Principal("mod-1", "A moderator", Role.MODERATOR, frozenset({"cedar"}))
    with pytest.raises(Forbidden):
        clips.item_for_upload(moderator, item_id)
    with pytest.raises(NotFound):
        clips.item_for_upload(secretary(), "nope")


def test_withdrawal_deletes_the_bytes_before_recording_it(
    container: Container, clips: Clips, folder: Path
) -> None:
    item_id = raise_item(container)
    clip = send(clips, MP4 + b"z" * 100, item_id)
    written = clips.record_consent(secretary(), clip.clip_id, Consent.WITHDRAWN, None)
    assert written.value.withdrawn and not written.value.has_media
    assert files(folder) == []
    with pytest.raises(NotFound):
        clips.media(secretary(), clip.clip_id)
    with pytest.raises(Conflict):
        clips.withdraw(secretary(), clip.clip_id, None)


def test_erasure_deletes_the_bytes_of_the_items_clips(
    container: Container, clips: Clips, folder: Path
) -> None:
    item_id = raise_item(container)
    send(clips, MP4 + b"a" * 100, item_id)
    send(clips, MP4 + b"b" * 100, item_id)
    container.runner.catch_up()
    with pytest.raises(Forbidden):
        clips.erase_items(secretary(), [item_id])
    assert clips.erase_items(SYSTEM, [item_id]) == 2
    assert files(folder) == []
    assert clips.erase_items(SYSTEM, [item_id]) == 0


def test_the_memory_store_keeps_bytes_off_disk() -> None:
    store = MemoryClipStore()
    pending = store.begin()
    pending.write(b"abc")
    key = pending.commit()
    assert b"".join(store.read(key, 1)) == b"bc"
    assert store.delete(key) and store.size(key) is None


def test_a_withdrawal_whose_save_fails_has_deleted_the_bytes_and_can_be_repeated(
    container: Container, clips: Clips, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = raise_item(container)
    clip = send(clips, MP4 + b"w" * 100, item_id)

    def outage(*_: Any, **__: Any) -> Any:
        raise OperationalError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(container.app, "save", outage)
        with pytest.raises(OperationalError):
            clips.withdraw(secretary(), clip.clip_id, None)
    assert files(folder) == []  # never acknowledged while the bytes exist
    assert clips.clip(secretary(), clip.clip_id).consent is Consent.INTERNAL_ONLY
    assert clips.withdraw(secretary(), clip.clip_id, None).value.withdrawn


def test_the_clips_read_model_rebuilds_to_the_same_rows(container: Container, clips: Clips) -> None:
    item_id = raise_item(container)
    kept = send(clips, MP4 + b"k" * 100, item_id)
    gone = send(clips, MP4 + b"g" * 100, item_id)
    moderator = Principal("mod-1", "A moderator", Role.MODERATOR, frozenset({"cedar"}))
    clips.add_transcript(moderator, kept.clip_id, "Words we may share", True, None)
    clips.add_transcript(moderator, gone.clip_id, "Words taken back", True, None)
    clips.withdraw(secretary(), gone.clip_id, None)
    container.app.publish(moderator, item_id, None, None)
    container.runner.catch_up()
    before = clips.public_clips(item_id)
    assert before == [
        {
            "id": kept.clip_id,
            "transcript": "Words we may share",
            "media_type": None,
            "media_url": None,
        }
    ]
    container.runner.rebuild(["clips"])
    assert clips.public_clips(item_id) == before
