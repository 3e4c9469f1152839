"""Gap boxes: the staff API, the public JSON API and the public no-JavaScript pages.

The pages name the ward the box belongs to and lead back to its board; their
wording follows the box's dates as they stand today (open until, opens on,
ran from … to …).
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import StrictBool

from yswd.adapters.container import Container
from yswd.adapters.http.deps import (
    ContainerDep,
    IdempotencyKeyDep,
    PrincipalDep,
    encoded_json,
    keyed,
    mark_written,
    written_json,
)
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.etags import conditional
from yswd.adapters.http.labels import PUBLIC_STATUS_LABELS
from yswd.adapters.http.language import gettext
from yswd.adapters.http.request_bodies import Body, IsoDate, LongText, Slug, text
from yswd.adapters.http.templating import templates, uk_date
from yswd.aggregates.errors import DomainError, InvalidInput, NotFound, RateLimited
from yswd.aggregates.gap_box import GapBox, GapBoxClosed
from yswd.application.gap_boxes import SUGGESTION_MAX, GapBoxes

router = APIRouter(tags=["gap boxes"])

CSRF_COOKIE = "yswd_gap_box_csrf"
CSRF_FIELD = "csrf_token"
CSRF_PATH = "/public/gap-boxes"
#: a suggestion reads no read model, so it need not wait for them (``ReadYourWritesMiddleware``)
SUGGESTION_PATHS = r"/public/api/v1/gap-boxes/[^/]+/suggestions"

Question = text(1000)


class GapBoxIn(Body):
    id: Slug  # type: ignore[valid-type]
    unit_id: Slug  # type: ignore[valid-type]
    forum_id: Slug  # type: ignore[valid-type]
    question: Question  # type: ignore[valid-type]
    opens_on: IsoDate
    closes_on: IsoDate


class SuggestionIn(Body):
    suggestion: LongText  # type: ignore[valid-type]
    #: "I am worried about my safety or someone else's": flagged for safeguarding
    worried: StrictBool = False


def gap_boxes(request: Request) -> GapBoxes:
    """The process's one GapBoxes service (with its rate limiter), from the container."""
    container: Container = request.app.state.container
    return container.gap_boxes


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def box_view(box: GapBox, today: date) -> dict[str, Any]:
    return {
        "id": box.box_id,
        "unit_id": box.unit_id,
        "forum_id": box.forum_id,
        "question": box.question,
        "opens_on": box.opens_on.isoformat(),
        "closes_on": box.closes_on.isoformat(),
        "open": box.is_open(today),
        "created_at": box.created_on.isoformat(),
    }


def public_box_view(box: GapBox, today: date) -> dict[str, Any]:
    return {
        "id": box.box_id,
        "question": box.question,
        "open": box.is_open(today),
        "opens_on": box.opens_on.isoformat(),
        "closes_on": box.closes_on.isoformat(),
    }


# -- staff API ------------------------------------------------------------------


@router.post("/api/v1/gap-boxes", status_code=201)
def create_gap_box(
    body: GapBoxIn,
    request: Request,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    service = gap_boxes(request)
    written = service.create_box(
        principal,
        box_id=body.id,
        unit_id=body.unit_id,
        forum_id=body.forum_id,
        question=body.question,
        opens_on=body.opens_on,
        closes_on=body.closes_on,
        idempotency=keyed(key, request, body),
    )
    mark_written(container, response, written)
    return box_view(written.value, service.today())


# -- public JSON API ----------------------------------------------------------------


@router.get("/public/api/v1/gap-boxes/{box_id}")
def get_public_gap_box(box_id: str, request: Request) -> dict[str, Any]:
    service = gap_boxes(request)
    return public_box_view(service.opened(box_id), service.today())


@router.post(
    "/public/api/v1/gap-boxes/{box_id}/suggestions",
    status_code=201,
    response_model=dict[str, Any],
)
def suggest(
    box_id: str, body: SuggestionIn, request: Request, response: Response, container: ContainerDep
) -> Response:
    # encoded here (``written_json``): a burst of suggestions skips FastAPI's validation
    # of a ``dict[str, Any]``, a second hop to the thread pool for a plain ``def`` route
    written = gap_boxes(request).suggest(
        box_id, body.suggestion, client_address(request), worried=body.worried
    )
    mark_written(container, response, written)
    answer = {
        "received": True,
        "id": written.value.item_id,
        "gap_box_id": box_id,
        "message": "Thank you. A moderator will read your suggestion.",
    }
    return written_json(response, answer, status_code=201)


# -- public page --------------------------------------------------------------------


def _long_date(day: date) -> str:
    return uk_date(day)  # in the page's language


def _when(box: GapBox, today: date) -> dict[str, Any]:
    """Where the box stands today, for the wording: open, not open yet, or closed."""
    state = "open" if box.is_open(today) else ("soon" if today < box.opens_on else "closed")
    return {
        "state": state,
        "is_open": state == "open",
        "not_yet_open": state == "soon",
        "opens_on": _long_date(box.opens_on),
        "closes_on": _long_date(box.closes_on),
    }


def _place(service: GapBoxes, box: GapBox) -> dict[str, Any]:
    """The ward (or other unit) the box belongs to, and the units above it, for the trail."""
    try:
        unit = service.app.unit(box.unit_id)
    except NotFound:  # a box always names a unit; kept safe for a damaged store
        return {"unit": None, "trail": []}
    trail = [{"id": part, "name": service.app.unit(part).name} for part in unit.path[:-1]]
    return {"unit": {"id": unit.unit_id, "name": unit.name}, "trail": trail}


def _csrf_token(request: Request) -> str:
    """The browser's current token, or a new one."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if 32 <= len(token) <= 128 and token.replace("-", "").replace("_", "").isalnum():
        return token
    return secrets.token_urlsafe(32)


def _box_page(
    request: Request,
    service: GapBoxes,
    box: GapBox,
    *,
    status_code: int = 200,
    errors: list[dict[str, str]] | None = None,
    suggestion: str = "",
    worried: bool = False,
) -> HTMLResponse:
    token = _csrf_token(request)
    page = templates().TemplateResponse(
        request,
        "gap_boxes/box.html",
        {
            "box": box,
            **_when(box, service.today()),
            **_place(service, box),
            "csrf_token": token,
            "errors": errors or [],
            "suggestion": suggestion,
            "worried": worried,
            "max_length": SUGGESTION_MAX,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
    page.set_cookie(
        CSRF_COOKIE,
        token,
        path=CSRF_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return page


def _problem_page(
    request: Request,
    status_code: int,
    heading: str,
    message: str,
    *,
    back_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return templates().TemplateResponse(
        request,
        "gap_boxes/problem.html",
        {"heading": heading, "message": message, "back_to": back_to},
        status_code=status_code,
        headers=headers,
    )


def _not_found_page(request: Request) -> HTMLResponse:
    return _problem_page(
        request, 404, gettext("Page not found"), gettext("There is no gap box at this address.")
    )


@router.get("/public/gap-boxes/{box_id}", response_class=HTMLResponse)
def gap_box_page(box_id: str, request: Request) -> HTMLResponse:
    service = gap_boxes(request)
    try:
        box = service.box(box_id)
    except NotFound:
        return _not_found_page(request)
    return _box_page(request, service, box)


@router.post("/public/gap-boxes/{box_id}", response_class=HTMLResponse)
def gap_box_form(
    box_id: str,
    request: Request,
    container: ContainerDep,
    suggestion: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    worried: Annotated[str, Form()] = "",
) -> HTMLResponse:
    service = gap_boxes(request)
    back_to = f"/public/gap-boxes/{box_id}"
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if (
        not cookie
        or not csrf_token
        or not secrets.compare_digest(cookie.encode(), csrf_token.encode())
    ):
        return _problem_page(
            request,
            403,
            gettext("Your suggestion was not sent"),
            gettext(
                "The form had expired or was sent from another site. Please open the gap box "
                "page again and send your suggestion from there."
            ),
            back_to=back_to,
        )
    try:
        box = service.box(box_id)
    except NotFound:
        return _not_found_page(request)
    try:
        written = service.suggest(
            box_id, suggestion, client_address(request), worried=bool(worried)
        )
    except InvalidInput as error:
        return _box_page(
            request,
            service,
            box,
            status_code=422,
            errors=[{"field": "suggestion", "message": error.message}],
            suggestion=suggestion,
            worried=bool(worried),
        )
    except GapBoxClosed:
        return _box_page(request, service, box, status_code=409)
    except RateLimited as error:
        return _problem_page(
            request,
            429,
            gettext("Please wait before sending another suggestion"),
            gettext(
                "We have had a lot of suggestions from your address. Please try again in "
                "%(seconds)s seconds."
            )
            % {"seconds": error.retry_after},
            back_to=back_to,
            headers={"Retry-After": str(error.retry_after)},
        )
    except DomainError as error:
        heading = gettext("Something went wrong")
        return _problem_page(request, status_for(error), heading, error.message)
    container.after_write(written.position)
    return templates().TemplateResponse(
        request,
        "gap_boxes/thanks.html",
        {
            "box": box,
            "suggestion": suggestion.strip(),
            "worried": bool(worried),
            **_place(service, box),
        },
        headers={"Cache-Control": "no-store"},
    )


# -- results: what was said in the box, and what was done ---------------------------------


@router.get("/public/api/v1/gap-boxes/{box_id}/results", response_model=dict[str, Any])
def get_public_results(box_id: str, request: Request, container: ContainerDep) -> Response:
    service = container.gap_boxes
    box = service.opened(box_id)  # 404 for no box; its question and dates never change
    today = service.today()

    def answer() -> bytes:
        _, items = service.results(box_id)
        return orjson.dumps({**public_box_view(box, today), "items": items})

    # kept, encoded, until an item raised where the box's forum is changes: anyone may
    # ask, and a box of thousands of published suggestions is thousands of rows to read
    unit_id = container.app.forum(box.forum_id).unit_id
    key = ("gap-box-results", box_id, today)
    body = container.runner.answers.get(key, answer, unit_id=unit_id)
    return conditional(request, encoded_json(body))


@router.get("/public/gap-boxes/{box_id}/results", response_class=HTMLResponse)
def results_page(box_id: str, request: Request) -> HTMLResponse:
    service = gap_boxes(request)
    try:
        box, items = service.results(box_id)
    except NotFound:
        return _not_found_page(request)
    return templates().TemplateResponse(
        request,
        "gap_boxes/results.html",
        {
            "box": box,
            "items": items,
            "status_labels": PUBLIC_STATUS_LABELS,
            **_when(box, service.today()),
            **_place(service, box),
        },
    )
