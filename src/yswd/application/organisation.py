"""The organisation: units (region -> provider -> hospital or team -> ward) and forums.

Units and forums never change once created, so every lookup after the first is
answered from memory: raising an item looks up its forum and the forum's unit,
and without the caches that was two more store reads on every raise.
"""

from __future__ import annotations

import threading

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import AlreadyExists, Forbidden
from yswd.aggregates.organisation import (
    Forum,
    ForumKind,
    Unit,
    forum_aggregate_id,
    unit_aggregate_id,
)
from yswd.application.unit_of_work import IdempotencyKey, UnitOfWork, Written


class UnitsAndForums:
    """Creating units and forums (admins), and looking them up (everyone)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._units: dict[str, Unit] = {}
        self._forums: dict[str, Forum] = {}
        self._lock = threading.Lock()

    def create_unit(
        self,
        actor: Principal,
        unit_id: str,
        name: str,
        parent_id: str | None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written[Unit]:
        actor.require(Action.MANAGE_ORGANISATION)
        replay = self.uow.replay(actor, idempotency)
        if replay is not None:
            return replay
        parent = self.unit(parent_id) if parent_id is not None else None
        if parent is None and not actor.covers_everything:
            raise Forbidden("Only an administrator with no scope limits may add a top-level unit.")
        if parent is not None and not actor.covers(parent.path):
            raise Forbidden(f"Unit '{parent_id}' is outside your scope.")
        if self.uow.exists(unit_aggregate_id(unit_id)):
            raise AlreadyExists(f"A unit with id '{unit_id}' already exists.")
        unit = Unit.create(unit_id, name, parent, actor.user_id, self.uow.clock())
        return self.uow.save_new(actor, unit, "unit", idempotency)

    def create_forum(
        self,
        actor: Principal,
        forum_id: str,
        name: str,
        unit_id: str,
        kind: ForumKind,
        idempotency: IdempotencyKey | None = None,
    ) -> Written[Forum]:
        actor.require(Action.MANAGE_ORGANISATION)
        replay = self.uow.replay(actor, idempotency)
        if replay is not None:
            return replay
        unit = self.unit(unit_id)
        if not actor.covers(unit.path):
            raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
        if self.uow.exists(forum_aggregate_id(forum_id)):
            raise AlreadyExists(f"A forum with id '{forum_id}' already exists.")
        forum = Forum.create(forum_id, name, unit_id, kind, actor.user_id, self.uow.clock())
        return self.uow.save_new(actor, forum, "forum", idempotency)

    def unit(self, unit_id: str) -> Unit:
        """A unit by its id (cached: units never change once created)."""
        unit = self._units.get(unit_id)
        if unit is None:
            unit = self.uow.get(unit_aggregate_id(unit_id), f"There is no unit '{unit_id}'.")
            with self._lock:
                self._units[unit_id] = unit
        return unit

    def forum(self, forum_id: str) -> Forum:
        """A forum by its id (cached like units: a forum has no event after ``Created``)."""
        forum = self._forums.get(forum_id)
        if forum is None:
            forum = self.uow.get(forum_aggregate_id(forum_id), f"There is no forum '{forum_id}'.")
            with self._lock:
                self._forums[forum_id] = forum
        return forum
