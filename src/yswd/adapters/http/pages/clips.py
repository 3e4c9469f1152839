"""Diary-room clips on the item page: upload, consent, transcript, and playing them back
with the session cookie (the API's routes take a Bearer token)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from python_multipart.exceptions import MultipartParseError

from yswd.adapters.http.clip_streams import ClipForm, media_response, multipart_boundary
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    ShowInstead,
    SignedIn,
    StaffSession,
    after_write,
    container_of,
    form_expired,
    refused,
    text,
)
from yswd.adapters.http.pages.item_page import FRIENDLY_CONFLICT, item_page
from yswd.adapters.http.sessions import Session, csrf_ok
from yswd.aggregates.access import Action
from yswd.aggregates.clip import Clip, Consent
from yswd.aggregates.errors import DomainError, Forbidden, NotFound, VersionConflict
from yswd.application.clips import Clips, ClipTooLarge, UnsupportedClipType
from yswd.application.unit_of_work import Written

router = APIRouter(prefix="/staff", include_in_schema=False)


def clips_of(request: Request, session: Session) -> Clips:
    """The clip service, or (where the service has none) the refusal page."""
    service = container_of(request).clips
    if service is None:
        raise ShowInstead(
            refused(request, session, NotFound("Clips are not available in this service."))
        )
    return service


def clip_of(request: Request, session: Session, clip_id: str) -> tuple[Clips, Clip]:
    """The service and the clip a clip form is about; else the refusal page."""
    service = clips_of(request, session)
    try:
        return service, service.clip(session.principal, clip_id)
    except DomainError as error:
        raise ShowInstead(refused(request, session, error)) from None


def clip_problem(
    request: Request, session: Session, item_id: str, error: DomainError | str, status: int = 422
) -> Response:
    """The item page again with the clip error at the top, or the refusal page."""
    container = container_of(request)
    message = error if isinstance(error, str) else error.message
    if isinstance(error, ClipTooLarge):
        status = 413
    elif isinstance(error, UnsupportedClipType):
        status = 415
    elif isinstance(error, DomainError):
        status = status_for(error)
        if status in (403, 404):
            return refused(request, session, error)
    try:
        item = container.app.get_item(session.principal, item_id)
    except DomainError as refusal:
        return refused(request, session, refusal)
    if status == 409 and isinstance(error, VersionConflict):
        message = FRIENDLY_CONFLICT
    page = item_page(
        request,
        session,
        item,
        errors=[FieldError("clips-error", message)],
        failed_form="clips",
        status_code=status,
    )
    if status == 413:
        page.headers["Connection"] = "close"  # the rest of the upload was not read
    return page


def back_to_clips(item_id: str) -> RedirectResponse:
    return RedirectResponse(
        f"/staff/items/{quote(item_id, safe='')}?done=Clip#clips-heading", status_code=303
    )


def clip_written(
    request: Request, session: Session, item_id: str, change: Callable[[], Written[Any]]
) -> Response:
    try:
        written = change()
    except DomainError as error:
        return clip_problem(request, session, item_id, error)
    after_write(container_of(request), written)
    return back_to_clips(item_id)


def form_version(form: dict[str, str]) -> int | None:
    raw = text(form, "version")
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


@router.post("/items/{item_id}/clips", response_class=HTMLResponse)
async def upload_clip_page(request: Request, item_id: str, session: SignedIn) -> Response:
    """The upload form: streamed into the clip store like the API's upload.

    Role and scope are checked before any bytes are read; the CSRF field is
    checked after the body is read and before the clip is saved.
    """
    service = clips_of(request, session)
    try:
        await run_in_threadpool(service.item_for_upload, session.principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    boundary = multipart_boundary(request)
    if boundary is None:
        return clip_problem(request, session, item_id, "Choose a recording to upload.", 415)
    upload = await run_in_threadpool(service.begin_upload)
    try:
        form = ClipForm(service, upload, boundary)
        async for chunk in request.stream():
            if chunk:
                await run_in_threadpool(form.write, chunk)
        form.finish()
        if not csrf_ok(session, form.fields.get("csrf_token")):
            return form_expired(request, session)
        if form.files == 0 or upload.size == 0:
            return clip_problem(request, session, item_id, "Choose a recording to upload.")
        consent = form.fields.get("consent") or Consent.INTERNAL_ONLY.value
        if consent not in (Consent.INTERNAL_ONLY.value, Consent.MAY_PUBLISH.value):
            return clip_problem(request, session, item_id, "Choose what the speaker agreed to.")
        written = await run_in_threadpool(
            service.attach, session.principal, item_id, upload, Consent(consent)
        )
    except MultipartParseError:
        return clip_problem(request, session, item_id, "The upload could not be read.")
    except DomainError as error:
        return clip_problem(request, session, item_id, error)
    finally:
        upload.discard()  # a no-op once the clip was committed
    await run_in_threadpool(after_write, container_of(request), written)
    return back_to_clips(item_id)


@router.post("/clips/{clip_id}/consent", response_class=HTMLResponse)
def clip_consent_page(
    request: Request, clip_id: str, session: StaffSession, form: FormData
) -> Response:
    service, clip = clip_of(request, session, clip_id)
    if not session.principal.may(Action.ATTACH_CLIPS):
        return refused(request, session, Forbidden("Your role cannot change consent."))
    level = text(form, "consent")
    if level not in {c.value for c in Consent}:
        return clip_problem(request, session, clip.item_id, "Choose the consent from the list.")
    if level == Consent.WITHDRAWN.value and text(form, "confirm") != "yes":
        return clip_problem(
            request,
            session,
            clip.item_id,
            "Tick the box to confirm: withdrawing deletes the recording for good.",
        )
    version = form_version(form)
    return clip_written(
        request,
        session,
        clip.item_id,
        lambda: service.record_consent(session.principal, clip_id, Consent(level), version),
    )


@router.post("/clips/{clip_id}/transcript", response_class=HTMLResponse)
def clip_transcript_page(
    request: Request, clip_id: str, session: StaffSession, form: FormData
) -> Response:
    service, clip = clip_of(request, session, clip_id)
    principal = session.principal
    version = form_version(form)
    if text(form, "intent") == "publish":
        return clip_written(
            request,
            session,
            clip.item_id,
            lambda: service.publish_transcript(principal, clip_id, version),
        )
    transcript = text(form, "transcript")
    if not transcript:
        return clip_problem(request, session, clip.item_id, "Enter the transcript.")
    publish = text(form, "publish") == "yes"
    return clip_written(
        request,
        session,
        clip.item_id,
        lambda: service.add_transcript(principal, clip_id, transcript, publish, version),
    )


@router.get("/clips/{clip_id}/media")
def clip_media_page(request: Request, clip_id: str, session: StaffSession) -> Response:
    """Plays a clip for the signed-in staff member (the API route takes a Bearer token)."""
    service = clips_of(request, session)
    try:
        clip, size = service.media(session.principal, clip_id)
    except DomainError as error:
        return refused(request, session, error)
    return media_response(service, clip, size, request)
