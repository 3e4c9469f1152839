"""Units, forums and users (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from yswd.adapters.http.deps import (
    ContainerDep,
    IdempotencyKeyDep,
    PrincipalDep,
    StaffWriteDep,
    keyed,
)
from yswd.adapters.http.request_bodies import (
    ForumContactIn,
    ForumIn,
    UnitIn,
    UserEmailIn,
    UserIn,
    UserRoleIn,
)
from yswd.aggregates.organisation import Forum, Unit
from yswd.aggregates.users import User

router = APIRouter(prefix="/api/v1", tags=["organisation"])


def unit_view(unit: Unit) -> dict[str, Any]:
    return {
        "id": unit.unit_id,
        "name": unit.name,
        "parent_id": unit.parent_id,
        "path": list(unit.path),
        "created_at": unit.created_on.isoformat(),
    }


def forum_view(forum: Forum) -> dict[str, Any]:
    return {
        "id": forum.forum_id,
        "name": forum.name,
        "unit_id": forum.unit_id,
        "kind": forum.kind.value,
        "contact_email": getattr(forum, "contact_email", None),
        "created_at": forum.created_on.isoformat(),
    }


def user_view(user: User, token: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": user.user_id,
        "name": user.name,
        "role": user.role.value,
        "scopes": list(user.scopes),
        "email": user.email,
        "created_at": user.created_on.isoformat(),
    }
    view["token"] = token
    return view


@router.post("/units", status_code=201)
def create_unit(
    body: UnitIn, request: Request, staff: StaffWriteDep, key: IdempotencyKeyDep
) -> dict[str, Any]:
    keys = keyed(key, request, body)
    unit = staff.saved(
        staff.app.create_unit(staff.principal, body.id, body.name, body.parent_id, keys)
    )
    return unit_view(unit)


@router.get("/units/{unit_id}")
def get_unit(unit_id: str, container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    return unit_view(container.app.unit_in_scope(principal, unit_id))


@router.post("/forums", status_code=201)
def create_forum(
    body: ForumIn, request: Request, staff: StaffWriteDep, key: IdempotencyKeyDep
) -> dict[str, Any]:
    written = staff.app.create_forum(
        staff.principal,
        body.id,
        body.name,
        body.unit_id,
        body.kind,
        keyed(key, request, body),
        contact_email=body.contact_email,
    )
    return forum_view(staff.saved(written))


@router.get("/forums/{forum_id}")
def get_forum(forum_id: str, container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    in_scope = container.app.forum_in_scope(principal, forum_id)  # 404, 403 first
    # its contact as stored now: another replica may have changed it since this one cached it
    return forum_view(container.app.current_forum(in_scope.forum_id))


@router.post("/forums/{forum_id}/contact")
def set_forum_contact(forum_id: str, body: ForumContactIn, staff: StaffWriteDep) -> dict[str, Any]:
    """Who is told by email when the forum's items move (admins); ``null`` removes it."""
    written = staff.app.set_forum_contact(staff.principal, forum_id, body.contact_email)
    return forum_view(staff.saved(written))


@router.post("/users", status_code=201)
def create_user(
    body: UserIn, request: Request, staff: StaffWriteDep, key: IdempotencyKeyDep
) -> dict[str, Any]:
    keys = keyed(key, request, body)
    written = staff.app.create_user(
        staff.principal, body.name, body.role, body.scopes, keys, email=body.email
    )
    made = staff.saved(written)
    return user_view(made.user, made.token)


@router.post("/users/{user_id}/role")
def change_user_role(user_id: str, body: UserRoleIn, staff: StaffWriteDep) -> dict[str, Any]:
    """Give the user another role; their staff sessions end on every replica."""
    return user_view(staff.saved(staff.app.change_role(staff.principal, user_id, body.role)))


@router.post("/users/{user_id}/email")
def set_user_email(user_id: str, body: UserEmailIn, staff: StaffWriteDep) -> dict[str, Any]:
    """Set (or, with ``null``, remove) the work email the organisation's sign-in matches."""
    return user_view(staff.saved(staff.app.set_email(staff.principal, user_id, body.email)))


@router.post("/users/{user_id}/tokens", status_code=201)
def issue_token(user_id: str, staff: StaffWriteDep) -> dict[str, Any]:
    """A new token for the user, shown only here; the user's older tokens keep working."""
    return {"id": user_id, "token": staff.saved(staff.app.issue_token(staff.principal, user_id))}


@router.post("/users/{user_id}/revoke")
def revoke_tokens(user_id: str, staff: StaffWriteDep) -> dict[str, Any]:
    """Every token of the user stops working at once."""
    revoked = staff.saved(staff.app.revoke_tokens(staff.principal, user_id))
    return {"id": user_id, "revoked": revoked}


@router.get("/me")
def who_am_i(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "id": principal.user_id,
        "name": principal.name,
        "role": principal.role.value,
        "scopes": sorted(principal.scopes),
    }
