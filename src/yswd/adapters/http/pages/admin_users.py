"""Administration of the people who use the staff pages, and their access tokens.

An admin sees and changes only the users inside their scope: every unit a user works
in must be one the admin covers. A token is shown once, on the page that made it, and
never again. Kept apart from :mod:`admin_organisation` (units and forums) because
people, roles and tokens are a subject of their own; both refuse other roles alike.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.errors import status_for
from yswd.adapters.http.pages.common import (
    SLUG,
    FieldError,
    FormData,
    ShowInstead,
    after_write,
    allowed,
    check_name,
    container_of,
    refused,
    render,
    text,
)
from yswd.adapters.http.pages.scope import flat_units, visible_tree
from yswd.adapters.http.request_bodies import is_email
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import AlreadyExists, DomainError, Forbidden
from yswd.aggregates.users import Role, User
from yswd.projections.staff_directory import list_users

router = APIRouter(prefix="/staff", include_in_schema=False)

UserAdmin = Annotated[
    Session, Depends(allowed(Action.MANAGE_USERS, "Only an administrator can use this page."))
]

ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.SECRETARY: "Forum secretary",
    Role.MANAGER: "Manager",
    Role.MODERATOR: "Moderator",
    Role.ADVOCATE: "Advocate",
    Role.SAFEGUARDING_LEAD: "Safeguarding lead",
    Role.AUDITOR: "Auditor",
}

ROLE_HINTS = {
    Role.ADMIN: "adds units, forums and people, and can do everything below",
    Role.SECRETARY: "logs meetings, adds progress, checks changes happened",
    Role.MANAGER: "refers, answers, completes or declines items",
    Role.MODERATOR: "checks wording and publishes items",
    Role.ADVOCATE: "an independent advocate: sees who raised items, raises them, adds progress",
    Role.SAFEGUARDING_LEAD: "works the safeguarding queue: acknowledges and closes concerns",
    Role.AUDITOR: "reads everything, including histories; changes nothing",
}


# -- users -------------------------------------------------------------------------------


def users_in_scope(container: Container, principal: Principal) -> list[dict[str, Any]]:
    """The users an admin may manage: every unit they work in is in the admin's scope."""
    shown = []
    for row in list_users(container.engine):
        try:
            if row["scopes"]:
                covered = all(
                    principal.covers(container.app.unit(unit_id).path) for unit_id in row["scopes"]
                )
            else:
                covered = principal.covers_everything
        except DomainError:
            covered = False
        if covered:
            shown.append(row)
    return shown


def users_page(
    request: Request,
    session: Session,
    *,
    values: dict[str, str],
    chosen: list[str],
    errors: list[FieldError],
    status_code: int = 200,
) -> HTMLResponse:
    container = container_of(request)
    units = flat_units(visible_tree(container, session.principal))
    names = {unit["id"]: unit["name"] for unit in units}
    return render(
        request,
        "admin_users.html",
        {
            "users": users_in_scope(container, session.principal),
            "units": units,
            "unit_name": lambda unit_id: names.get(unit_id, unit_id),
            "roles": [(role.value, label, ROLE_HINTS[role]) for role, label in ROLE_LABELS.items()],
            "role_name": lambda value: ROLE_LABELS.get(Role(value), value),
            "values": values,
            "chosen": chosen,
            "errors": errors,
        },
        session,
        status_code=status_code,
    )


def new_user_errors(name: str, role: str, scopes: list[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    check_name(errors, "name", name, "person's name")
    if role not in {r.value for r in Role}:
        errors.append(FieldError("role", "Choose what the person does"))
    if any(not SLUG.match(unit_id) for unit_id in scopes) or len(scopes) > 100:
        errors.append(FieldError("scopes", "Choose the units from the list"))
    elif not scopes and role and role not in (Role.ADMIN.value, Role.AUDITOR.value):
        errors.append(
            FieldError("scopes", "Choose at least one unit: this role only works in its units")
        )
    return errors


def check_email(errors: list[FieldError], email: str) -> None:
    """An empty email is fine (it is optional); else it must look like one."""
    if email and not is_email(email):
        errors.append(
            FieldError("email", "Enter the email in the right form, like name@trust.nhs.uk")
        )


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, session: UserAdmin) -> Response:
    return users_page(request, session, values={}, chosen=[], errors=[])


async def form_scopes(request: Request) -> list[str]:
    """Every ticked ``scopes`` box of the posted form (a field that repeats)."""
    if request.method != "POST":
        return []
    form = await request.form()  # parsed once per request; FormData gets the same
    return [value.strip() for value in form.getlist("scopes") if isinstance(value, str)]


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: UserAdmin,
    form: FormData,
    scopes: Annotated[list[str], Depends(form_scopes)],
    container: ContainerDep,
) -> Response:
    name, role, email = text(form, "name"), text(form, "role"), text(form, "email")
    errors = new_user_errors(name, role, scopes)
    check_email(errors, email)
    if not errors:
        try:
            written = container.app.create_user(
                session.principal, name, Role(role), scopes, email=email or None
            )
        except AlreadyExists as error:
            errors.append(FieldError("email", error.message))
        except DomainError as error:
            errors.append(FieldError("scopes", error.message))
        else:
            after_write(container, written)
            made = written.value
            assert made.token is not None  # a new user always has one; only replays do not
            return token_page(request, session, made.user, made.token, first=True)
    return users_page(request, session, values=form, chosen=scopes, errors=errors, status_code=422)


# -- one user and their tokens -------------------------------------------------------------


def user_page(
    request: Request,
    session: Session,
    user: User,
    *,
    notice: str | None = None,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
    email_value: str | None = None,
    role_value: str | None = None,
) -> HTMLResponse:
    container = container_of(request)
    names = []
    for unit_id in user.scopes:
        try:
            names.append(f"{container.app.unit(unit_id).name} ({unit_id})")
        except DomainError:
            names.append(unit_id)
    return render(
        request,
        "admin_user.html",
        {
            "user": user,
            "user_role": ROLE_LABELS[user.role],
            "unit_names": names,
            "working": len(user.active_token_hashes),
            "issued": len(user.token_hashes),
            "is_me": user.user_id == session.principal.user_id,
            "notice": notice,
            "errors": errors or [],
            "email_value": (user.email or "") if email_value is None else email_value,
            "roles": [(role.value, label, ROLE_HINTS[role]) for role, label in ROLE_LABELS.items()],
            "role_value": user.role.value if role_value is None else role_value,
        },
        session,
        status_code=status_code,
    )


def token_page(
    request: Request, session: Session, user: User, token: str, first: bool
) -> HTMLResponse:
    """The only page that ever shows a token. Not cached (``render`` sends no-store)."""
    return render(
        request,
        "admin_token.html",
        {
            "user": user,
            "token": token,
            "first": first,
            "user_role": ROLE_LABELS[user.role],
        },
        session,
    )


def managed_user(request: Request, session: Session, user_id: str) -> User:
    """The user, if it exists and is in the admin's scope; else the refusal page."""
    app = container_of(request).app
    try:
        user = app.user(user_id)
        if not app.user_in_scope(session.principal, user):
            raise Forbidden(f"User '{user_id}' is outside your scope.")
    except DomainError as error:
        raise ShowInstead(refused(request, session, error)) from None
    return user


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def admin_user(
    request: Request, user_id: str, session: UserAdmin, revoked: int | None = None
) -> Response:
    user = managed_user(request, session, user_id)
    notice = None
    if revoked is not None:
        notice = (
            f"{revoked} token{'s' if revoked != 1 else ''} revoked. "
            f"{user.name} cannot sign in until you give them a new token."
        )
    return user_page(request, session, user, notice=notice)


@router.post("/admin/users/{user_id}/tokens", response_class=HTMLResponse)
def admin_issue_token(
    request: Request, user_id: str, session: UserAdmin, container: ContainerDep
) -> Response:
    managed_user(request, session, user_id)
    try:
        written = container.app.issue_token(session.principal, user_id)
    except DomainError as error:
        return refused(request, session, error)
    after_write(container, written)
    return token_page(request, session, container.app.user(user_id), written.value, first=False)


@router.post("/admin/users/{user_id}/email", response_class=HTMLResponse)
def admin_set_email(
    request: Request, user_id: str, session: UserAdmin, form: FormData, container: ContainerDep
) -> Response:
    user = managed_user(request, session, user_id)
    email = text(form, "email")
    errors: list[FieldError] = []
    check_email(errors, email)
    if not errors:
        try:
            written = container.app.set_email(session.principal, user_id, email or None)
        except DomainError as error:
            errors.append(FieldError("email", error.message))
        else:
            after_write(container, written)
            notice = (
                f"{user.name} signs in with the organisation account {email}."
                if email
                else f"{user.name} can no longer sign in with an organisation account."
            )
            return user_page(request, session, written.value, notice=notice)
    return user_page(request, session, user, errors=errors, status_code=422, email_value=email)


@router.post("/admin/users/{user_id}/role", response_class=HTMLResponse)
def admin_change_role(
    request: Request, user_id: str, session: UserAdmin, form: FormData, container: ContainerDep
) -> Response:
    """The page form of ``POST /api/v1/users/{id}/role``: the same service, so their staff
    sessions end and they sign in again with the new role's pages."""
    user = managed_user(request, session, user_id)
    role = text(form, "role")
    if role not in {r.value for r in Role}:
        error = FieldError("role", "Choose what the person does now")
        return user_page(request, session, user, errors=[error], status_code=422, role_value="")
    try:
        written = container.app.change_role(session.principal, user_id, Role(role))
    except DomainError as error:
        return user_page(
            request,
            session,
            user,
            errors=[FieldError("role", error.message)],
            status_code=status_for(error),
            role_value=role,
        )
    after_write(container, written)
    changed = written.value
    notice = (
        f"{changed.name} is now {ROLE_LABELS[changed.role].lower()}. "
        "They are signed out and see the new role's pages when they sign in again."
        if changed.role != user.role
        else f"{changed.name} is already {ROLE_LABELS[changed.role].lower()}: nothing changed."
    )
    return user_page(request, session, changed, notice=notice)


@router.post("/admin/users/{user_id}/revoke", response_class=HTMLResponse)
def admin_revoke_tokens(
    request: Request, user_id: str, session: UserAdmin, form: FormData, container: ContainerDep
) -> Response:
    user = managed_user(request, session, user_id)
    if text(form, "confirm") != "yes":
        error = FieldError("confirm", "Tick the box to confirm you want to revoke every token")
        return user_page(request, session, user, errors=[error], status_code=422)
    try:
        written = container.app.revoke_tokens(session.principal, user_id)
    except DomainError as error:
        return user_page(
            request,
            session,
            user,
            errors=[FieldError("confirm", error.message)],
            status_code=status_for(error),
        )
    after_write(container, written)
    return RedirectResponse(
        f"/staff/admin/users/{quote(user_id, safe='')}?revoked={written.value}", status_code=303
    )
