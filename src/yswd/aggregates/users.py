"""Staff users, their roles and scopes, and the index from token hash to user.

A user may hold several bearer tokens at once (an admin issues a new one
without ending the old one) until an admin revokes them all. Only hashes of
tokens are ever recorded.
"""

from __future__ import annotations

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

    @property
    def user_id(self) -> str:
        return self.id.removeprefix("user:")

    @property
    def active_token_hashes(self) -> tuple[str, ...]:
        """The hashes of the tokens that still work, oldest first."""
        return tuple(h for h in self.token_hashes if h not in self.revoked_hashes)

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
