"""The theme vocabulary page: an admin edits the themes a region offers when logging items."""

from __future__ import annotations

from typing import Annotated
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
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError, Forbidden
from yswd.projections.organisation import unit_tree

router = APIRouter(prefix="/staff", include_in_schema=False)

ThemeKeeper = Annotated[
    Session,
    Depends(allowed(Action.MANAGE_THEMES, "Only administrators edit the themes.")),
]


def themes_page(
    request: Request,
    session: Session,
    *,
    region_id: str,
    errors: list[FieldError],
    value: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = container_of(request)
    regions = [
        {"id": node["id"], "label": node["name"]}
        for node in unit_tree(container.engine)
        if session.principal.covers((node["id"],))
    ]
    if not region_id and len(regions) == 1:
        region_id = regions[0]["id"]
    vocabulary = None
    if region_id:
        try:
            vocabulary = container.themes.for_unit(region_id)
        except DomainError as error:
            errors = [*errors, FieldError("region", error.message)]
            region_id = ""
    return render(
        request,
        "themes.html",
        {
            "regions": regions,
            "region_id": region_id,
            "vocabulary": vocabulary,
            "value": value
            if value is not None
            else "\n".join(vocabulary["themes"] if vocabulary else []),
            "errors": errors,
            "notice": notice,
        },
        session,
        status_code=status_code,
    )


@router.get("/themes", response_class=HTMLResponse)
def themes_form(
    request: Request, session: ThemeKeeper, region: str | None = None, done: str | None = None
) -> Response:
    notice = "Themes saved." if done == "saved" else None
    return themes_page(request, session, region_id=region or "", errors=[], notice=notice)


@router.post("/themes", response_class=HTMLResponse)
def save_themes(
    request: Request, session: ThemeKeeper, form: FormData, container: ContainerDep
) -> Response:
    region_id = text(form, "region_id")
    lines = form.get("themes", "").splitlines()
    try:
        written = container.themes.set_themes(session.principal, region_id, lines)
    except Forbidden as error:
        return refused(request, session, error)
    except DomainError as error:
        return themes_page(
            request,
            session,
            region_id=region_id,
            errors=[FieldError("themes", error.message)],
            value=form.get("themes", ""),
            status_code=422,
        )
    after_write(container, written)
    return RedirectResponse(
        f"/staff/themes?region={quote(region_id, safe='')}&done=saved", status_code=303
    )
