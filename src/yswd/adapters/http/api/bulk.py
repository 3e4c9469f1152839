"""Bulk publish and bulk refer. All or nothing: see ``yswd.application.bulk``.

A batch where every item can be changed answers 200 with each item's result
(``status: 200``); it was saved in one transaction. If any item would be
refused (403 out of scope, 404 unknown, 409 transition not allowed, 422 bad
value) the answer is 409 with every item's result and nothing is changed.
More than 200 ids, or none, is 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from yswd.adapters.http.deps import POSITION_HEADER, ContainerDep, PrincipalDep
from yswd.adapters.http.request_bodies import Body, IsoDate, LongText, Slug
from yswd.application.bulk import MAX_BULK_ITEMS, BulkRefused, BulkResult

router = APIRouter(prefix="/api/v1/items/bulk", tags=["items"])

ItemId = Annotated[str, StringConstraints(min_length=1, max_length=300)]


class BulkPublishIn(Body):
    item_ids: list[ItemId] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class BulkReferIn(Body):
    item_ids: list[ItemId] = Field(min_length=1, max_length=MAX_BULK_ITEMS)
    to_unit_id: Slug  # type: ignore[valid-type]
    due_on: IsoDate | None = None
    note: LongText | None = None  # type: ignore[valid-type]


def _answer(container: ContainerDep, response: Response, outcome: BulkResult) -> dict[str, Any]:
    if outcome.position is not None:
        response.headers[POSITION_HEADER] = str(outcome.position)
        container.after_write(outcome.position)
    return {"changed": outcome.position is not None, "results": outcome.results}


def _refused(refusal: BulkRefused) -> JSONResponse:
    return JSONResponse(
        {"detail": refusal.message, "changed": False, "results": refusal.results},
        status_code=409,
    )


@router.post("/publish", response_model=None)
def bulk_publish(
    body: BulkPublishIn, response: Response, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any] | JSONResponse:
    """Publish many items (moderators, in scope), with their current wording."""
    try:
        outcome = container.bulk.publish(principal, body.item_ids)
    except BulkRefused as refusal:
        return _refused(refusal)
    return _answer(container, response, outcome)


@router.post("/refer", response_model=None)
def bulk_refer(
    body: BulkReferIn, response: Response, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any] | JSONResponse:
    """Refer many items to one unit (managers, in scope), with one due date and note."""
    try:
        outcome = container.bulk.refer(
            principal, body.item_ids, body.to_unit_id, body.due_on, body.note
        )
    except BulkRefused as refusal:
        return _refused(refusal)
    return _answer(container, response, outcome)
