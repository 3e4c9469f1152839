"""The audit page: who was shown the name of a person who raised an item, and whether
the stored record is intact.

It is the staff page of ``GET /api/v1/audit/reveals`` and ``GET /api/v1/audit/verify``
and asks the same things in the same way: the reveals come from the one query that
applies the viewer's scope (``StaffItemQueries.reveals``, after the same
``unit_in_scope`` check), and the chain check is ``Audit.verify``, for the roles that
may audit. Ids become names here: the person who revealed, with their role, and the
item's title where the viewer could open the item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.pages.admin_users import ROLE_LABELS
from yswd.adapters.http.pages.common import FieldError, allowed, render
from yswd.adapters.http.pages.scope import flat_units, visible_tree
from yswd.adapters.http.sessions import Session
from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import DomainError

router = APIRouter(prefix="/staff", include_in_schema=False)

RevealReader = Annotated[
    Session,
    Depends(
        allowed(
            Action.READ_REVEALS,
            "Only auditors, advocates and administrators can see the audit record.",
        )
    ),
]

#: how to check the record without this page, on the server (README, ``yswd audit``)
VERIFY_COMMAND = "yswd audit verify"


@dataclass
class Revealers:
    """Who revealed, by user id: their name and role, looked up once each.

    A user id that is not (or no longer) a user reads as a plain "Unknown user".
    """

    container: Container
    found: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def __call__(self, user_id: str) -> dict[str, str | None]:
        if user_id not in self.found:
            try:
                user = self.container.app.user(user_id)
                role = ROLE_LABELS.get(user.role)
                if role is not None and role.casefold() == user.name.casefold():
                    role = None  # "Administrator", not "Administrator (administrator)"
                self.found[user_id] = {"name": user.name, "role": role}
            except DomainError:
                self.found[user_id] = {"name": "Unknown user", "role": None}
        return self.found[user_id]


def reveals_shown(
    container: Container, principal: Principal, unit_id: str | None
) -> list[dict[str, Any]]:
    """The reveals the JSON record lists for this viewer, newest first, with names."""
    if unit_id is not None:
        container.app.unit_in_scope(principal, unit_id)
    found = container.staff_items.reveals(principal, unit_id)
    titles = container.staff_items.titles(principal, [row["item_id"] for row in found])
    revealer = Revealers(container)
    shown = []
    for row in reversed(found):  # the query gives them oldest first
        shown.append(
            {
                **row,
                "title": titles.get(row["item_id"]),
                "revealer": revealer(row["user_id"]),
            }
        )
    return shown


def chain_check(container: Container, principal: Principal, asked: bool) -> dict[str, Any] | None:
    """The chain check as ``GET /api/v1/audit/verify`` runs it, when the viewer asked
    for it and may audit (an advocate reads the reveals only); else None.

    It re-reads the whole log (about 24,000 events a second, bench B5), so it runs
    when asked, not again on every change of the unit filter.
    """
    if not (asked and principal.may(Action.AUDIT)):
        return None
    return container.audit.verify(principal)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: RevealReader, container: ContainerDep) -> Response:
    """Reveals in the viewer's scope (one unit's, with the filter) and, with
    ``check=yes``, the chain check."""
    principal = session.principal
    unit_id = request.query_params.get("unit_id", "").strip()
    asked = request.query_params.get("check") == "yes"
    units = flat_units(visible_tree(container, principal))
    errors: list[FieldError] = []
    reveals: list[dict[str, Any]] = []
    if unit_id and unit_id not in {unit["id"] for unit in units}:
        errors.append(FieldError("unit_id", "Choose a unit from the list"))
    else:
        try:
            reveals = reveals_shown(container, principal, unit_id or None)
        except DomainError as error:
            errors.append(FieldError("unit_id", error.message))
    return render(
        request,
        "audit.html",
        {
            "units": units,
            "unit_id": unit_id,
            "reveals": reveals,
            "errors": errors,
            "may_audit": principal.may(Action.AUDIT),
            "check": chain_check(container, principal, asked),
            "checked_at": container.clock() if asked else None,
            "verify_command": VERIFY_COMMAND,
        },
        session,
        status_code=422 if errors else 200,
    )
