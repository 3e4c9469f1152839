"""Diary-room clips: upload (multipart), play, consent, transcripts; and the public view.

The upload is parsed as it streams in: the file part goes straight into the
clip store's temporary file, counted against ``YSWD_MAX_CLIP_BYTES`` (413), and
its type is sniffed from its first bytes (415). Nothing is read before the
caller's role and scope have been checked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import StrictBool
from python_multipart.exceptions import MultipartParseError

from yswd.adapters.container import Container
from yswd.adapters.http.clip_streams import ClipForm, media_response, multipart_boundary
from yswd.adapters.http.deps import (
    ContainerDep,
    ExpectedVersion,
    PrincipalDep,
    StaffWrite,
    StaffWriteDep,
    mark_written,
)
from yswd.adapters.http.request_bodies import Body, LongText, text
from yswd.adapters.http.templating import templates
from yswd.aggregates.clip import Clip, Consent
from yswd.aggregates.errors import InvalidInput, NotFound
from yswd.aggregates.item_views import item_view, public_view
from yswd.application.clips import (
    TRANSCRIPT_MAX,
    Clips,
    ClipTooLarge,
    UnsupportedClipType,
    clip_view,
)
from yswd.application.unit_of_work import Written

router = APIRouter(tags=["clips"])

#: the upload routes (API and staff page), for the body-size middleware's per-route limit
UPLOAD_PATH_PATTERN = r"(/api/v1|/staff)/items/[^/]+/clips"
#: room for the multipart framing and the small fields around the file
MULTIPART_OVERHEAD = 64 * 1024

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


def _clip_answer(staff: StaffWrite, written: Written[Clip]) -> dict[str, Any]:
    """The clip as written, with its version as ETag (for If-Match)."""
    clip = staff.saved(written)
    staff.response.headers["ETag"] = f'"{clip.version}"'
    return clip_view(clip)


def _problem(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


# -- the multipart upload ---------------------------------------------------------------


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
    boundary = multipart_boundary(request)
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
    clip_id: str, body: ConsentIn, staff: StaffWriteDep, version: ExpectedVersion
) -> dict[str, Any]:
    """Change consent. ``withdrawn`` deletes the recording's bytes, and is final."""
    clips = clips_service(staff.container)
    written = clips.record_consent(staff.principal, clip_id, body.consent, version)
    return _clip_answer(staff, written)


@router.post("/api/v1/clips/{clip_id}/transcript")
def add_transcript(
    clip_id: str, body: TranscriptIn, staff: StaffWriteDep, version: ExpectedVersion
) -> dict[str, Any]:
    """Write the transcript; ``publish: true`` (moderators) makes it public."""
    clips = clips_service(staff.container)
    written = clips.add_transcript(staff.principal, clip_id, body.text, body.publish, version)
    return _clip_answer(staff, written)


@router.post("/api/v1/clips/{clip_id}/transcript/publish")
def publish_transcript(
    clip_id: str, staff: StaffWriteDep, version: ExpectedVersion
) -> dict[str, Any]:
    """Make the transcript public (moderators), as it was written."""
    written = clips_service(staff.container).publish_transcript(staff.principal, clip_id, version)
    return _clip_answer(staff, written)


@router.post("/api/v1/clips/{clip_id}/summary")
def add_summary(
    clip_id: str, body: SummaryIn, staff: StaffWriteDep, version: ExpectedVersion
) -> dict[str, Any]:
    """A short summary of what the recording says."""
    clips = clips_service(staff.container)
    written = clips.add_summary(staff.principal, clip_id, body.text, version)
    return _clip_answer(staff, written)


# -- playing ---------------------------------------------------------------------------------


@router.get("/api/v1/clips/{clip_id}/media")
def play_clip(
    clip_id: str, request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    service = clips_service(container)
    clip, size = service.media(principal, clip_id)
    return media_response(service, clip, size, request)


# -- the public ------------------------------------------------------------------------------


@router.get("/public/api/v1/items/{item_id}/clips")
def public_clips(item_id: str, container: ContainerDep) -> dict[str, Any]:
    """Published transcripts (and media where consent allows) of a published item."""
    return {"item_id": item_id, "clips": clips_service(container).public_clips(item_id)}


@router.get("/public/clips/{clip_id}/media")
def public_media(clip_id: str, request: Request, container: ContainerDep) -> Response:
    service = clips_service(container)
    clip, size = service.public_media(clip_id)
    response = media_response(service, clip, size, request)
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
        item = public_view(item_view(container.app.load_item(item_id)))
    except NotFound:
        return templates().TemplateResponse(
            request,
            "clips/not_found.html",
            {},
            status_code=404,
        )
    return templates().TemplateResponse(request, "clips/item.html", {"item": item, "clips": clips})
