"""Diary-room clips: upload (multipart), play, consent, transcripts; and the public view.

The upload is parsed as it streams in: the file part goes straight into the
clip store's temporary file, counted against ``YSWD_MAX_CLIP_BYTES`` (413), and
its type is sniffed from its first bytes (415). Nothing is read before the
caller's role and scope have been checked.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import StrictBool
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from yswd.adapters.clips import PendingClip
from yswd.adapters.http.deps import ContainerDep, ExpectedVersion, PrincipalDep, mark_written
from yswd.adapters.http.schemas import Body, LongText, text
from yswd.adapters.http.templating import templates
from yswd.aggregates.clip import Clip, Consent
from yswd.aggregates.errors import InvalidInput, NotFound
from yswd.application.clips import (
    TRANSCRIPT_MAX,
    Clips,
    ClipTooLarge,
    UnsupportedClipType,
    clip_view,
)
from yswd.application.service import Written
from yswd.application.views import item_view, public_view
from yswd.bootstrap import Container

router = APIRouter(tags=["clips"])

#: the upload routes (API and staff page), for the body-size middleware's per-route limit
UPLOAD_PATH_PATTERN = r"(/api/v1|/staff)/items/[^/]+/clips"
#: room for the multipart framing and the small fields around the file
MULTIPART_OVERHEAD = 64 * 1024
FIELD_MAX = 1024
MAX_FIELDS = 10

Transcript = text(TRANSCRIPT_MAX)

UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "consent": {
                            "type": "string",
                            "enum": [Consent.INTERNAL_ONLY.value, Consent.MAY_PUBLISH.value],
                            "default": Consent.INTERNAL_ONLY.value,
                        },
                    },
                }
            }
        },
    }
}


class ConsentIn(Body):
    consent: Consent


class TranscriptIn(Body):
    text: Transcript  # type: ignore[valid-type]
    publish: StrictBool = False


class SummaryIn(Body):
    text: LongText  # type: ignore[valid-type]


def clips_service(container: Container) -> Clips:
    if container.clips is None:
        raise NotFound("Clips are not available in this service.")
    return container.clips


def _clip_answer(
    container: Container, response: Response, written: Written[Clip]
) -> dict[str, Any]:
    mark_written(container, response, written)
    response.headers["ETag"] = f'"{written.value.version}"'
    return clip_view(written.value)


def _problem(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


# -- the multipart upload ---------------------------------------------------------------


class ClipForm:
    """A streaming multipart parser that sends the ``file`` part to a pending clip."""

    def __init__(self, service: Clips, upload: PendingClip, boundary: bytes) -> None:
        self.service = service
        self.upload = upload
        self.fields: dict[str, str] = {}
        self.files = 0
        self._name = ""
        self._is_file = False
        self._field = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._ended = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_cb,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_end": self._end,
            },
        )

    def write(self, chunk: bytes) -> None:
        self._parser.write(chunk)

    def finish(self) -> None:
        self._parser.finalize()
        if not self._ended:
            raise InvalidInput("The multipart body ended early.")

    def _part_begin(self) -> None:
        self._name = ""
        self._is_file = False
        self._field = bytearray()
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_cb(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise InvalidInput("Every form part needs a name.")
        self._name = name.decode("utf-8", "replace")
        self._is_file = self._name == "file"
        if self._is_file:
            self.files += 1
            if self.files > 1:
                raise InvalidInput("Send one file per upload.")
        elif len(self.fields) >= MAX_FIELDS:
            raise InvalidInput("Too many form fields.")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.service.take(self.upload, data[start:end])
            return
        self._field += data[start:end]
        if len(self._field) > FIELD_MAX:
            raise InvalidInput(f"The form field '{self._name[:40]}' is too long.")

    def _part_end(self) -> None:
        if not self._is_file:
            self.fields[self._name] = self._field.decode("utf-8", "replace").strip()

    def _end(self) -> None:
        self._ended = True


def _boundary(request: Request) -> bytes | None:
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    return boundary if boundary and len(boundary) <= 200 else None


def _consent(fields: dict[str, str]) -> Consent:
    raw = fields.get("consent") or Consent.INTERNAL_ONLY.value
    if raw not in (Consent.INTERNAL_ONLY.value, Consent.MAY_PUBLISH.value):
        raise InvalidInput("consent must be 'internal_only' or 'may_publish'.")
    return Consent(raw)


@router.post(
    "/api/v1/items/{item_id}/clips",
    status_code=201,
    openapi_extra=UPLOAD_OPENAPI,
    response_model=None,
)
async def upload_clip(
    item_id: str, request: Request, container: ContainerDep, principal: PrincipalDep
) -> JSONResponse:
    """Attach a recording to an item: multipart field ``file``, and ``consent``."""
    service = clips_service(container)
    await run_in_threadpool(service.item_for_upload, principal, item_id)  # 403/404 first
    boundary = _boundary(request)
    if boundary is None:
        return _problem(415, "Send the recording as multipart/form-data, in the field 'file'.")
    upload = await run_in_threadpool(service.begin_upload)
    try:
        form = ClipForm(service, upload, boundary)
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(form.write, chunk)
        form.finish()
        if form.files == 0:
            raise InvalidInput("Send the recording in the form field 'file'.")
        consent = _consent(form.fields)
        written = await run_in_threadpool(service.attach, principal, item_id, upload, consent)
    except ClipTooLarge as error:
        return _problem(413, error.message, Connection="close")
    except UnsupportedClipType as error:
        return _problem(415, error.message)
    except MultipartParseError:
        return _problem(422, "The multipart body could not be read.")
    finally:
        upload.discard()  # a no-op once the clip was committed
    response = Response()
    await run_in_threadpool(mark_written, container, response, written)
    clip = written.value
    headers = dict(response.headers)
    headers.pop("content-length", None)
    headers["Location"] = f"/api/v1/clips/{clip.clip_id}"
    headers["ETag"] = f'"{clip.version}"'
    return JSONResponse(clip_view(clip), status_code=201, headers=headers)


# -- staff reads and changes ---------------------------------------------------------------


@router.get("/api/v1/items/{item_id}/clips")
def list_clips(item_id: str, container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    clips = clips_service(container).clips_of_item(principal, item_id)
    return {"item_id": item_id, "clips": [clip_view(clip) for clip in clips]}


@router.get("/api/v1/clips/{clip_id}")
def get_clip(
    clip_id: str, response: Response, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any]:
    clip = clips_service(container).clip(principal, clip_id)
    response.headers["ETag"] = f'"{clip.version}"'
    return clip_view(clip)


@router.post("/api/v1/clips/{clip_id}/consent")
def record_consent(
    clip_id: str,
    body: ConsentIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> dict[str, Any]:
    """Change consent. ``withdrawn`` deletes the recording's bytes, and is final."""
    written = clips_service(container).record_consent(principal, clip_id, body.consent, version)
    return _clip_answer(container, response, written)


@router.post("/api/v1/clips/{clip_id}/transcript")
def add_transcript(
    clip_id: str,
    body: TranscriptIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> dict[str, Any]:
    """Write the transcript; ``publish: true`` (moderators) makes it public."""
    written = clips_service(container).add_transcript(
        principal, clip_id, body.text, body.publish, version
    )
    return _clip_answer(container, response, written)


@router.post("/api/v1/clips/{clip_id}/transcript/publish")
def publish_transcript(
    clip_id: str,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> dict[str, Any]:
    written = clips_service(container).publish_transcript(principal, clip_id, version)
    return _clip_answer(container, response, written)


@router.post("/api/v1/clips/{clip_id}/summary")
def add_summary(
    clip_id: str,
    body: SummaryIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> dict[str, Any]:
    written = clips_service(container).add_summary(principal, clip_id, body.text, version)
    return _clip_answer(container, response, written)


# -- playing ---------------------------------------------------------------------------------

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (start, end-exclusive) of a single ``Range: bytes=`` request, or None for all.

    Raises ``ValueError`` when the range cannot be satisfied (416). Several
    ranges, or a malformed header, are answered with the whole body.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last[:18])
        if length == 0:
            raise ValueError("empty suffix range")
        return max(0, size - length), size
    start = int(first[:18])
    end = min(int(last[:18]) + 1, size) if last else size
    if start >= size or end <= start:
        raise ValueError("range not satisfiable")
    return start, end


def _media_response(service: Clips, clip: Clip, size: int, request: Request) -> Response:
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": "inline",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    try:
        wanted = byte_range(request.headers.get("range"), size)
    except ValueError:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size)
    headers["Content-Length"] = str(end - start)
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        iter(service.read(clip, start, end)),
        status_code=status,
        media_type=clip.media_type,
        headers=headers,
    )


@router.get("/api/v1/clips/{clip_id}/media")
def play_clip(
    clip_id: str, request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    service = clips_service(container)
    clip, size = service.media(principal, clip_id)
    return _media_response(service, clip, size, request)


# -- the public ------------------------------------------------------------------------------


@router.get("/public/api/v1/items/{item_id}/clips")
def public_clips(item_id: str, container: ContainerDep) -> dict[str, Any]:
    """Published transcripts (and media where consent allows) of a published item."""
    return {"item_id": item_id, "clips": clips_service(container).public_clips(item_id)}


@router.get("/public/clips/{clip_id}/media")
def public_media(clip_id: str, request: Request, container: ContainerDep) -> Response:
    service = clips_service(container)
    clip, size = service.public_media(clip_id)
    response = _media_response(service, clip, size, request)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/public/items/{item_id}/clips", response_class=HTMLResponse)
def public_clips_page(
    item_id: str,
    request: Request,
    container: ContainerDep,
    min_position: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    """A published item with its published transcripts: the diary room, in words."""
    container.wait_for_position(min_position)
    service = clips_service(container)
    try:
        clips = service.public_clips(item_id)
        item = public_view(item_view(container.app._load_item(item_id)))
    except NotFound:
        return templates().TemplateResponse(
            request,
            "clips/not_found.html",
            {},
            status_code=404,
        )
    return templates().TemplateResponse(request, "clips/item.html", {"item": item, "clips": clips})
