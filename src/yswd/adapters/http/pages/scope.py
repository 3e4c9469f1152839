"""What of the organisation a signed-in user sees: their units, as a tree or a list,
and their forums."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from yswd.adapters.container import Container
from yswd.adapters.http.pages.common import ShowInstead, container_of, refused
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import DomainError, Forbidden
from yswd.aggregates.organisation import Forum
from yswd.projections.organisation import unit_tree
from yswd.projections.staff_directory import list_forums


def visible_tree(container: Container, principal: Principal) -> list[dict[str, Any]]:
    """The unit tree as a user may see it: each unit they cover, with all below it."""

    def walk(nodes: list[dict[str, Any]], above: tuple[str, ...]) -> list[dict[str, Any]]:
        shown: list[dict[str, Any]] = []
        for node in nodes:
            path = (*above, node["id"])
            if principal.covers(path):
                shown.append(node)
            else:
                shown.extend(walk(node["children"], path))
        return shown

    return walk(unit_tree(container.engine), ())


def flat_units(nodes: list[dict[str, Any]], above: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The tree in reading order, each unit with its depth and a label naming its path."""
    flat: list[dict[str, Any]] = []
    for node in nodes:
        names = (*above, node["name"])
        flat.append(
            {
                "id": node["id"],
                "name": node["name"],
                "depth": len(above),
                "label": " / ".join(names),
            }
        )
        flat.extend(flat_units(node["children"], names))
    return flat


def forums_in_scope(container: Container, principal: Principal) -> list[dict[str, Any]]:
    """The forums of the units a user covers (units the read model knows), by name."""
    shown = []
    for forum in list_forums(container.engine):
        try:
            if principal.covers(container.app.unit(forum["unit_id"]).path):
                shown.append(forum)
        except DomainError:
            continue
    return shown


def forum_in_scope(request: Request, session: Session, forum_id: str) -> Forum:
    """The forum, if the user may read items and covers its unit; else the refusal."""
    container = container_of(request)
    try:
        session.principal.require(Action.READ_ITEMS)
        forum = container.app.forum(forum_id)
        if not session.principal.covers(container.app.unit(forum.unit_id).path):
            raise Forbidden(f"Forum '{forum_id}' is outside your scope.")
    except DomainError as error:
        raise ShowInstead(refused(request, session, error)) from None
    return forum
