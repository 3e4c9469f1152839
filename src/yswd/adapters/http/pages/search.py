"""Staff search: find any item in scope, closed ones included, by words in its title or
wording, its status, its unit and when it was raised.

It asks the staff items read model (scope, status and unit are its own filters), then
narrows by words and dates. Nobody can search by contributor: that field is never read.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.pages.common import (
    FieldError,
    allowed,
    date_text,
    parse_date,
    render,
)
from yswd.adapters.http.pages.item_history import Names
from yswd.adapters.http.pages.scope import flat_units, visible_tree
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.item import Status

router = APIRouter(prefix="/staff", include_in_schema=False)

Reader = Annotated[Session, Depends(allowed(Action.READ_ITEMS, "Your role cannot read items."))]

#: the most items one search shows (the read model is asked for this many)
SEARCH_LIMIT = 200
CLOSED = frozenset({Status.DONE.value, Status.COULDNT_DO.value})


def query_date(params: dict[str, str], key: str) -> tuple[str, date | None]:
    """The date a GET form sent for ``key`` (day, month, year boxes, or one ISO field)."""
    raw = date_text(params, key)
    return raw, parse_date(raw) if raw else None


def matches(doc: dict[str, Any], words: list[str]) -> bool:
    """Every word is in the title or the public wording (any case)."""
    haystack = f"{doc.get('title', '')} {doc.get('you_said', '')}".casefold()
    return all(word in haystack for word in words)


def shown(container: Container, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item with its unit's name and, while open, the date it needs an answer by."""
    names = Names(container)
    days = timedelta(days=container.app.target_days)
    for doc in docs:
        doc["unit_name"] = names.unit(doc.get("referred_to") or doc["unit_id"])
        if doc["status"] in CLOSED:
            doc["answer_due"] = None
            doc["closed_on"] = (doc.get("closed_at") or "")[:10] or None
        else:
            doc["answer_due"] = (
                doc.get("due_on") or (date.fromisoformat(doc["raised_on"]) + days).isoformat()
            )
        doc["days_late"] = 0
    return docs


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, session: Reader, container: ContainerDep) -> Response:
    params = dict(request.query_params)
    words = [word.casefold() for word in params.get("q", "").split() if word]
    status = params.get("status", "")
    unit_id = params.get("unit_id", "")
    from_raw, raised_from = query_date(params, "from")
    to_raw, raised_to = query_date(params, "to")
    errors: list[FieldError] = []
    statuses = [status.value for status in Status]
    if status and status not in statuses:
        errors.append(FieldError("status", "Choose a status from the list"))
    units = flat_units(visible_tree(container, session.principal))
    if unit_id and unit_id not in {unit["id"] for unit in units}:
        errors.append(FieldError("unit_id", "Choose a unit from the list"))
    if from_raw and raised_from is None:
        errors.append(FieldError("from", "Raised from must be a real date, for example 1 12 2026"))
    if to_raw and raised_to is None:
        errors.append(FieldError("to", "Raised up to must be a real date, for example 31 12 2026"))
    searched = any(params.get(key) for key in ("q", "status", "unit_id")) or bool(
        from_raw or to_raw
    )
    results: list[dict[str, Any]] = []
    if searched and not errors:
        docs = container.staff_items.list_items(
            session.principal,
            status=status or None,
            unit_id=unit_id or None,
            limit=SEARCH_LIMIT,
        )
        docs = [doc for doc in docs if matches(doc, words)]
        if raised_from:
            docs = [doc for doc in docs if doc["raised_on"] >= raised_from.isoformat()]
        if raised_to:
            docs = [doc for doc in docs if doc["raised_on"] <= raised_to.isoformat()]
        results = shown(container, docs)
    return render(
        request,
        "search.html",
        {
            "q": params.get("q", ""),
            "status": status,
            "unit_id": unit_id,
            "from_text": raised_from.isoformat() if raised_from else from_raw,
            "to_text": raised_to.isoformat() if raised_to else to_raw,
            "statuses": statuses,
            "units": units,
            "searched": searched,
            "results": results,
            "limit": SEARCH_LIMIT,
            "errors": errors,
        },
        session,
        status_code=422 if errors else 200,
    )
