"""A manager's inbox: the open items of their units, overdue first."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.pages.common import allowed, render
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError
from yswd.aggregates.item import Status

router = APIRouter(prefix="/staff", include_in_schema=False)

CLOSED_STATUSES = frozenset({Status.DONE.value, Status.COULDNT_DO.value})

Reader = Annotated[Session, Depends(allowed(Action.READ_ITEMS, "Your role cannot read items."))]


def open_items(container: Container, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items not yet closed, each with the date it needs an answer by (its due date,
    or the target from raising), how many days late an overdue one is, and the name of
    its unit."""
    days = timedelta(days=container.app.target_days)
    today = container.today()
    shown = [doc for doc in docs if doc["status"] not in CLOSED_STATUSES]
    for doc in shown:
        target = (date.fromisoformat(doc["raised_on"]) + days).isoformat()
        doc["answer_due"] = doc.get("due_on") or target
        late = (today - date.fromisoformat(doc["answer_due"])).days
        doc["days_late"] = late if doc.get("overdue") and late > 0 else 0
        unit_id = doc.get("referred_to") or doc["unit_id"]
        try:
            doc["unit_name"] = container.app.unit(unit_id).name
        except DomainError:
            doc["unit_name"] = unit_id
    return shown


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, session: Reader, container: ContainerDep) -> Response:
    docs = open_items(container, container.staff_items.list_items(session.principal, order="due"))
    # overdue first, then by due date (the order list_items already gives)
    docs.sort(key=lambda doc: not doc["overdue"])
    return render(request, "inbox.html", {"items": docs}, session)
