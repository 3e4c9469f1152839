"""The self-assessment form: admins and managers score a unit at the eight stages."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    after_write,
    allowed,
    container_of,
    refused,
    render,
    text,
)
from yswd.adapters.http.pages.scope import flat_units, visible_tree
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError, Forbidden
from yswd.aggregates.self_assessment import LEVELS, STAGES

router = APIRouter(prefix="/staff", include_in_schema=False)

Assessor = Annotated[
    Session,
    Depends(
        allowed(
            Action.ASSESS_INVOLVEMENT, "Only managers and administrators record self-assessments."
        )
    ),
]


def assessments_page(
    request: Request,
    session: Session,
    *,
    unit_id: str,
    values: dict[str, str],
    errors: list[FieldError],
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = container_of(request)
    units = flat_units(visible_tree(container, session.principal))
    if not unit_id and len(units) == 1:
        unit_id = units[0]["id"]
    found: list[dict[str, Any]] = []
    unit_name = None
    if unit_id:
        try:
            unit = container.app.unit(unit_id)
            if not session.principal.covers(unit.path):
                raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
            found = container.self_assessments.for_unit(unit_id)
            unit_name = unit.name
        except DomainError as error:
            errors = [*errors, FieldError("unit", error.message)]
            unit_id = ""
    return render(
        request,
        "self_assessments.html",
        {
            "units": units,
            "unit_id": unit_id,
            "unit_name": unit_name,
            "assessments": found,
            "stages": STAGES,
            "levels": LEVELS,
            "values": values,
            "errors": errors,
            "notice": notice,
        },
        session,
        status_code=status_code,
    )


def form_errors(form: dict[str, str]) -> tuple[list[FieldError], date | None, dict[str, int]]:
    errors: list[FieldError] = []
    assessed_on = None
    try:
        assessed_on = date.fromisoformat(text(form, "assessed_on"))
    except ValueError:
        errors.append(
            FieldError("assessed_on", "Enter the date of the assessment, for example 2026-11-02")
        )
    scores: dict[str, int] = {}
    for number, name in STAGES.items():
        value = text(form, f"stage-{number}")
        if value not in {"1", "2", "3", "4", "5"}:
            errors.append(FieldError(f"stage-{number}", f"Choose a score for {name}"))
        else:
            scores[number] = int(value)
    if len(text(form, "notes")) > 4000:
        errors.append(FieldError("notes", "The notes must be 4000 characters or fewer"))
    if not text(form, "unit_id"):
        errors.append(FieldError("unit_id", "Choose the unit"))
    return errors, assessed_on, scores


@router.get("/self-assessments", response_class=HTMLResponse)
def self_assessments_list(
    request: Request, session: Assessor, unit: str | None = None, done: str | None = None
) -> Response:
    notice = "Self-assessment recorded." if done == "recorded" else None
    return assessments_page(
        request, session, unit_id=unit or "", values={}, errors=[], notice=notice
    )


@router.post("/self-assessments", response_class=HTMLResponse)
def record_self_assessment_page(
    request: Request, session: Assessor, form: FormData, container: ContainerDep
) -> Response:
    unit_id = text(form, "unit_id")
    errors, assessed_on, scores = form_errors(form)
    if not errors and assessed_on is not None:
        try:
            written = container.self_assessments.record(
                session.principal,
                unit_id,
                assessed_on=assessed_on,
                stages=scores,
                notes=text(form, "notes") or None,
            )
        except Forbidden as error:
            return refused(request, session, error)
        except DomainError as error:
            errors.append(FieldError("unit_id", error.message))
        else:
            after_write(container, written)
            return RedirectResponse(
                f"/staff/self-assessments?unit={quote(unit_id, safe='')}&done=recorded",
                status_code=303,
            )
    return assessments_page(
        request, session, unit_id=unit_id, values=form, errors=errors, status_code=422
    )
