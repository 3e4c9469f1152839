"""Staff users, their roles and scopes, and the index from token hash to user.

A user may hold several bearer tokens at once (an admin issues a new one
without ending the old one) until an admin revokes them all. Only hashes of
tokens are ever recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate


class Role(StrEnum):
    ADMIN = "admin"
    SECRETARY = "secretary"
    MANAGER = "manager"
    MODERATOR = "moderator"
    AUDITOR = "auditor"
    #: an independent advocate (for example an IMHA): sees contributors, raises items
    ADVOCATE = "advocate"
    #: works the safeguarding queue of the units in scope
    SAFEGUARDING_LEAD = "safeguarding_lead"


def user_aggregate_id(user_id: str) -> str:
    return f"user:{user_id}"


def token_aggregate_id(token_hash: str) -> str:
    return f"token:{token_hash}"


class User(Aggregate):
    """A member of staff. Only a hash of the bearer token is ever recorded."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        name: str
        role: Role
        scopes: tuple[str, ...]
        token_hash: str
        token_hashes: tuple[str, ...]
        revoked_hashes: frozenset[str]
        #: the work email the organisation's sign-in matches (``EmailSet``), if any
        email: str | None
        #: when the user's tokens were last revoked: it ends their staff sessions too
        revoked_at: datetime | None

    class Created(Aggregate.Created):
        user_id: str
        name: str
        role: str
        scopes: list[str]
        token_hash: str

        def apply(self, aggregate: User) -> None:
            aggregate.name = self.name
            aggregate.role = Role(self.role)
            aggregate.scopes = tuple(self.scopes)
            aggregate.token_hash = self.token_hash
            aggregate.token_hashes = (self.token_hash,)
            aggregate.revoked_hashes = frozenset()
            aggregate.email = None
            aggregate.revoked_at = None

    class TokenIssued(Aggregate.Event):
        """Another token for the user; the ones issued before keep working."""

        token_hash: str

        def apply(self, aggregate: User) -> None:
            aggregate.token_hashes = (*aggregate.token_hashes, self.token_hash)

    class TokensRevoked(Aggregate.Event):
        """Every token the user held stops working."""

        token_hashes: list[str]

        def apply(self, aggregate: User) -> None:
            aggregate.revoked_hashes = aggregate.revoked_hashes | frozenset(self.token_hashes)
            aggregate.revoked_at = self.timestamp

    class RoleChanged(Aggregate.Event):
        """The user does another job now; their sessions end (they sign in again)."""

        role: str

        def apply(self, aggregate: User) -> None:
            aggregate.role = Role(self.role)

    class EmailSet(Aggregate.Event):
        """The user's work email, as the organisation's sign-in reports it (``None``:
        removed). Matched case-insensitively; unique (see :class:`StaffEmail`)."""

        email: str | None

        def apply(self, aggregate: User) -> None:
            aggregate.email = self.email

    @property
    def user_id(self) -> str:
        return self.id.removeprefix("user:")

    @property
    def active_token_hashes(self) -> tuple[str, ...]:
        """The hashes of the tokens that still work, oldest first."""
        return tuple(h for h in self.token_hashes if h not in self.revoked_hashes)

    @property
    def active(self) -> bool:
        """Whether the user may sign in: some token still works (revoking them all
        ends every way in, the organisation's sign-in included, until a new one)."""
        return bool(self.active_token_hashes)

    def change_role(self, role: Role, actor: str, now: datetime) -> None:
        """Record the new role; the same role records nothing."""
        if role != self.role:
            self._record(self.RoleChanged, actor, now, role=role.value)

    def set_email(self, email: str | None, actor: str, now: datetime) -> None:
        """Record a new work email (``None`` removes it); the same one records nothing."""
        if email != getattr(self, "email", None):
            self._record(self.EmailSet, actor, now, email=email)

    def accepts(self, token_hash: str) -> bool:
        """Whether a token with this hash was issued to this user and not revoked."""
        return token_hash in self.token_hashes and token_hash not in self.revoked_hashes

    def issue_token(self, token_hash: str, actor: str, now: datetime) -> None:
        self._record(self.TokenIssued, actor, now, token_hash=token_hash)

    def revoke_tokens(self, actor: str, now: datetime) -> tuple[str, ...]:
        """Revoke every working token; returns the hashes revoked (none: nothing recorded)."""
        active = self.active_token_hashes
        if active:
            self._record(self.TokensRevoked, actor, now, token_hashes=list(active))
        return active

    @classmethod
    def create(
        cls,
        user_id: str,
        name: str,
        role: Role,
        scopes: Iterable[str],
        token_hash: str,
        actor: str,
        now: datetime,
    ) -> User:
        return cls._create(
            cls.Created,
            id=user_aggregate_id(user_id),
            user_id=user_id,
            name=name,
            role=role.value,
            scopes=list(scopes),
            token_hash=token_hash,
            actor=actor,
            timestamp=now,
        )


class Token(Aggregate):
    """Points a token hash at its user, so a bearer token is found in one read.

    Saved in the same transaction as the user; its id (the hash) is unique, so
    a token can never belong to two users.
    """

    if TYPE_CHECKING:
        user_id: str

    class Issued(Aggregate.Created):
        user_id: str

        def apply(self, aggregate: Token) -> None:
            aggregate.user_id = self.user_id

    @classmethod
    def issue(cls, token_hash: str, user_id: str, actor: str, now: datetime) -> Token:
        return cls._create(
            cls.Issued,
            id=token_aggregate_id(token_hash),
            user_id=user_id,
            actor=actor,
            timestamp=now,
        )


def fold_email(email: str) -> str:
    """The form emails are compared in: trimmed and case-folded."""
    return email.strip().casefold()


def email_aggregate_id(email: str) -> str:
    """A hash, not the address: aggregate ids travel in NATS envelopes."""
    return "email:" + hashlib.sha256(fold_email(email).encode()).hexdigest()


class StaffEmail(Aggregate):
    """Points a work email (case-folded) at the one user who holds it.

    Saved with the user's ``EmailSet``; its id is the folded email, so two users can
    never claim the same one, even from two replicas at once.
    """

    if TYPE_CHECKING:
        user_id: str | None

    class Claimed(Aggregate.Created):
        user_id: str

        def apply(self, aggregate: StaffEmail) -> None:
            aggregate.user_id = self.user_id

    class Released(Aggregate.Event):
        """The user's email changed: the address is free for someone else."""

        def apply(self, aggregate: StaffEmail) -> None:
            aggregate.user_id = None

    class ClaimedAgain(Aggregate.Event):
        user_id: str

        def apply(self, aggregate: StaffEmail) -> None:
            aggregate.user_id = self.user_id

    @classmethod
    def claim(cls, email: str, user_id: str, actor: str, now: datetime) -> StaffEmail:
        return cls._create(
            cls.Claimed,
            id=email_aggregate_id(email),
            user_id=user_id,
            actor=actor,
            timestamp=now,
        )

    def release(self, actor: str, now: datetime) -> None:
        self._record(self.Released, actor, now)

    def claim_again(self, user_id: str, actor: str, now: datetime) -> None:
        self._record(self.ClaimedAgain, actor, now, user_id=user_id)
