"""Response templates: a unit's standard wording, kept by its managers and admins, that
the item forms can start from."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.pages.common import (
    FieldError,
    FormData,
    after_write,
    allowed,
    check_name,
    check_slug,
    container_of,
    refused,
    render,
    text,
)
from yswd.adapters.http.pages.scope import flat_units, visible_tree
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError, Forbidden
from yswd.aggregates.response_template import TemplateKind

router = APIRouter(prefix="/staff", include_in_schema=False)

TemplateKeeper = Annotated[
    Session,
    Depends(allowed(Action.MANAGE_TEMPLATES, "Only managers and administrators manage templates.")),
]

TEMPLATE_KIND_LABELS = {
    TemplateKind.RESPONSE: "Response",
    TemplateKind.WE_DID: "We did",
    TemplateKind.BECAUSE: "Because (could not do)",
}


def templates_page(
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
            found = container.templates.for_unit(
                session.principal, unit_id, include_archived=True
            )
            unit_name = container.app.unit(unit_id).name
        except DomainError as error:
            errors = [*errors, FieldError("unit", error.message)]
            unit_id = ""
    return render(
        request,
        "templates.html",
        {
            "units": units,
            "unit_id": unit_id,
            "unit_name": unit_name,
            "templates": found,
            "kinds": [(kind.value, label) for kind, label in TEMPLATE_KIND_LABELS.items()],
            "kind_label": lambda value: TEMPLATE_KIND_LABELS.get(TemplateKind(value), value),
            "values": values,
            "errors": errors,
            "notice": notice,
        },
        session,
        status_code=status_code,
    )


def template_errors(
    unit_id: str, template_id: str, title: str, body: str, kind: str
) -> list[FieldError]:
    errors: list[FieldError] = []
    check_slug(errors, "template_id", template_id, "template")
    check_name(errors, "title", title, "title")
    if not body:
        errors.append(FieldError("text", "Enter the template's wording"))
    elif len(body) > 4000:
        errors.append(FieldError("text", "The wording must be 4000 characters or fewer"))
    if kind not in {k.value for k in TemplateKind}:
        errors.append(FieldError("kind", "Choose which form the template is for"))
    if not unit_id:
        errors.append(FieldError("unit_id", "Choose the unit"))
    return errors


@router.get("/templates", response_class=HTMLResponse)
def templates_list(
    request: Request, session: TemplateKeeper, unit: str | None = None, done: str | None = None
) -> Response:
    notice = {"added": "Template added.", "archived": "Template archived."}.get(done or "")
    return templates_page(
        request, session, unit_id=unit or "", values={"kind": "response"}, errors=[], notice=notice
    )


@router.post("/templates", response_class=HTMLResponse)
def add_template_page(
    request: Request, session: TemplateKeeper, form: FormData, container: ContainerDep
) -> Response:
    unit_id = text(form, "unit_id")
    template_id, title, body = text(form, "template_id"), text(form, "title"), text(form, "text")
    kind = text(form, "kind")
    errors = template_errors(unit_id, template_id, title, body, kind)
    if not errors:
        try:
            written = container.templates.add(
                session.principal,
                unit_id,
                template_id,
                title=title,
                text=body,
                kind=TemplateKind(kind),
            )
        except Forbidden as error:
            return refused(request, session, error)
        except DomainError as error:
            field = "template_id" if status_for(error) == 409 else "unit_id"
            errors.append(FieldError(field, error.message))
        else:
            after_write(container, written)
            return RedirectResponse(
                f"/staff/templates?unit={quote(unit_id, safe='')}&done=added", status_code=303
            )
    return templates_page(
        request, session, unit_id=unit_id, values=form, errors=errors, status_code=422
    )


@router.post("/templates/{unit_id}/{template_id}/archive", response_class=HTMLResponse)
def archive_template_page(
    request: Request,
    unit_id: str,
    template_id: str,
    session: TemplateKeeper,
    container: ContainerDep,
) -> Response:
    try:
        written = container.templates.archive(session.principal, unit_id, template_id)
    except Forbidden as error:
        return refused(request, session, error)
    except DomainError as error:
        if status_for(error) == 404:
            return refused(request, session, error)
        return templates_page(
            request,
            session,
            unit_id=unit_id,
            values={},
            errors=[FieldError("archive", error.message)],
            status_code=status_for(error),
        )
    after_write(container, written)
    return RedirectResponse(
        f"/staff/templates?unit={quote(unit_id, safe='')}&done=archived", status_code=303
    )
