"""Safe to speak, on the staff pages: flag a concern, the lead's queue, and the reveal.

A flag takes the item out of the flagger's sight too, so its form ends on a page
that says where the item went. The reveal shows the name once, on the item page,
after saying who will see that it was revealed.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    StaffSession,
    after_write,
    allowed,
    refused,
    render,
    text,
)
from yswd.adapters.http.pages.item_page import item_page
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError, Forbidden, InvalidInput
from yswd.aggregates.item_views import item_view, shown_to
from yswd.application.items import MIN_REVEAL_REASON

router = APIRouter(prefix="/staff", include_in_schema=False)

Lead = Annotated[
    Session,
    Depends(allowed(Action.READ_SAFEGUARDING, "Only safeguarding leads can see this queue.")),
]


@router.get("/safeguarding", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session: Lead,
    container: ContainerDep,
    done: str | None = None,
) -> Response:
    """Open flags in the lead's units, oldest first, with the acknowledgement clock."""
    return _queue(request, session, container, notice=_NOTICES.get(done or ""))


_NOTICES = {
    "acknowledged": "Acknowledged. The acknowledgement clock has stopped.",
    "closed": "Closed. The concern has left the queue.",
}


def _queue(
    request: Request,
    session: Session,
    container: ContainerDep,
    *,
    notice: str | None = None,
    errors: list[FieldError] | None = None,
    failed_item: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal = session.principal
    now = container.clock()
    entries: list[dict[str, Any]] = []
    for item_id in container.staff_items.safeguarding_queue(principal):
        item = container.app.get_item(principal, item_id)
        if not item.safeguarding_open:
            continue
        view = shown_to(principal, item_view(item))
        view["ack_overdue"] = item.ack_overdue(now)
        view["unit_name"] = container.app.unit(item.unit_id).name
        entries.append(view)
    return render(
        request,
        "safeguarding.html",
        {
            "entries": entries,
            "overdue_count": sum(1 for entry in entries if entry["ack_overdue"]),
            "may_work": principal.may(Action.WORK_SAFEGUARDING),
            "notice": notice,
            "errors": errors or [],
            "failed_item": failed_item,
            "values": values or {},
        },
        session,
        status_code=status_code,
    )


@router.post("/items/{item_id}/safeguarding/{step}", response_class=HTMLResponse)
def work_flag(
    request: Request,
    item_id: str,
    step: str,
    session: StaffSession,
    form: FormData,
    container: ContainerDep,
) -> Response:
    """Acknowledge or close a flag from the queue page."""
    principal = session.principal
    if step not in ("acknowledge", "close"):
        return refused(request, session, InvalidInput("There is no such form."))
    errors: list[FieldError] = []
    try:
        if step == "acknowledge":
            note = text(form, "note")
            if not note:
                errors.append(FieldError(f"ack-{item_id}-note", "Enter what you have done"))
            else:
                written = container.app.acknowledge_safeguarding(principal, item_id, note, None)
        else:
            outcome = text(form, "outcome")
            back = text(form, "return_to_workflow")
            if not outcome:
                errors.append(FieldError(f"close-{item_id}-outcome", "Enter the outcome"))
            if back not in ("yes", "no"):
                errors.append(
                    FieldError(
                        f"close-{item_id}-return",
                        "Choose whether the item goes back to the ordinary workflow",
                    )
                )
            if not errors:
                written = container.app.close_safeguarding(
                    principal, item_id, outcome, back == "yes", None
                )
    except Forbidden as error:
        return refused(request, session, error)
    except DomainError as error:
        errors.append(FieldError(f"{step}-{item_id}-error", error.message))
    if errors:
        return _queue(
            request,
            session,
            container,
            errors=errors,
            failed_item=item_id,
            values=form,
            status_code=422,
        )
    after_write(container, written)
    done = "acknowledged" if step == "acknowledge" else "closed"
    return RedirectResponse(f"/staff/safeguarding?done={done}", status_code=303)


@router.post("/items/{item_id}/safeguarding", response_class=HTMLResponse)
def flag_page(
    request: Request,
    item_id: str,
    session: StaffSession,
    form: FormData,
    container: ContainerDep,
) -> Response:
    """Flag a concern from the item page; the item then leaves the flagger's lists."""
    principal = session.principal
    try:
        item = container.app.get_item(principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    reason = text(form, "reason")
    if not reason:
        errors = [FieldError("safeguarding-reason", "Enter why this may be a safeguarding concern")]
        return item_page(
            request,
            session,
            item,
            errors=errors,
            failed_form="safeguarding",
            values=form,
            status_code=422,
        )
    try:
        written = container.app.flag_safeguarding(principal, item_id, reason, None)
    except Forbidden as error:
        return refused(request, session, error)
    except DomainError as error:
        errors = [FieldError("safeguarding-error", error.message)]
        return item_page(
            request,
            session,
            item,
            errors=errors,
            failed_form="safeguarding",
            values=form,
            status_code=409,
        )
    after_write(container, written)
    return render(
        request,
        "safeguarding_flagged.html",
        {
            "title": item.title,
            "ack_due_at": written.value.safeguarding["ack_due_at"]
            if written.value.safeguarding
            else None,
        },
        session,
    )


@router.post("/items/{item_id}/reveal", response_class=HTMLResponse)
def reveal_page(
    request: Request,
    item_id: str,
    session: StaffSession,
    form: FormData,
    container: ContainerDep,
) -> Response:
    """Break glass: show the manager the name, once, and record that they saw it."""
    principal = session.principal
    try:
        item = container.app.get_item(principal, item_id)
    except DomainError as error:
        return refused(request, session, error)
    reason = text(form, "reason")
    if len(reason) < MIN_REVEAL_REASON:
        message = (
            f"Enter a reason of at least {MIN_REVEAL_REASON} characters: "
            "auditors and the advocate will read it"
        )
        return item_page(
            request,
            session,
            item,
            errors=[FieldError("reveal-reason", message)],
            failed_form="reveal",
            values=form,
            status_code=422,
        )
    try:
        written = container.app.reveal_contributor(principal, item_id, reason)
    except Forbidden as error:
        return refused(request, session, error)
    except DomainError as error:
        return item_page(
            request,
            session,
            item,
            errors=[FieldError("reveal-error", error.message)],
            failed_form="reveal",
            values=form,
            status_code=409,
        )
    after_write(container, written)
    item = container.app.get_item(principal, item_id)
    return item_page(request, session, item, revealed=written.value, notice="Revealed.")


def queue_link(item_id: str) -> str:
    return f"/staff/safeguarding#flag-{quote(item_id, safe='')}"
