"""Units, forums and users (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from yswd.adapters.http.deps import (
    ContainerDep,
    IdempotencyKeyDep,
    PrincipalDep,
    keyed,
    mark_written,
)
from yswd.adapters.http.schemas import (
    ForumContactIn,
    ForumIn,
    UnitIn,
    UserEmailIn,
    UserIn,
    UserRoleIn,
)
from yswd.aggregates.errors import Forbidden
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
    body: UnitIn,
    request: Request,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    written = container.app.create_unit(
        principal, body.id, body.name, body.parent_id, keyed(key, request, body)
    )
    mark_written(container, response, written)
    return unit_view(written.value)


@router.get("/units/{unit_id}")
def get_unit(unit_id: str, container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    unit = container.app.unit(unit_id)
    if not principal.covers(unit.path):
        raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
    return unit_view(unit)


@router.post("/forums", status_code=201)
def create_forum(
    body: ForumIn,
    request: Request,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    written = container.app.create_forum(
        principal,
        body.id,
        body.name,
        body.unit_id,
        body.kind,
        keyed(key, request, body),
        contact_email=body.contact_email,
    )
    mark_written(container, response, written)
    return forum_view(written.value)


@router.get("/forums/{forum_id}")
def get_forum(forum_id: str, container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    forum = container.app.forum(forum_id)
    if not principal.covers(container.app.unit(forum.unit_id).path):
        raise Forbidden(f"Forum '{forum_id}' is outside your scope.")
    return forum_view(forum)


@router.post("/forums/{forum_id}/contact")
def set_forum_contact(
    forum_id: str,
    body: ForumContactIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Who is told by email when the forum's items move (admins); ``null`` removes it."""
    written = container.app.set_forum_contact(principal, forum_id, body.contact_email)
    mark_written(container, response, written)
    return forum_view(written.value)


@router.post("/users", status_code=201)
def create_user(
    body: UserIn,
    request: Request,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
    key: IdempotencyKeyDep,
) -> dict[str, Any]:
    written = container.app.create_user(
        principal, body.name, body.role, body.scopes, keyed(key, request, body), email=body.email
    )
    mark_written(container, response, written)
    return user_view(written.value.user, written.value.token)


@router.post("/users/{user_id}/role")
def change_user_role(
    user_id: str,
    body: UserRoleIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Give the user another role; their staff sessions end on every replica."""
    written = container.app.change_role(principal, user_id, body.role)
    mark_written(container, response, written)
    return user_view(written.value)


@router.post("/users/{user_id}/email")
def set_user_email(
    user_id: str,
    body: UserEmailIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Set (or, with ``null``, remove) the work email the organisation's sign-in matches."""
    written = container.app.set_email(principal, user_id, body.email)
    mark_written(container, response, written)
    return user_view(written.value)


@router.post("/users/{user_id}/tokens", status_code=201)
def issue_token(
    user_id: str, response: Response, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A new token for the user, shown only here; the user's older tokens keep working."""
    written = container.app.issue_token(principal, user_id)
    mark_written(container, response, written)
    return {"id": user_id, "token": written.value}


@router.post("/users/{user_id}/revoke")
def revoke_tokens(
    user_id: str, response: Response, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Every token of the user stops working at once."""
    written = container.app.revoke_tokens(principal, user_id)
    mark_written(container, response, written)
    return {"id": user_id, "revoked": written.value}


@router.get("/me")
def who_am_i(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "id": principal.user_id,
        "name": principal.name,
        "role": principal.role.value,
        "scopes": sorted(principal.scopes),
    }
