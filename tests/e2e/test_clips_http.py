"""Diary-room clips over HTTP: upload, play, consent, transcripts and what the public sees."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.adapters.http.app import create_app
from yswd.bootstrap import Container, build
from yswd.settings import Settings

MAX_CLIP = 256 * 1024
XSS = "<script>alert(1)</script>"
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def recording(marker: bytes, size: int = 40_000, head: bytes = MP4_HEAD) -> bytes:
    """Bytes that sniff as ``head``'s type, full of a pattern nothing else contains."""
    body = (marker * (size // len(marker) + 1))[: size - len(head)]
    return head + body


def new_marker() -> bytes:
    return b"DIARY-" + os.urandom(12).hex().encode() + b"-ROOM"


@pytest.fixture
def world(data_dir: Path) -> Iterator[tuple[Api, Container]]:
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN, max_clip_bytes=MAX_CLIP))
    with TestClient(create_app(container)) as client:
        api = Api(client)
        api.organisation()
        yield api, container
    container.close()


@pytest.fixture
def api(world: tuple[Api, Container]) -> Api:
    return world[0]


def upload(
    api: Api,
    item_id: str,
    data: bytes,
    token: str | None = None,
    *,
    consent: str | None = "internal_only",
    filename: str = "diary.mp4",
    content_type: str = "video/mp4",
) -> Any:
    headers = {"Authorization": f"Bearer {token or ADMIN_TOKEN}"}
    form = {"consent": consent} if consent is not None else {}
    return api.client.post(
        f"/api/v1/items/{item_id}/clips",
        files={"file": (filename, data, content_type)},
        data=form,
        headers=headers,
    )


def stored_files(data_dir: Path) -> list[Path]:
    clips = data_dir / "clips"
    return [path for path in clips.rglob("*") if path.is_file()] if clips.exists() else []


def files_containing(folder: Path, pattern: bytes) -> list[Path]:
    """Every file under ``folder`` whose bytes contain ``pattern``."""
    return [p for p in folder.rglob("*") if p.is_file() and pattern in p.read_bytes()]


# -- uploading and playing ------------------------------------------------------------


def test_a_secretary_attaches_a_clip_and_staff_play_it(api: Api, data_dir: Path) -> None:
    item = api.raise_item(channel="diary_room")
    secretary = api.user("secretary", "cedar")
    data = recording(new_marker())
    answer = upload(api, item["id"], data, secretary, content_type="application/octet-stream")
    assert answer.status_code == 201, answer.text
    clip = answer.json()
    assert clip["item_id"] == item["id"]
    assert clip["media_type"] == "video/mp4"  # sniffed, not the declared type
    assert clip["size"] == len(data)
    assert clip["consent"] == "internal_only"
    assert clip["has_media"] is True
    assert answer.headers["Location"] == f"/api/v1/clips/{clip['id']}"
    assert clip["sha256"] == hashlib.sha256(data).hexdigest()

    listed = api.get(f"/api/v1/items/{item['id']}/clips", secretary).json()["clips"]
    assert [entry["id"] for entry in listed] == [clip["id"]]

    manager = api.user("manager", "meadowbank")
    played = api.get(f"/api/v1/clips/{clip['id']}/media", manager)
    assert played.status_code == 200
    assert played.content == data
    assert played.headers["content-type"] == "video/mp4"
    assert played.headers["content-disposition"] == "inline"
    assert played.headers["x-content-type-options"] == "nosniff"
    assert played.headers["accept-ranges"] == "bytes"

    part = api.client.get(
        f"/api/v1/clips/{clip['id']}/media",
        headers={"Authorization": f"Bearer {manager}", "Range": "bytes=100-199"},
    )
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = api.client.get(
        f"/api/v1/clips/{clip['id']}/media",
        headers={"Authorization": f"Bearer {manager}", "Range": "bytes=-10"},
    )
    assert tail.status_code == 206 and tail.content == data[-10:]
    beyond = api.client.get(
        f"/api/v1/clips/{clip['id']}/media",
        headers={"Authorization": f"Bearer {manager}", "Range": f"bytes={len(data)}-"},
    )
    assert beyond.status_code == 416
    # the bytes live in the clip store, once, and no temporary copy is left behind
    assert len(files_containing(data_dir, data[-64:])) == 1
    assert not list((data_dir / "clips" / "tmp").iterdir())


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A isom", "audio/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87", "video/webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", "audio/ogg"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00\x00\x00\x00", "audio/mpeg"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", "audio/wav"),
    ],
)
def test_common_audio_and_video_formats_are_recognised(
    api: Api, head: bytes, media_type: str
) -> None:
    item = api.raise_item()
    answer = upload(api, item["id"], recording(b"abc", 2000, head), content_type="text/plain")
    assert answer.status_code == 201, answer.text
    assert answer.json()["media_type"] == media_type


def test_an_oversized_clip_is_413_and_nothing_is_kept(api: Api, data_dir: Path) -> None:
    item = api.raise_item()
    just_over = recording(b"big", MAX_CLIP + 1)
    answer = upload(api, item["id"], just_over)
    assert answer.status_code == 413, answer.text
    assert "detail" in answer.json()
    far_over = recording(b"big", MAX_CLIP * 4)  # refused from Content-Length alone
    assert upload(api, item["id"], far_over).status_code == 413
    assert api.get(f"/api/v1/items/{item['id']}/clips").json()["clips"] == []
    assert stored_files(data_dir) == []
    at_limit = upload(api, item["id"], recording(b"ok", MAX_CLIP))
    assert at_limit.status_code == 201, at_limit.text


def test_the_json_body_limit_still_holds_elsewhere(api: Api) -> None:
    item = api.raise_item()
    answer = api.post(f"/api/v1/items/{item['id']}/progress", {"note": "x" * 70_000})
    assert answer.status_code == 413


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (PNG_HEAD + b"\x00" * 2000, "diary.mp4", "video/mp4"),
        (b"This is not a video, just a text file.\n" * 50, "diary.mp4", "video/mp4"),
        (b"<html><script>alert(1)</script></html>", "diary.webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3 an EBML file of no known kind" * 10, "x.mkv", "video/x-matroska"),
        (b"RIFF\x24\x08\x00\x00AVI LIST" + b"\x00" * 100, "x.wav", "audio/wav"),
    ],
)
def test_a_wrong_type_is_415_whatever_it_is_called(
    api: Api, data_dir: Path, data: bytes, filename: str, content_type: str
) -> None:
    item = api.raise_item()
    answer = upload(api, item["id"], data, filename=filename, content_type=content_type)
    assert answer.status_code == 415, answer.text
    assert "detail" in answer.json()
    assert api.get(f"/api/v1/items/{item['id']}/clips").json()["clips"] == []
    assert stored_files(data_dir) == []


def test_malformed_uploads_are_refused(api: Api, data_dir: Path) -> None:
    item = api.raise_item()
    path = f"/api/v1/items/{item['id']}/clips"
    not_a_form = api.client.post(path, content=recording(b"x"), headers=api.admin)
    assert not_a_form.status_code == 415
    no_file = api.client.post(path, data={"consent": "internal_only"}, headers=api.admin)
    assert no_file.status_code in (415, 422)  # urlencoded without a file, or a form without one
    no_file_multipart = api.client.post(
        path, files={"other": ("a.txt", b"hello", "text/plain")}, headers=api.admin
    )
    assert no_file_multipart.status_code == 422
    empty = upload(api, item["id"], b"")
    assert empty.status_code == 422
    bad_consent = upload(api, item["id"], recording(b"x"), consent="everyone")
    assert bad_consent.status_code == 422
    withdrawn = upload(api, item["id"], recording(b"x"), consent="withdrawn")
    assert withdrawn.status_code == 422
    broken = api.client.post(
        path,
        content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\n' + MP4_HEAD,
        headers={**api.admin, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert broken.status_code == 422
    assert api.get(f"/api/v1/items/{item['id']}/clips").json()["clips"] == []
    assert stored_files(data_dir) == []


def test_who_may_attach_and_play(api: Api) -> None:
    item = api.raise_item()
    clip = upload(api, item["id"], recording(b"x")).json()
    data = recording(b"y")
    assert api.client.post(f"/api/v1/items/{item['id']}/clips").status_code == 401
    for token in (
        api.user("manager", "elsewhere"),
        api.user("secretary", "willow"),
        api.user("moderator", "cedar"),  # moderators publish; they do not attach
        api.user("auditor"),  # auditors write nothing
    ):
        assert upload(api, item["id"], data, token).status_code == 403
    outsider = api.user("manager", "elsewhere")
    assert api.get(f"/api/v1/clips/{clip['id']}/media", outsider).status_code == 403
    assert api.get(f"/api/v1/clips/{clip['id']}", outsider).status_code == 403
    assert api.get(f"/api/v1/items/{item['id']}/clips", outsider).status_code == 403
    consent = api.post(f"/api/v1/clips/{clip['id']}/consent", {"consent": "withdrawn"}, outsider)
    assert consent.status_code == 403
    assert api.client.get(f"/api/v1/clips/{clip['id']}/media").status_code == 401
    assert upload(api, "no-such-item", data).status_code == 404
    assert api.get("/api/v1/clips/no-such-clip/media").status_code == 404
    assert api.get(f"/api/v1/items/{item['id']}/clips").json()["clips"][0]["id"] == clip["id"]
    assert len(api.get(f"/api/v1/items/{item['id']}/clips").json()["clips"]) == 1


# -- consent ---------------------------------------------------------------------------


def test_after_withdrawal_the_bytes_are_gone_from_the_data_folder(api: Api, data_dir: Path) -> None:
    item = api.raise_item(channel="diary_room")
    marker = new_marker()
    clip = upload(api, item["id"], recording(marker), consent="may_publish").json()
    api.post(f"/api/v1/items/{item['id']}/publish", {})
    assert api.client.get(f"/public/clips/{clip['id']}/media").status_code == 200
    assert files_containing(data_dir, marker)  # the scan finds them while they exist

    secretary = api.user("secretary", "cedar")
    answer = api.post(f"/api/v1/clips/{clip['id']}/consent", {"consent": "withdrawn"}, secretary)
    assert answer.status_code == 200, answer.text
    assert answer.json()["consent"] == "withdrawn"
    assert answer.json()["has_media"] is False
    assert answer.json()["media_url"] is None

    assert files_containing(data_dir, marker) == []
    assert api.get(f"/api/v1/clips/{clip['id']}/media").status_code == 404
    assert api.client.get(f"/public/clips/{clip['id']}/media").status_code == 404
    public = api.client.get(f"/public/api/v1/items/{item['id']}/clips").json()
    assert public["clips"] == []
    # withdrawal is final
    for consent in ("may_publish", "internal_only", "withdrawn"):
        again = api.post(f"/api/v1/clips/{clip['id']}/consent", {"consent": consent})
        assert again.status_code == 409
    assert api.post(f"/api/v1/clips/{clip['id']}/transcript", {"text": "x"}).status_code == 409
    history = api.get(f"/api/v1/clips/{clip['id']}").json()
    assert history["consent"] == "withdrawn"


def test_consent_changes_are_recorded_and_if_match_guards_them(api: Api) -> None:
    item = api.raise_item()
    clip = upload(api, item["id"], recording(b"x")).json()
    path = f"/api/v1/clips/{clip['id']}/consent"
    stale = api.post(path, {"consent": "may_publish"}, None, **{"If-Match": "1"})
    assert stale.status_code == 409
    moved = api.post(path, {"consent": "may_publish"}, None, **{"If-Match": str(clip["version"])})
    assert moved.status_code == 200
    assert moved.json()["consent"] == "may_publish"
    assert moved.json()["version"] == clip["version"] + 1
    assert api.post(path, {"consent": "nobody"}).status_code == 422


# -- transcripts and the public ----------------------------------------------------------------


def test_the_public_sees_only_a_published_transcript(api: Api) -> None:
    item = api.raise_item(channel="diary_room", contributor="Alex Private")
    clip = upload(api, item["id"], recording(b"x")).json()
    path = f"/public/api/v1/items/{item['id']}/clips"
    assert api.client.get(path).status_code == 404  # the item is not published

    secretary = api.user("secretary", "cedar")
    written = api.post(
        f"/api/v1/clips/{clip['id']}/transcript", {"text": "The garden is locked."}, secretary
    )
    assert written.status_code == 200, written.text
    assert written.json()["transcript_published"] is False
    refused = api.post(
        f"/api/v1/clips/{clip['id']}/transcript",
        {"text": "The garden is locked.", "publish": True},
        secretary,
    )
    assert refused.status_code == 403  # only a moderator approves public wording
    summary = api.post(f"/api/v1/clips/{clip['id']}/summary", {"text": "Garden access"}, secretary)
    assert summary.json()["summary"] == "Garden access"

    moderator = api.user("moderator", "cedar")
    api.post(f"/api/v1/items/{item['id']}/publish", {}, moderator)
    assert api.client.get(path).json()["clips"] == []  # transcript not approved yet

    published = api.post(f"/api/v1/clips/{clip['id']}/transcript/publish", None, moderator)
    assert published.status_code == 200, published.text
    clips = api.client.get(path).json()["clips"]
    assert clips == [
        {
            "id": clip["id"],
            "transcript": "The garden is locked.",
            "media_type": None,
            "media_url": None,
        }
    ]
    # internal-only media stays internal, even on a published item
    assert api.client.get(f"/public/clips/{clip['id']}/media").status_code == 404
    page = api.client.get(f"/public/items/{item['id']}/clips")
    assert page.status_code == 200
    assert "The garden is locked." in page.text
    assert "Alex Private" not in page.text and "Garden access" not in page.text
    assert "<audio" not in page.text and "<video" not in page.text

    # a rewritten transcript goes back to the moderator before the public sees it
    api.post(f"/api/v1/clips/{clip['id']}/transcript", {"text": "New words"}, secretary)
    assert api.client.get(path).json()["clips"] == []


def test_media_is_public_only_with_consent_and_a_published_item(api: Api) -> None:
    item = api.raise_item(channel="diary_room")
    data = recording(new_marker())
    clip = upload(api, item["id"], data, consent="may_publish").json()
    media = f"/public/clips/{clip['id']}/media"
    assert api.client.get(media).status_code == 404  # item not published yet
    api.post(f"/api/v1/items/{item['id']}/publish", {})
    played = api.client.get(media)
    assert played.status_code == 200 and played.content == data
    assert played.headers["x-content-type-options"] == "nosniff"
    assert played.headers["cache-control"] == "no-store"
    listed = api.client.get(f"/public/api/v1/items/{item['id']}/clips").json()["clips"]
    assert listed == [
        {"id": clip["id"], "transcript": None, "media_type": "video/mp4", "media_url": media}
    ]
    assert "<video" in api.client.get(f"/public/items/{item['id']}/clips").text
    api.post(f"/api/v1/clips/{clip['id']}/consent", {"consent": "internal_only"})
    assert api.client.get(media).status_code == 404
    assert api.client.get("/public/clips/nothing-here/media").status_code == 404


def test_xss_in_a_transcript_is_escaped_on_the_page_and_inert_in_json(api: Api) -> None:
    item = api.raise_item(channel="diary_room")
    clip = upload(api, item["id"], recording(b"x")).json()
    api.post(f"/api/v1/items/{item['id']}/publish", {})
    payload = f'Better food {XSS} <img src=x onerror=alert(2)> "quoted"'
    answer = api.post(f"/api/v1/clips/{clip['id']}/transcript", {"text": payload, "publish": True})
    assert answer.status_code == 200, answer.text
    page = api.client.get(f"/public/items/{item['id']}/clips")
    assert page.status_code == 200
    assert XSS not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    public = api.client.get(f"/public/api/v1/items/{item['id']}/clips")
    assert public.headers["content-type"].startswith("application/json")
    assert public.json()["clips"][0]["transcript"] == payload
    feed = api.client.get("/public/boards/cedar/feed.atom")
    assert feed.status_code == 200 and XSS not in feed.text
    board = api.client.get("/public/boards/cedar")
    assert XSS not in board.text


def test_unknown_public_pages_are_404(api: Api) -> None:
    assert api.client.get("/public/items/nothing/clips").status_code == 404
    assert api.client.get("/public/api/v1/items/nothing/clips").status_code == 404


# -- erasure -----------------------------------------------------------------------------


def test_erasing_a_contributor_deletes_their_clips_bytes(api: Api, data_dir: Path) -> None:
    theirs = api.raise_item(channel="diary_room", contributor="Sam Speaker")
    other = api.raise_item(channel="diary_room", contributor="Someone Else")
    marker, kept = new_marker(), new_marker()
    clip = upload(api, theirs["id"], recording(marker)).json()
    upload(api, other["id"], recording(kept))
    forgotten = api.post("/api/v1/contributors/forget", {"contributor": "Sam Speaker"})
    assert forgotten.status_code == 200, forgotten.text
    assert files_containing(data_dir, marker) == []
    assert files_containing(data_dir, kept)
    shown = api.get(f"/api/v1/clips/{clip['id']}").json()
    assert shown["has_media"] is False
    assert api.get(f"/api/v1/clips/{clip['id']}/media").status_code == 404
