"""Staff users and their API tokens, and who a token belongs to (authentication).

A token is shown once and stored only as its SHA-256 hash. A token's principal
is trusted from memory for ``PRINCIPAL_TTL_SECONDS``, so most requests do not
read the store; a token revoked on another process stops working here within
that time (at once on this one).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from yswd.aggregates.access import SYSTEM, Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import AlreadyExists, Forbidden, Unauthenticated
from yswd.aggregates.users import (
    Role,
    StaffEmail,
    Token,
    User,
    email_aggregate_id,
    fold_email,
    token_aggregate_id,
    user_aggregate_id,
)
from yswd.application.organisation import UnitsAndForums
from yswd.application.unit_of_work import IdempotencyKey, UnitOfWork, Written

#: how long a token's principal is trusted without reading the store again: a token
#: revoked on another process stops working there within this time (at once on this one)
PRINCIPAL_TTL_SECONDS = 2.0
#: at most this many tokens' principals are cached (expired ones are dropped first)
MAX_CACHED_PRINCIPALS = 10_000


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "yswd_" + secrets.token_urlsafe(32)


def principal_for(user: User) -> Principal:
    return Principal(user.user_id, user.name, user.role, frozenset(user.scopes))


@dataclass(frozen=True)
class NewUser:
    user: User
    token: str | None


class Users:
    """Adding staff, issuing and revoking their tokens, and authenticating a token."""

    def __init__(self, uow: UnitOfWork, organisation: UnitsAndForums) -> None:
        self.uow = uow
        self.organisation = organisation
        #: token hash -> (principal, monotonic time it expires)
        self._principals: dict[str, tuple[Principal, float]] = {}
        self.principal_ttl = PRINCIPAL_TTL_SECONDS
        self._lock = threading.Lock()

    # -- authentication -----------------------------------------------------------------

    def authenticate(self, token: str | None) -> Principal:
        if not token:
            raise Unauthenticated("Send 'Authorization: Bearer <token>'.")
        return self.authenticate_hash(hash_token(token))

    def authenticate_hash(self, token_hash: str) -> Principal:
        """The principal of the token with this hash, if it was issued and not revoked.

        Answers from a short-lived cache (``principal_ttl`` seconds), so a token
        revoked by another process stops working here within that time.
        """
        now = time.monotonic()
        cached = self.cached_principal(token_hash, now)
        if cached is not None:
            return cached
        principal = principal_for(self._holder_of(token_hash))
        with self._lock:
            if len(self._principals) >= MAX_CACHED_PRINCIPALS:
                for key in [k for k, (_, until) in self._principals.items() if until <= now]:
                    del self._principals[key]
                if len(self._principals) >= MAX_CACHED_PRINCIPALS:
                    self._principals.clear()
            self._principals[token_hash] = (principal, now + self.principal_ttl)
        return principal

    def cached_principal(self, token_hash: str, now: float | None = None) -> Principal | None:
        """The principal of this token hash if the cache still holds it; no I/O."""
        cached = self._principals.get(token_hash)
        if cached is not None and cached[1] > (time.monotonic() if now is None else now):
            return cached[0]
        return None

    def _forget_principals(self, user_id: str) -> None:
        """Drop every cached principal of a user, so the next request reads the store."""
        with self._lock:
            for key in [k for k, (p, _) in self._principals.items() if p.user_id == user_id]:
                del self._principals[key]

    def ensure_admin(self, token: str) -> bool:
        """Create the bootstrap admin for ``token`` unless it exists. True if created.

        The admin is found by the token's hash, so a store whose admin was made
        before keeps that admin (and its id) and never gets a second one. A new
        admin's id is random: it shows in ``referred_by`` and in NATS messages, and
        must tell nothing about the token (ids made by older versions were
        ``admin-`` and the start of the token's SHA-256, which a weak token gives
        away offline).
        """
        token_hash = hash_token(token)
        if self.uow.exists(token_aggregate_id(token_hash)):
            return False
        user_id = "admin-" + secrets.token_hex(8)
        now = self.uow.clock()
        user = User.create(
            user_id, "Administrator", Role.ADMIN, (), token_hash, SYSTEM.user_id, now
        )
        try:
            self.uow.save(user, Token.issue(token_hash, user_id, SYSTEM.user_id, now))
        except IntegrityError:
            return False  # another process created it first
        return True

    # -- users and tokens -----------------------------------------------------------------

    def create_user(
        self,
        actor: Principal,
        name: str,
        role: Role,
        scopes: Iterable[str],
        idempotency: IdempotencyKey | None = None,
        email: str | None = None,
    ) -> Written[NewUser]:
        """Add a member of staff. The token is returned once and stored only as a hash.

        ``email`` (optional, unique whatever its case) is what the organisation's
        sign-in matches; another user holding it already is ``AlreadyExists`` (409).
        """
        actor.require(Action.MANAGE_USERS)
        replay = self.uow.replay(actor, idempotency)
        if replay is not None:
            return Written(NewUser(replay.value, None), replay.position, replayed=True)
        scopes = list(dict.fromkeys(scopes))
        for unit_id in scopes:
            if not actor.covers(self.organisation.unit(unit_id).path):
                raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
        if not scopes and not actor.covers_everything:
            raise Forbidden("Only an administrator with no scope limits may add unlimited users.")
        token = new_token()
        token_hash = hash_token(token)
        user_id = self.uow.ids()
        now = self.uow.clock()
        user = User.create(user_id, name, role, scopes, token_hash, actor.user_id, now)
        also: list[Aggregate] = [Token.issue(token_hash, user_id, actor.user_id, now)]
        if email:
            email = email.strip()
            user.set_email(email, actor.user_id, now)
            also.append(self._claim_email(email, user_id, actor.user_id, now))
        try:
            written = self.uow.save_new(actor, user, "user", idempotency, also=tuple(also))
        except AlreadyExists:
            if email and self.email_holder(email) not in (None, user_id):
                raise AlreadyExists("Another user already has that email.") from None
            raise
        return Written(NewUser(user, token), written.position, written.replayed)

    # -- work emails (the organisation's sign-in matches them) ----------------------------

    def _claim_email(self, email: str, user_id: str, actor: str, now: datetime) -> StaffEmail:
        """The index entry that gives ``email`` to ``user_id``: new, or taken up again
        after its last holder let it go. Held by someone else: ``AlreadyExists``."""
        try:
            claim: StaffEmail = self.uow.store.repository.get(email_aggregate_id(email))
        except AggregateNotFoundError:
            return StaffEmail.claim(email, user_id, actor, now)
        if claim.user_id not in (None, user_id):
            raise AlreadyExists("Another user already has that email.")
        if claim.user_id is None:
            claim.claim_again(user_id, actor, now)
        return claim

    def email_holder(self, email: str) -> str | None:
        """The id of the user who holds ``email`` now (any case), if anyone does."""
        try:
            claim: StaffEmail = self.uow.store.repository.get(email_aggregate_id(email))
        except AggregateNotFoundError:
            return None
        return claim.user_id

    def change_role(self, actor: Principal, user_id: str, role: Role) -> Written[User]:
        """Give a user another role. Their staff sessions end on every replica by their
        next request (the session guard compares the role with the one signed in as)."""
        actor.require(Action.MANAGE_USERS)
        if user_id == actor.user_id:
            raise Forbidden("You cannot change your own role. Ask another administrator.")
        changed: list[User] = []

        def change(user: User, now: datetime) -> list[Aggregate]:
            user.change_role(role, actor.user_id, now)
            changed[:] = [user]
            return []

        position = self._change_user(actor, user_id, change)
        self._forget_principals(user_id)
        return Written(changed[0] if changed else self.user(user_id), position)

    def set_email(self, actor: Principal, user_id: str, email: str | None) -> Written[User]:
        """Give a user a work email, or take it away (``None``); unique whatever its case."""
        actor.require(Action.MANAGE_USERS)
        email = (email or "").strip() or None
        changed: list[User] = []

        def change(user: User, now: datetime) -> list[Aggregate]:
            changed[:] = [user]
            old = user.email
            if old is not None and email is not None and fold_email(old) == fold_email(email):
                user.set_email(email, actor.user_id, now)  # only its case changes
                return []
            extra: list[Aggregate] = []
            if email is not None:
                extra.append(self._claim_email(email, user.user_id, actor.user_id, now))
            if old is not None:
                try:
                    released: StaffEmail = self.uow.store.repository.get(email_aggregate_id(old))
                except AggregateNotFoundError:
                    pass
                else:
                    if released.user_id == user.user_id:
                        released.release(actor.user_id, now)
                        extra.append(released)
            user.set_email(email, actor.user_id, now)
            return extra

        position = self._change_user(actor, user_id, change)
        return Written(changed[0] if changed else self.user(user_id), position)

    def principal_for_sign_in(self, token: str) -> Principal:
        """The principal of a token as the store has it now, never from the cache: a
        staff session keeps the role it was made with, so it must be the current one."""
        if not token:
            raise Unauthenticated("Send a token.")
        return principal_for(self._holder_of(hash_token(token)))

    def _holder_of(self, token_hash: str) -> User:
        """The user holding this token as the store has it now; a token never issued, or
        revoked since, is refused (and forgotten by the cache)."""
        repository = self.uow.store.repository
        try:
            index: Token = repository.get(token_aggregate_id(token_hash))
            user: User = repository.get(user_aggregate_id(index.user_id))
        except AggregateNotFoundError:
            raise Unauthenticated("That token is not valid.") from None
        if not user.accepts(token_hash):
            with self._lock:
                self._principals.pop(token_hash, None)
            raise Unauthenticated("That token is not valid.")
        return user

    def session_principal(
        self, signed_in_as: Principal, token_hash: str, signed_in_at: datetime
    ) -> Principal:
        """The principal of a staff session, if it still stands; else ``Unauthenticated``.

        A session ends when the user's tokens are revoked after it began, when the
        user may no longer sign in at all, when the token it was made with stops
        working, or when the user's role or scopes are not what they were at sign-in.
        It reads the event store, so a change made on any replica counts here at once.
        """
        try:
            user: User = self.uow.store.repository.get(user_aggregate_id(signed_in_as.user_id))
        except AggregateNotFoundError:
            raise Unauthenticated("That user no longer exists.") from None
        revoked_at = getattr(user, "revoked_at", None)
        if token_hash and not user.accepts(token_hash):
            raise Unauthenticated("The token this session was made with no longer works.")
        if not user.active or (revoked_at is not None and revoked_at >= signed_in_at):
            raise Unauthenticated("This user's access was revoked.")
        now = principal_for(user)
        if now.role != signed_in_as.role or now.scopes != signed_in_as.scopes:
            raise Unauthenticated("This user's role changed: sign in again.")
        return now

    def user_for_email(self, email: str) -> User | None:
        """The active user whose work email this is (compared case-insensitively), or
        ``None``: nobody has it, or its holder may no longer sign in. Reads the event
        store, so a user an admin just added on another replica is found at once."""
        user_id = self.email_holder(email)
        if user_id is None:
            return None
        try:
            user: User = self.uow.store.repository.get(user_aggregate_id(user_id))
        except AggregateNotFoundError:
            return None
        if user.email is None or fold_email(user.email) != fold_email(email):
            return None
        return user if user.active else None

    def user(self, user_id: str) -> User:
        user: User = self.uow.get(user_aggregate_id(user_id), f"There is no user '{user_id}'.")
        return user

    def user_in_scope(self, actor: Principal, user: User) -> bool:
        """Whether every unit the user works in is in the actor's scope.

        A user with no scope limits can only be managed by an admin with none.
        """
        if not user.scopes:
            return actor.covers_everything
        return all(actor.covers(self.organisation.unit(unit_id).path) for unit_id in user.scopes)

    def issue_token(self, actor: Principal, user_id: str) -> Written[str]:
        """A new token for a user (shown once, stored as a hash); older ones keep working."""
        actor.require(Action.MANAGE_USERS)
        token = new_token()
        token_hash = hash_token(token)

        def issue(user: User, now: datetime) -> list[Aggregate]:
            user.issue_token(token_hash, actor.user_id, now)
            return [Token.issue(token_hash, user.user_id, actor.user_id, now)]

        position = self._change_user(actor, user_id, issue)
        return Written(token, position)

    def revoke_tokens(self, actor: Principal, user_id: str) -> Written[int]:
        """Every token of a user stops working (at once on this process). Returns how many."""
        actor.require(Action.MANAGE_USERS)
        if user_id == actor.user_id:
            raise Forbidden(
                "You cannot revoke your own tokens: you could not sign in again. "
                "Ask another administrator."
            )
        revoked: list[str] = []

        def revoke(user: User, now: datetime) -> list[Aggregate]:
            revoked[:] = user.revoke_tokens(actor.user_id, now)
            return []

        position = self._change_user(actor, user_id, revoke)
        self._forget_principals(user_id)
        return Written(len(revoked), position)

    def _change_user(
        self,
        actor: Principal,
        user_id: str,
        change: Callable[[User, datetime], list[Aggregate]],
    ) -> int | None:
        """Load, check scope, change and save one user (and what the change adds)."""

        def attempt() -> list[Aggregate]:
            user = self.user(user_id)
            if not self.user_in_scope(actor, user):
                raise Forbidden(f"User '{user_id}' is outside your scope.")
            extra = change(user, self.uow.clock())
            if not user.pending_events and not extra:
                return []  # nothing to record
            return [user, *extra]

        return self.uow.save_with_retries(f"User '{user_id}'", attempt)
