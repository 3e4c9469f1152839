"""The organisation: units (region -> provider -> hospital or team -> ward) and forums.

Units and forums never change once created, so every lookup after the first is
answered from memory: raising an item looks up its forum and the forum's unit,
and without the caches that was two more store reads on every raise.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.errors import AlreadyExists, Forbidden, InvalidInput
from yswd.aggregates.organisation import (
    Forum,
    ForumKind,
    Unit,
    forum_aggregate_id,
    unit_aggregate_id,
)
from yswd.aggregates.users import Role
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
        *,
        contact_email: str | None = None,
    ) -> Written[Forum]:
        actor.require(Action.MANAGE_ORGANISATION)
        replay = self.uow.replay(actor, idempotency)
        if replay is not None:
            return replay
        self.unit_in_scope(actor, unit_id)
        if self.uow.exists(forum_aggregate_id(forum_id)):
            raise AlreadyExists(f"A forum with id '{forum_id}' already exists.")
        forum = Forum.create(forum_id, name, unit_id, kind, actor.user_id, self.uow.clock())
        if contact_email and contact_email.strip():
            forum.set_contact(contact_email.strip(), actor.user_id, self.uow.clock())
        return self.uow.save_new(actor, forum, "forum", idempotency)

    def set_forum_contact(
        self, actor: Principal, forum_id: str, contact_email: str | None
    ) -> Written[Forum]:
        """Who is told by email when the forum's items move (``None``: nobody); admins."""
        actor.require(Action.MANAGE_ORGANISATION)
        contact_email = (contact_email or "").strip() or None

        def set_contact(forum: Forum, now: datetime) -> None:
            forum.set_contact(contact_email, actor.user_id, now)

        return self._change_forum(actor, forum_id, set_contact)

    def request_digest(self, actor: Principal, forum_id: str, since: date) -> Written[Forum]:
        """Email the forum's feedback pack since ``since`` to its contact (a secretary
        or an admin, in scope); the mail relay sends it from the log."""
        if actor.role not in (Role.SECRETARY, Role.ADMIN):
            raise Forbidden("Only a secretary or an administrator may send a forum's digest.")

        def request_digest(forum: Forum, now: datetime) -> None:
            if not getattr(forum, "contact_email", None):
                raise InvalidInput(f"Forum '{forum_id}' has no contact email to send it to.")
            forum.request_digest(since, actor.user_id, now)

        return self._change_forum(actor, forum_id, request_digest)

    def _change_forum(
        self, actor: Principal, forum_id: str, change: Callable[[Forum, datetime], None]
    ) -> Written[Forum]:
        """Change the forum as stored (not the cached copy) if it is in the actor's scope,
        save it (nothing, if the change changed nothing), and refresh the cache."""
        changed: list[Forum] = []

        def attempt() -> list[Forum]:
            forum: Forum = self.uow.get(
                forum_aggregate_id(forum_id), f"There is no forum '{forum_id}'."
            )
            self._require_forum_in_scope(actor, forum)
            changed[:] = [forum]
            before = forum.version
            change(forum, self.uow.clock())
            return [forum] if forum.version != before else []

        position = self.uow.save_with_retries(f"Forum '{forum_id}'", attempt)
        with self._lock:
            self._forums[forum_id] = changed[0]
        return Written(changed[0], position)

    def unit(self, unit_id: str) -> Unit:
        """A unit by its id (cached: units never change once created)."""
        unit = self._units.get(unit_id)
        if unit is None:
            unit = self.uow.get(unit_aggregate_id(unit_id), f"There is no unit '{unit_id}'.")
            with self._lock:
                self._units[unit_id] = unit
        return unit

    def forum(self, forum_id: str) -> Forum:
        """A forum by its id, for what never changes once it is created (its name, unit
        and kind), cached like units. Its contact can change, on any replica: read it
        from ``current_forum`` (``set_forum_contact`` refreshes this replica's cache, the
        mail relay reads the store itself)."""
        forum = self._forums.get(forum_id)
        if forum is None:
            forum = self.current_forum(forum_id)
        return forum

    def current_forum(self, forum_id: str) -> Forum:
        """The forum as stored now, contact included (and this replica's cache refreshed):
        another replica may have changed the contact since this one cached the forum."""
        forum: Forum = self.uow.get(
            forum_aggregate_id(forum_id), f"There is no forum '{forum_id}'."
        )
        with self._lock:
            self._forums[forum_id] = forum
        return forum

    def unit_in_scope(self, actor: Principal, unit_id: str) -> Unit:
        """A unit the actor's scope covers: 404 when there is none, 403 outside the scope."""
        unit = self.unit(unit_id)
        if not actor.covers(unit.path):
            raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
        return unit

    def forum_in_scope(self, actor: Principal, forum_id: str) -> Forum:
        """A forum whose unit the actor's scope covers: 404 when there is none, else 403."""
        forum = self.forum(forum_id)
        self._require_forum_in_scope(actor, forum)
        return forum

    def _require_forum_in_scope(self, actor: Principal, forum: Forum) -> None:
        if not actor.covers(self.unit(forum.unit_id).path):
            raise Forbidden(f"Forum '{forum.forum_id}' is outside your scope.")
