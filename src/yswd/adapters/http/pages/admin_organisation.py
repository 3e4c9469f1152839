"""Administration of the organisation: its units and the forums that meet in them.

The tree of units is what every scope is made of, and a forum belongs to one unit, so
both are set up here, by an administrator, within their own scope: an admin sees and
adds units and forums only under the units they cover. Users, who are given scopes
in this tree, are in :mod:`admin_users`; both refuse other roles with the same words.
"""

from __future__ import annotations

from collections.abc import Callable
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
    render,
    text,
)
from yswd.adapters.http.pages.scope import flat_units, forums_in_scope, visible_tree
from yswd.adapters.http.request_bodies import is_email
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action
from yswd.aggregates.errors import DomainError
from yswd.aggregates.organisation import ForumKind

router = APIRouter(prefix="/staff", include_in_schema=False)

Organiser = Annotated[
    Session,
    Depends(allowed(Action.MANAGE_ORGANISATION, "Only an administrator can use this page.")),
]

KIND_LABELS = {
    ForumKind.COMMUNITY_MEETING: "Community meeting",
    ForumKind.DEVELOPMENT_BOARD: "Development board",
    ForumKind.PARTNERSHIP_BOARD: "Partnership board",
    ForumKind.SERVICE_USER_COUNCIL: "Service user council",
    ForumKind.RECOVERY_OUTCOMES_GROUP: "Recovery outcomes group",
    ForumKind.OTHER: "Other",
}


def name_of(lookup: Callable[[str], Any], added: str | None) -> str | None:
    """The name of what was just added (for the "X added." notice), if it exists."""
    if not added:
        return None
    try:
        return str(lookup(added).name)
    except DomainError:
        return None


# -- units -------------------------------------------------------------------------------


def units_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str],
    errors: list[FieldError],
    added: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tree = visible_tree(container_of(request), session.principal)
    return render(
        request,
        "admin_units.html",
        {
            "tree": tree,
            "units": flat_units(tree),
            "may_add_top": session.principal.covers_everything,
            "values": values,
            "errors": errors,
            "added": added,
        },
        session,
        status_code=status_code,
    )


@router.get("/admin/units", response_class=HTMLResponse)
def admin_units(
    request: Request,
    session: Organiser,
    container: ContainerDep,
    parent: str | None = None,
    added: str | None = None,
) -> Response:
    added_name = name_of(container.app.unit, added)
    return units_page(
        request, session, values={"parent_id": parent or ""}, errors=[], added=added_name
    )


@router.post("/admin/units", response_class=HTMLResponse)
def add_unit(
    request: Request, session: Organiser, form: FormData, container: ContainerDep
) -> Response:
    unit_id, name, parent_id = text(form, "unit_id"), text(form, "name"), text(form, "parent_id")
    errors: list[FieldError] = []
    check_name(errors, "name", name, "unit name")
    check_slug(errors, "unit_id", unit_id, "unit")
    if not errors:
        try:
            written = container.app.create_unit(session.principal, unit_id, name, parent_id or None)
        except DomainError as error:
            field = "unit_id" if status_for(error) == 409 else "parent_id"
            errors.append(FieldError(field, error.message))
        else:
            after_write(container, written)
            return RedirectResponse(f"/staff/admin/units?added={quote(unit_id)}", status_code=303)
    return units_page(request, session, values=form, errors=errors, status_code=422)


# -- forums ------------------------------------------------------------------------------


def forums_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str],
    errors: list[FieldError],
    added: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    container = container_of(request)
    units = flat_units(visible_tree(container, session.principal))
    forums = forums_in_scope(container, session.principal)
    by_unit = [
        {**unit, "forums": [f for f in forums if f["unit_id"] == unit["id"]]} for unit in units
    ]
    # read as stored now: another replica may have changed a contact since this one
    # cached the forum
    contacts = {
        f["id"]: getattr(container.app.current_forum(f["id"]), "contact_email", None)
        for f in forums
    }
    return render(
        request,
        "admin_forums.html",
        {
            "groups": [group for group in by_unit if group["forums"]],
            "forum_count": len(forums),
            "units": units,
            "kinds": [(kind.value, label) for kind, label in KIND_LABELS.items()],
            "kind_label": lambda value: KIND_LABELS.get(ForumKind(value), value),
            "values": values,
            "errors": errors,
            "added": added,
            "contacts": contacts,
        },
        session,
        status_code=status_code,
    )


def check_contact_email(errors: list[FieldError], email: str) -> None:
    """A forum's contact email: optional, else it must look like one."""
    if email and not is_email(email):
        errors.append(
            FieldError("contact_email", "Enter the email in the right form, like ward@trust.nhs.uk")
        )


@router.post("/admin/forums/{forum_id}/contact", response_class=HTMLResponse)
def admin_set_forum_contact(
    request: Request, forum_id: str, session: Organiser, form: FormData, container: ContainerDep
) -> Response:
    """Who is told by email when the forum's items move; empty: nobody."""
    email = text(form, "contact_email")
    errors: list[FieldError] = []
    check_contact_email(errors, email)
    if not errors:
        try:
            written = container.app.set_forum_contact(session.principal, forum_id, email or None)
        except DomainError as error:
            errors.append(FieldError("contact_email", error.message))
        else:
            after_write(container, written)
            return RedirectResponse("/staff/admin/forums", status_code=303)
    return forums_page(request, session, values=form, errors=errors, status_code=422)


@router.get("/admin/forums", response_class=HTMLResponse)
def admin_forums(
    request: Request,
    session: Organiser,
    container: ContainerDep,
    unit: str | None = None,
    added: str | None = None,
) -> Response:
    values = {"unit_id": unit or "", "kind": ForumKind.COMMUNITY_MEETING.value}
    added_name = name_of(container.app.forum, added)
    return forums_page(request, session, values=values, errors=[], added=added_name)


@router.post("/admin/forums", response_class=HTMLResponse)
def add_forum(
    request: Request, session: Organiser, form: FormData, container: ContainerDep
) -> Response:
    forum_id, name, unit_id = text(form, "forum_id"), text(form, "name"), text(form, "unit_id")
    errors: list[FieldError] = []
    check_name(errors, "name", name, "forum name")
    check_slug(errors, "forum_id", forum_id, "forum")
    if not unit_id:
        errors.append(FieldError("unit_id", "Choose the unit the forum belongs to"))
    kind = text(form, "kind")
    if kind not in {k.value for k in ForumKind}:
        errors.append(FieldError("kind", "Choose the kind of forum from the list"))
    contact_email = text(form, "contact_email")
    check_contact_email(errors, contact_email)
    if not errors:
        try:
            written = container.app.create_forum(
                session.principal,
                forum_id,
                name,
                unit_id,
                ForumKind(kind),
                contact_email=contact_email or None,
            )
        except DomainError as error:
            field = "forum_id" if status_for(error) == 409 else "unit_id"
            errors.append(FieldError(field, error.message))
        else:
            after_write(container, written)
            return RedirectResponse(f"/staff/admin/forums?added={quote(forum_id)}", status_code=303)
    return forums_page(request, session, values=form, errors=errors, status_code=422)
