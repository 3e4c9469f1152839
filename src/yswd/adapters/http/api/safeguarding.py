"""Safe to speak: safeguarding flags and their queue, and the break-glass reveal.

A flagged item leaves every ordinary answer at once (the domain refuses reads by
anyone but safeguarding leads, auditors and admins; read models leave it out of
public answers) and waits in the queue of the safeguarding leads of its units.
Managers and moderators never see who raised an item; a manager with a written
reason may reveal it, and the reveal is recorded for auditors and advocates.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from yswd.adapters.http.answers import Answer, ItemOut
from yswd.adapters.http.deps import (
    ContainerDep,
    ExpectedVersion,
    PrincipalDep,
    StaffWrite,
    StaffWriteDep,
    item_response,
)
from yswd.adapters.http.request_bodies import Body, LongText, RevealReason
from yswd.aggregates.access import Action
from yswd.aggregates.errors import Forbidden
from yswd.aggregates.item import Item
from yswd.application.unit_of_work import Written

router = APIRouter(prefix="/api/v1", tags=["safeguarding"])


class FlagIn(Body):
    reason: LongText  # type: ignore[valid-type]


class AcknowledgeIn(Body):
    note: LongText  # type: ignore[valid-type]


class CloseIn(Body):
    outcome: LongText  # type: ignore[valid-type]
    return_to_workflow: bool


class RevealIn(Body):
    """Why the manager must know who raised the item: auditors and the advocate read it."""

    reason: RevealReason  # type: ignore[valid-type]


class SafeguardingOut(Answer):
    flagged_at: str
    ack_due_at: str
    acknowledged_at: str | None
    closed_at: str | None
    outcome: str | None


class FlaggedItemOut(ItemOut):
    safeguarding: SafeguardingOut | None = None
    ack_overdue: bool | None = None


class QueueOut(Answer):
    items: list[FlaggedItemOut]


class RevealedOut(Answer):
    contributor: str


class RevealOut(Answer):
    item_id: str
    user_id: str
    reason: str
    at: str


class RevealsOut(Answer):
    reveals: list[RevealOut]


def _documented(model: type[Answer]) -> dict[int | str, dict[str, Any]]:
    """Document the answer's schema without filtering the answer through it."""
    return {200: {"model": model}}


def _flagged(staff: StaffWrite, written: Written[Item]) -> dict[str, Any]:
    """The item as the caller may see it, with its safeguarding flag."""
    return item_response(staff.response, staff.saved(written), staff.principal)


#: every command on a flag answers with the item and its flag
FLAG_COMMAND: dict[str, Any] = {"response_model": None, "responses": _documented(FlaggedItemOut)}


@router.post("/items/{item_id}/safeguarding", **FLAG_COMMAND)
def flag_safeguarding(
    item_id: str, body: FlagIn, staff: StaffWriteDep, version: ExpectedVersion
) -> dict[str, Any]:
    """Flag a possible safeguarding concern: the item leaves every ordinary answer."""
    written = staff.app.flag_safeguarding(staff.principal, item_id, body.reason, version)
    return _flagged(staff, written)


@router.post("/items/{item_id}/safeguarding/acknowledge", **FLAG_COMMAND)
def acknowledge_safeguarding(
    item_id: str, body: AcknowledgeIn, staff: StaffWriteDep, version: ExpectedVersion
) -> dict[str, Any]:
    """A safeguarding lead has picked the concern up (the acknowledgement clock stops)."""
    written = staff.app.acknowledge_safeguarding(staff.principal, item_id, body.note, version)
    return _flagged(staff, written)


@router.post("/items/{item_id}/safeguarding/close", **FLAG_COMMAND)
def close_safeguarding(
    item_id: str, body: CloseIn, staff: StaffWriteDep, version: ExpectedVersion
) -> dict[str, Any]:
    """Close the flag: back to the workflow as it was, or restricted for good."""
    written = staff.app.close_safeguarding(
        staff.principal, item_id, body.outcome, body.return_to_workflow, version
    )
    return _flagged(staff, written)


@router.get("/safeguarding", response_model=None, responses=_documented(QueueOut))
def safeguarding_queue(container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Open flags in the caller's scope, oldest first, each with ``ack_overdue``.

    The queue lists ids from the read model and reads each item from the event
    store, so what it shows is the flag as stored.
    """
    if not (principal.may(Action.WORK_SAFEGUARDING) or principal.may(Action.READ_SAFEGUARDING)):
        raise Forbidden(f"A {principal.role.value} may not read the safeguarding queue.")
    now = container.clock()
    found = []
    for item_id in container.staff_items.safeguarding_queue(principal):
        item = container.app.get_item(principal, item_id)  # audited, as any read
        if not item.safeguarding_open:
            continue
        view = item_response(Response(), item, principal)
        view["ack_overdue"] = item.ack_overdue(now)
        found.append(view)
    return {"items": found}


@router.post("/items/{item_id}/reveal", response_model=None, responses=_documented(RevealedOut))
def reveal_contributor(item_id: str, body: RevealIn, staff: StaffWriteDep) -> dict[str, Any]:
    """Break glass: who raised the item, for a manager with a written reason (recorded)."""
    written = staff.app.reveal_contributor(staff.principal, item_id, body.reason)
    return {"contributor": staff.saved(written)}


@router.get("/audit/reveals", response_model=None, responses=_documented(RevealsOut))
def list_reveals(
    container: ContainerDep, principal: PrincipalDep, unit_id: str | None = None
) -> dict[str, Any]:
    """Every reveal of a contributor in the caller's scope: who, which item, why, when."""
    principal.require(Action.READ_REVEALS)
    if unit_id is not None:
        container.app.unit_in_scope(principal, unit_id)
    return {"reveals": container.staff_items.reveals(principal, unit_id)}
