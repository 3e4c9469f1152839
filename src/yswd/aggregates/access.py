"""Who may do what, and where: roles and unit scopes.

A user's scope is a set of unit ids, and a unit covers its descendants. An
admin or auditor with no scopes covers everything. An item is in scope when
its forum's unit, or the unit it is referred to, is covered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from yswd.aggregates.errors import Forbidden
from yswd.aggregates.users import Role


class Action(StrEnum):
    MANAGE_ORGANISATION = "manage organisation"
    MANAGE_USERS = "manage users"
    READ_ITEMS = "read items"
    RAISE = "raise items"
    PUBLISH = "publish items"
    REFER = "refer items"
    RESPOND = "respond to items"
    COMPLETE = "complete items"
    DECLINE = "decline items"
    PROGRESS = "add progress"
    VERIFY = "verify items"
    REOPEN = "reopen items"
    RUN_GAP_BOXES = "run gap boxes"
    ATTACH_CLIPS = "attach diary-room clips"
    MANAGE_TEMPLATES = "manage response templates"
    AUDIT = "read audit trails"
    FORGET = "erase contributors"
    FLAG_SAFEGUARDING = "flag safeguarding concerns"
    WORK_SAFEGUARDING = "work the safeguarding queue"
    READ_SAFEGUARDING = "read items under a safeguarding flag"
    REVEAL_CONTRIBUTOR = "reveal who raised an item"
    READ_REVEALS = "read the record of reveals"
    ASSESS_INVOLVEMENT = "record self-assessments of involvement"
    MANAGE_THEMES = "edit a region's theme vocabulary"


ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.SECRETARY: frozenset(
        {
            Action.READ_ITEMS,
            Action.RAISE,
            Action.PROGRESS,
            Action.REOPEN,
            Action.VERIFY,
            Action.ATTACH_CLIPS,
            Action.FLAG_SAFEGUARDING,
        }
    ),
    Role.MANAGER: frozenset(
        {
            Action.READ_ITEMS,
            Action.REFER,
            Action.RESPOND,
            Action.COMPLETE,
            Action.DECLINE,
            Action.PROGRESS,
            Action.ATTACH_CLIPS,
            Action.MANAGE_TEMPLATES,
            Action.FLAG_SAFEGUARDING,
            Action.REVEAL_CONTRIBUTOR,
            Action.ASSESS_INVOLVEMENT,
        }
    ),
    Role.MODERATOR: frozenset(
        {Action.READ_ITEMS, Action.PUBLISH, Action.RUN_GAP_BOXES, Action.FLAG_SAFEGUARDING}
    ),
    Role.AUDITOR: frozenset(
        {Action.READ_ITEMS, Action.AUDIT, Action.READ_SAFEGUARDING, Action.READ_REVEALS}
    ),
    Role.ADVOCATE: frozenset(
        {
            Action.READ_ITEMS,
            Action.RAISE,
            Action.PROGRESS,
            Action.FLAG_SAFEGUARDING,
            Action.READ_REVEALS,
        }
    ),
    Role.SAFEGUARDING_LEAD: frozenset(
        {Action.READ_ITEMS, Action.READ_SAFEGUARDING, Action.WORK_SAFEGUARDING}
    ),
}

#: roles that never see who raised an item, except by an audited reveal
IDENTITY_HELD_FROM: frozenset[Role] = frozenset({Role.MANAGER, Role.MODERATOR})

#: the identity used for events that members of the public cause (gap box suggestions)
PUBLIC_ACTOR = "public"
#: the identity used for events the service records by itself (bootstrap, demo data)
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user_id: str
    name: str
    role: Role
    scopes: frozenset[str]

    @property
    def covers_everything(self) -> bool:
        return not self.scopes and self.role in (Role.ADMIN, Role.AUDITOR)

    def may(self, action: Action) -> bool:
        return action in ROLE_ACTIONS[self.role]

    def require(self, action: Action) -> None:
        if not self.may(action):
            raise Forbidden(f"A {self.role.value} may not {action.value}.")

    @property
    def sees_contributor(self) -> bool:
        """Managers and moderators never see who raised an item (only by a reveal)."""
        return self.role not in IDENTITY_HELD_FROM

    @property
    def sees_safeguarding(self) -> bool:
        """Whether items under a safeguarding flag are readable (leads, auditors, admins)."""
        return self.may(Action.READ_SAFEGUARDING)

    def covers(self, unit_path: Iterable[str]) -> bool:
        """Whether a unit (given as its path from the root) is in this user's scope."""
        return self.covers_everything or not self.scopes.isdisjoint(unit_path)


SYSTEM = Principal(user_id=SYSTEM_ACTOR, name="yswd", role=Role.ADMIN, scopes=frozenset())
