"""Feedback items: raise, list, read, and every transition of the lifecycle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from yswd.adapters.http.deps import (
    ContainerDep,
    ExpectedVersion,
    IdempotencyKeyDep,
    PrincipalDep,
    item_response,
    json_response,
    keyed,
    mark_written,
    written_json,
)
from yswd.adapters.http.request_bodies import (
    CompleteIn,
    DeclineIn,
    ItemIn,
    ProgressIn,
    PublishIn,
    ReferIn,
    ReopenIn,
    RepeatOfIn,
    RespondIn,
    VerifyIn,
)
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.disclosure import ReadKind
from yswd.aggregates.erasure import ERASED
from yswd.aggregates.item import Item, Status
from yswd.aggregates.item_views import shown_to
from yswd.aggregates.plain_english import check_fields, load_glossary
from yswd.aggregates.possible_disclosure import disclosure_warnings, load_disclosure_terms
from yswd.application.unit_of_work import Written
from yswd.projections.similarity import similar_items

router = APIRouter(prefix="/api/v1/items", tags=["items"])

#: the item commands: they answer from the item itself and read no read model, so
#: they need not wait for the read models to catch up (``ReadYourWritesMiddleware``)
COMMAND_PATHS = (
    r"/api/v1/items"
    r"(/(?!bulk/)[^/]+/(publish|refer|respond|complete|decline|progress|verify|reopen))?"
)

MinPosition = Annotated[
    int | None,
    Query(ge=0, le=2**62, description="wait until read models have applied this log position"),
]


def _answer(
    container: ContainerDep,
    response: Response,
    written: Written[Item],
    public_text: Mapping[str, str | None] | None = None,
    principal: Principal | None = None,
) -> Response:
    """The item after a write; with ``public_text``, plus plain-English ``warnings`` on it.

    Encoded here (``written_json``), as ``raise_item`` does: a command's answer skips
    FastAPI's validation of a ``dict[str, Any]``, which a plain ``def`` route runs as a
    second hop to the thread pool (``response_model`` keeps the OpenAPI document)."""
    answer = _answer_body(container, response, written, public_text, principal)
    return written_json(response, answer)


def _answer_body(
    container: ContainerDep,
    response: Response,
    written: Written[Item],
    public_text: Mapping[str, str | None] | None = None,
    principal: Principal | None = None,
) -> dict[str, Any]:
    mark_written(container, response, written)
    answer = item_response(response, written.value, principal)
    if public_text is not None:
        contributor = written.value.contributor
        warnings = check_fields(
            public_text,
            contributor=contributor if contributor != ERASED else None,
            glossary=load_glossary(container.settings.glossary_file),
            today=container.today(),
        )
        answer["warnings"] = [warning.as_dict() for warning in warnings]
    return answer


@router.post("", status_code=201, response_model=dict[str, Any])
def raise_item(
    body: ItemIn,
    request: Request,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep,
) -> Response:
    """The item as raised, encoded here (``written_json``): the busiest write skips
    FastAPI's validation of a ``dict[str, Any]`` and its hop to the thread pool."""
    written = container.app.raise_item(
        principal,
        forum_id=body.forum_id,
        channel=body.channel,
        raised_on=body.raised_on,
        title=body.title,
        you_said=body.you_said,
        detail=body.detail,
        contributor=body.contributor,
        themes=list(dict.fromkeys(body.themes)),
        idempotency=keyed(key, request, body),
        safeguarding=body.safeguarding,
    )
    response.headers["Location"] = f"/api/v1/items/{written.value.item_id}"
    answer = _answer_body(container, response, written, principal=principal)
    # wording that reads like a disclosure suggests a flag; it never flags by itself
    said = {"title": body.title, "you_said": body.you_said, "detail": body.detail}
    terms = load_disclosure_terms(container.settings.disclosure_terms_file)
    warnings = disclosure_warnings(said, terms)
    if warnings:  # only then: other writes than publish and the answers carry no warnings
        answer["warnings"] = [warning.as_dict() for warning in warnings]
    return written_json(response, answer, status_code=201)


@router.get("", response_model=dict[str, Any])
def list_items(
    container: ContainerDep,
    principal: PrincipalDep,
    status: Status | None = None,
    unit_id: str | None = None,
    forum_id: str | None = None,
    referred_to: str | None = None,
    overdue: bool | None = None,
    order: Annotated[str, Query(pattern="^(newest|due)$")] = "newest",
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    min_position: MinPosition = None,
) -> Response:
    principal.require(Action.READ_ITEMS)
    container.wait_for_position(min_position)
    found = container.staff_items.list_items(
        principal,
        status=status.value if status else None,
        unit_id=unit_id,
        forum_id=forum_id,
        referred_to=referred_to,
        overdue=overdue,
        limit=limit,
        offset=offset,
        order=order,
    )
    found = [shown_to(principal, doc) for doc in found]
    identifiable = [doc["id"] for doc in found if doc.get("contributor") or doc.get("detail")]
    container.app.record_read(principal, ReadKind.ITEM_LIST, identifiable)
    return json_response({"items": found, "limit": limit, "offset": offset})


@router.get("/{item_id}")
def get_item(
    item_id: str, response: Response, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any]:
    return item_response(response, container.app.get_item(principal, item_id), principal)


@router.post("/{item_id}/publish", response_model=dict[str, Any])
def publish(
    item_id: str,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
    body: PublishIn | None = None,
) -> Response:
    """Approve the item for public boards. The body is optional: no body keeps the wording."""
    you_said = body.you_said if body is not None else None
    written = container.app.publish(principal, item_id, you_said, version)
    public = {"title": written.value.title, "you_said": written.value.you_said}
    return _answer(container, response, written, public, principal)


@router.post("/{item_id}/refer", response_model=dict[str, Any])
def refer(
    item_id: str,
    body: ReferIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    written = container.app.refer(
        principal,
        item_id,
        body.to_unit_id,
        body.due_on,
        body.note,
        version,
        to_forum_id=body.to_forum_id,
    )
    return _answer(container, response, written, principal=principal)


@router.post("/{item_id}/respond", response_model=dict[str, Any])
def respond(
    item_id: str,
    body: RespondIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    written = container.app.respond(principal, item_id, body.response, version)
    return _answer(container, response, written, {"response": body.response}, principal)


@router.post("/{item_id}/complete", response_model=dict[str, Any])
def complete(
    item_id: str,
    body: CompleteIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    written = container.app.complete(principal, item_id, body.we_did, version)
    return _answer(container, response, written, {"we_did": body.we_did}, principal)


@router.post("/{item_id}/decline", response_model=dict[str, Any])
def decline(
    item_id: str,
    body: DeclineIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    written = container.app.decline(principal, item_id, body.because, body.instead, version)
    public = {"because": body.because, "instead": body.instead}
    return _answer(container, response, written, public, principal)


@router.post("/{item_id}/progress", response_model=dict[str, Any])
def progress(
    item_id: str,
    body: ProgressIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    written = container.app.note_progress(principal, item_id, body.note, version, body.kind)
    return _answer(container, response, written, principal=principal)


@router.post("/{item_id}/verify", response_model=dict[str, Any])
def verify(
    item_id: str,
    body: VerifyIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    written = container.app.verify(principal, item_id, body.confirmed, body.note, version)
    return _answer(container, response, written, principal=principal)


@router.post("/{item_id}/reopen", response_model=dict[str, Any])
def reopen(
    item_id: str,
    body: ReopenIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    written = container.app.reopen(principal, item_id, body.reason, version)
    return _answer(container, response, written, principal=principal)


@router.get("/{item_id}/similar")
def similar(item_id: str, container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Open or recent items of the same unit that read like this one, best match first."""
    item = container.app.get_item(principal, item_id)
    candidates = similar_items(
        container.engine, container.staff_items, principal, item, container.today()
    )
    return {"item_id": item.item_id, "candidates": candidates}


@router.post("/{item_id}/repeat-of", response_model=dict[str, Any])
def repeat_of(
    item_id: str,
    body: RepeatOfIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    version: ExpectedVersion,
) -> Response:
    """Link this item as a repeat of an earlier one (the same issue raised again)."""
    written = container.app.link_repeat(principal, item_id, body.item_id, version)
    return _answer(container, response, written, principal=principal)
