"""The application layer: one method per command, each turning a request into
aggregate calls and saving the result atomically.

The HTTP edge, the CLI and the demo loader all come through here, so every
rule (roles, scopes, transitions, optimistic concurrency, idempotency) is
enforced in one place.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Generic, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding
from eventsourcing.utils import Environment, EnvType

from yswd.aggregates.access import SYSTEM, Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.disclosure import Disclosure, ReadKind
from yswd.aggregates.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    VersionConflict,
)
from yswd.aggregates.idempotency import IdempotentRequest
from yswd.aggregates.item import Channel, Item, item_aggregate_id
from yswd.aggregates.organisation import (
    Forum,
    ForumKind,
    Unit,
    forum_aggregate_id,
    unit_aggregate_id,
)
from yswd.aggregates.users import Role, Token, User, token_aggregate_id, user_aggregate_id

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]

#: how often a command without If-Match is retried when another writer got there first
#: (each round at least one writer wins, so this bounds the writers that may pile up)
MAX_RETRIES = 64
#: no aggregate id is longer; longer ones are unknown without asking the store
MAX_ID_LENGTH = 300
#: how long a token's principal is trusted without reading the store again: a token
#: revoked on another process stops working there within this time (at once on this one)
PRINCIPAL_TTL_SECONDS = 2.0
#: at most this many tokens' principals are cached (expired ones are dropped first)
MAX_CACHED_PRINCIPALS = 10_000


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A random, URL-safe id with 64 bits of entropy."""
    return secrets.token_hex(8)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "yswd_" + secrets.token_urlsafe(32)


class DateAsISO(Transcoding):
    """Stores ``datetime.date`` values as ``YYYY-MM-DD``."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Written(Generic[T]):
    """What a command produced, and where in the event log it was written.

    ``position`` lets a client wait for read models to catch up (read your
    writes); ``replayed`` is true when an Idempotency-Key returned an earlier answer.
    """

    value: T
    position: int | None
    replayed: bool = False


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's Idempotency-Key and a fingerprint of the request it came with."""

    key: str
    fingerprint: str

    def record_id(self, actor: Principal) -> str:
        return hashlib.sha256(f"{actor.user_id}\0{self.key}".encode()).hexdigest()


@dataclass(frozen=True)
class NewUser:
    user: User
    token: str | None


class Yswd(Application[str]):
    """The event store and the commands of yswd."""

    name = "yswd"

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = utc_now,
        ids: IdFactory = new_id,
        target_days: int = 28,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.ids = ids
        self.target_days = target_days
        self._units: dict[str, Unit] = {}
        self._forums: dict[str, Forum] = {}
        #: token hash -> (principal, monotonic time it expires)
        self._principals: dict[str, tuple[Principal, float]] = {}
        self.principal_ttl = PRINCIPAL_TTL_SECONDS
        self._cache_lock = threading.Lock()

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the settings the composition root passes, never stray os.environ keys."""
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- authentication ---------------------------------------------------

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
        try:
            index: Token = self.repository.get(token_aggregate_id(token_hash))
            user: User = self.repository.get(user_aggregate_id(index.user_id))
        except AggregateNotFoundError:
            raise Unauthenticated("That token is not valid.") from None
        if not user.accepts(token_hash):
            with self._cache_lock:
                self._principals.pop(token_hash, None)
            raise Unauthenticated("That token is not valid.")
        principal = principal_for(user)
        with self._cache_lock:
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
        with self._cache_lock:
            for key in [k for k, (p, _) in self._principals.items() if p.user_id == user_id]:
                del self._principals[key]

    def ensure_admin(self, token: str) -> bool:
        """Create the bootstrap admin for ``token`` unless it exists. True if created."""
        token_hash = hash_token(token)
        if self._exists(token_aggregate_id(token_hash)):
            return False
        user_id = "admin-" + token_hash[:12]
        now = self.clock()
        user = User.create(
            user_id, "Administrator", Role.ADMIN, (), token_hash, SYSTEM.user_id, now
        )
        try:
            self.save(user, Token.issue(token_hash, user_id, SYSTEM.user_id, now))
        except IntegrityError:
            return False  # another process created it first
        return True

    # -- organisation ---------------------------------------------------------

    def create_unit(
        self,
        actor: Principal,
        unit_id: str,
        name: str,
        parent_id: str | None,
        idempotency: IdempotencyKey | None = None,
    ) -> Written[Unit]:
        actor.require(Action.MANAGE_ORGANISATION)
        replay = self._replay(actor, idempotency)
        if replay is not None:
            return replay
        parent = self.unit(parent_id) if parent_id is not None else None
        if parent is None and not actor.covers_everything:
            raise Forbidden("Only an administrator with no scope limits may add a top-level unit.")
        if parent is not None and not actor.covers(parent.path):
            raise Forbidden(f"Unit '{parent_id}' is outside your scope.")
        if self._exists(unit_aggregate_id(unit_id)):
            raise AlreadyExists(f"A unit with id '{unit_id}' already exists.")
        unit = Unit.create(unit_id, name, parent, actor.user_id, self.clock())
        return self._save_new(actor, unit, "unit", idempotency)

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
        replay = self._replay(actor, idempotency)
        if replay is not None:
            return replay
        unit = self.unit(unit_id)
        if not actor.covers(unit.path):
            raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
        if self._exists(forum_aggregate_id(forum_id)):
            raise AlreadyExists(f"A forum with id '{forum_id}' already exists.")
        forum = Forum.create(forum_id, name, unit_id, kind, actor.user_id, self.clock())
        return self._save_new(actor, forum, "forum", idempotency)

    def create_user(
        self,
        actor: Principal,
        name: str,
        role: Role,
        scopes: Iterable[str],
        idempotency: IdempotencyKey | None = None,
    ) -> Written[NewUser]:
        """Add a member of staff. The token is returned once and stored only as a hash."""
        actor.require(Action.MANAGE_USERS)
        replay = self._replay(actor, idempotency)
        if replay is not None:
            return Written(NewUser(replay.value, None), replay.position, replayed=True)
        scopes = list(dict.fromkeys(scopes))
        for unit_id in scopes:
            if not actor.covers(self.unit(unit_id).path):
                raise Forbidden(f"Unit '{unit_id}' is outside your scope.")
        if not scopes and not actor.covers_everything:
            raise Forbidden("Only an administrator with no scope limits may add unlimited users.")
        token = new_token()
        token_hash = hash_token(token)
        user_id = self.ids()
        now = self.clock()
        user = User.create(user_id, name, role, scopes, token_hash, actor.user_id, now)
        index = Token.issue(token_hash, user_id, actor.user_id, now)
        written = self._save_new(actor, user, "user", idempotency, also=(index,))
        return Written(NewUser(user, token), written.position, written.replayed)

    def unit(self, unit_id: str) -> Unit:
        """A unit by its id (cached: units never change once created)."""
        unit = self._units.get(unit_id)
        if unit is None:
            unit = self._get(unit_aggregate_id(unit_id), f"There is no unit '{unit_id}'.")
            with self._cache_lock:
                self._units[unit_id] = unit
        return unit

    def forum(self, forum_id: str) -> Forum:
        """A forum by its id (cached like units: a forum has no event after ``Created``).

        Raising an item looks its forum up; without the cache that was a second
        store transaction on every raise.
        """
        forum = self._forums.get(forum_id)
        if forum is None:
            forum = self._get(forum_aggregate_id(forum_id), f"There is no forum '{forum_id}'.")
            with self._cache_lock:
                self._forums[forum_id] = forum
        return forum

    def user(self, user_id: str) -> User:
        user: User = self._get(user_aggregate_id(user_id), f"There is no user '{user_id}'.")
        return user

    def user_in_scope(self, actor: Principal, user: User) -> bool:
        """Whether every unit the user works in is in the actor's scope.

        A user with no scope limits can only be managed by an admin with none.
        """
        if not user.scopes:
            return actor.covers_everything
        return all(actor.covers(self.unit(unit_id).path) for unit_id in user.scopes)

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
        """Load a user in the actor's scope, change it, save it with ``change``'s extras."""

        def attempt() -> list[Aggregate]:
            user = self.user(user_id)
            if not self.user_in_scope(actor, user):
                raise Forbidden(f"User '{user_id}' is outside your scope.")
            extra = change(user, self.clock())
            if not user.pending_events and not extra:
                return []  # nothing to record
            return [user, *extra]

        return self.save_with_retries(f"User '{user_id}'", attempt)

    # -- items: creating ----------------------------------------------------------

    def raise_item(
        self,
        actor: Principal,
        *,
        forum_id: str,
        channel: Channel,
        raised_on: date,
        title: str,
        you_said: str,
        detail: str | None = None,
        contributor: str | None = None,
        themes: Iterable[str] = (),
        idempotency: IdempotencyKey | None = None,
    ) -> Written[Item]:
        actor.require(Action.RAISE)
        replay = self._replay(actor, idempotency)
        if replay is not None:
            return replay
        _require_plausible("raised_on", raised_on)
        forum = self.forum(forum_id)
        if not actor.covers(self.unit(forum.unit_id).path):
            raise Forbidden(f"Forum '{forum_id}' is outside your scope.")
        item = Item.raise_item(
            self.ids(),
            forum_id=forum_id,
            unit_id=forum.unit_id,
            channel=channel,
            raised_on=raised_on,
            title=title,
            you_said=you_said,
            detail=detail,
            contributor=contributor,
            themes=themes,
            actor=actor.user_id,
            now=self.clock(),
        )
        return self._save_new(actor, item, "item", idempotency)

    # -- items: moving them on ----------------------------------------------------

    def publish(
        self, actor: Principal, item_id: str, you_said: str | None, expected_version: int | None
    ) -> Written[Item]:
        return self._change_item(
            actor,
            item_id,
            Action.PUBLISH,
            expected_version,
            lambda item, now: item.publish(you_said, actor.user_id, now),
        )

    def refer(
        self,
        actor: Principal,
        item_id: str,
        to_unit_id: str | None,
        due_on: date | None,
        note: str | None,
        expected_version: int | None,
        to_forum_id: str | None = None,
    ) -> Written[Item]:
        """Refer to a unit, or to a forum (e.g. Development Board -> Partnership Board).

        With ``to_forum_id`` the item is referred to that forum's own unit (so its
        staff have it in scope); a ``to_unit_id`` sent with it must be that unit or
        one of its ancestors. Without ``to_unit_id`` it is taken from the forum.
        """
        actor.require(Action.REFER)  # a role that may not refer learns nothing about units
        if to_forum_id is not None:
            forum = self.forum(to_forum_id)  # 404 for a forum that does not exist
            if to_unit_id is not None:
                self.unit(to_unit_id)
                if to_unit_id not in self.unit(forum.unit_id).path:
                    raise InvalidInput(
                        f"Forum '{to_forum_id}' does not belong to unit '{to_unit_id}'."
                    )
            to_unit_id = forum.unit_id
        elif to_unit_id is None:
            raise InvalidInput("Send 'to_unit_id' or 'to_forum_id'.")
        self.unit(to_unit_id)  # 404 for a unit that does not exist
        target_unit = to_unit_id

        if due_on is not None:
            _require_plausible("due_on", due_on)

        def refer(item: Item, now: datetime) -> None:
            if due_on is not None and due_on < item.raised_on:
                raise InvalidInput("due_on cannot be before the date the item was raised.")
            item.refer(target_unit, due_on, note, actor.user_id, now, to_forum_id=to_forum_id)

        return self._change_item(actor, item_id, Action.REFER, expected_version, refer)

    def respond(
        self, actor: Principal, item_id: str, response: str, expected_version: int | None
    ) -> Written[Item]:
        return self._change_item(
            actor,
            item_id,
            Action.RESPOND,
            expected_version,
            lambda item, now: item.respond(response, actor.user_id, now),
        )

    def note_progress(
        self,
        actor: Principal,
        item_id: str,
        note: str,
        expected_version: int | None,
        kind: str = "progress",
    ) -> Written[Item]:
        """A progress note; ``kind="lack_of_progress"`` says why there has been none."""
        return self._change_item(
            actor,
            item_id,
            Action.PROGRESS,
            expected_version,
            lambda item, now: item.note_progress(note, actor.user_id, now, kind),
        )

    def link_repeat(
        self, actor: Principal, item_id: str, original_id: str, expected_version: int | None
    ) -> Written[Item]:
        """Link ``item_id`` as a repeat of ``original_id``; both items are saved together."""
        actor.require(Action.PROGRESS)
        changed: list[Item] = []

        def attempt() -> list[Aggregate]:
            item = self._load_item(item_id)
            self.require_item_in_scope(actor, item)
            original = self._load_item(original_id)
            self.require_item_in_scope(actor, original)
            require_version(item, expected_version, f"Item '{item_id}'")
            item.link_as_repeat_of(original, actor.user_id, self.clock())
            changed[:] = [item]
            return [item, original]

        what = f"Item '{item_id}'"
        position = self.save_with_retries(what, attempt, fenced=expected_version is not None)
        return Written(changed[0], position)

    def complete(
        self, actor: Principal, item_id: str, we_did: str, expected_version: int | None
    ) -> Written[Item]:
        return self._change_item(
            actor,
            item_id,
            Action.COMPLETE,
            expected_version,
            lambda item, now: item.complete(we_did, actor.user_id, now),
        )

    def decline(
        self,
        actor: Principal,
        item_id: str,
        because: str,
        instead: str | None,
        expected_version: int | None,
    ) -> Written[Item]:
        return self._change_item(
            actor,
            item_id,
            Action.DECLINE,
            expected_version,
            lambda item, now: item.decline(because, instead, actor.user_id, now),
        )

    def verify(
        self,
        actor: Principal,
        item_id: str,
        confirmed: bool,
        note: str | None,
        expected_version: int | None,
    ) -> Written[Item]:
        return self._change_item(
            actor,
            item_id,
            Action.VERIFY,
            expected_version,
            lambda item, now: item.verify(confirmed, note, actor.user_id, now),
        )

    def reopen(
        self, actor: Principal, item_id: str, reason: str, expected_version: int | None
    ) -> Written[Item]:
        return self._change_item(
            actor,
            item_id,
            Action.REOPEN,
            expected_version,
            lambda item, now: item.reopen(reason, actor.user_id, now),
        )

    # -- items: reading -------------------------------------------------------------

    def get_item(self, actor: Principal, item_id: str, version: int | None = None) -> Item:
        """One item in the actor's scope; a read of its contributor or detail is recorded."""
        actor.require(Action.READ_ITEMS)
        item = self._load_item(item_id, version)
        self.require_item_in_scope(actor, item)
        if item.contributor is not None or item.detail is not None:
            self.record_read(actor, ReadKind.ITEM, [item.item_id])
        return item

    def record_read(self, actor: Principal, kind: ReadKind, item_ids: Iterable[str]) -> int | None:
        """Record who read which items' identifiable data, and when, before it is shown.

        It raises when the record cannot be written, and then the read must be
        refused: no identifiable data leaves without its record. Returns the
        record's log position (None when there was nothing to record).
        """
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            return None
        read = Disclosure.record(
            new_id(),  # random, and never drawn from ``self.ids`` (tests fix those)
            reader_id=actor.user_id,
            role=actor.role.value,
            kind=kind,
            item_ids=ids,
            now=self.clock(),
        )
        recordings = self.save(read)
        return recordings[-1].notification.id if recordings else None

    def item_in_scope(self, actor: Principal, item: Item) -> bool:
        if actor.covers(self.unit(item.unit_id).path):
            return True
        return item.referred_to is not None and actor.covers(self.unit(item.referred_to).path)

    def require_item_in_scope(self, actor: Principal, item: Item) -> None:
        if not self.item_in_scope(actor, item):
            raise Forbidden(f"Item '{item.item_id}' is outside your scope.")

    # -- internals ------------------------------------------------------------------

    def save_with_retries(
        self, what: str, attempt: Callable[[], Sequence[Aggregate]], *, fenced: bool = False
    ) -> int | None:
        """Run ``attempt`` (load, check, change) and save what it returns, atomically.

        When another writer got there first, the whole attempt runs again on fresh
        state, so every rule is re-checked. ``fenced`` (the caller sent If-Match)
        refuses instead of retrying. Returns the log position of the last event.
        """
        for round_ in range(MAX_RETRIES):
            if round_:
                time.sleep(random.uniform(0, min(0.002 * round_, 0.05)))  # spread retries out
            aggregates = attempt()
            if not aggregates:
                return None
            try:
                recordings = self.save(*aggregates)
            except IntegrityError:
                if fenced:
                    raise VersionConflict(
                        f"{what} changed while this request was handled."
                    ) from None
                continue
            return recordings[-1].notification.id if recordings else None
        raise VersionConflict(f"{what} is changing too often; try again.")

    def _change_item(
        self,
        actor: Principal,
        item_id: str,
        action: Action,
        expected_version: int | None,
        change: Callable[[Item, datetime], None],
    ) -> Written[Item]:
        """Load, check, change and save one item, with optimistic concurrency.

        With ``expected_version`` (If-Match) a stale item is refused. Without it,
        losing a race to another writer reloads and re-checks the rules.
        """
        actor.require(action)
        changed: list[Item] = []

        def attempt() -> list[Aggregate]:
            item = self._load_item(item_id)
            self.require_item_in_scope(actor, item)
            require_version(item, expected_version, f"Item '{item_id}'")
            change(item, self.clock())
            changed[:] = [item]
            return [item]

        what = f"Item '{item_id}'"
        position = self.save_with_retries(what, attempt, fenced=expected_version is not None)
        return Written(changed[0], position)

    def _load_item(self, item_id: str, version: int | None = None) -> Item:
        item: Item = self._get(
            item_aggregate_id(item_id), f"There is no item '{item_id}'.", version
        )
        return item

    def _get(self, aggregate_id: str, missing: str, version: int | None = None) -> Any:
        if len(aggregate_id) > MAX_ID_LENGTH or "\x00" in aggregate_id:
            raise NotFound(missing[:200])  # no such id is ever made; PostgreSQL refuses NUL
        try:
            return self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(missing) from None

    def _exists(self, aggregate_id: str) -> bool:
        return bool(self.recorder.select_events(aggregate_id, limit=1))

    def _replay(self, actor: Principal, idempotency: IdempotencyKey | None) -> Written[Any] | None:
        """The first answer to a request repeated with the same Idempotency-Key, if any."""
        if idempotency is None:
            return None
        try:
            record: IdempotentRequest = self.repository.get(f"idem:{idempotency.record_id(actor)}")
        except AggregateNotFoundError:
            return None
        if record.fingerprint != idempotency.fingerprint:
            raise InvalidInput("This Idempotency-Key was already used with a different request.")
        resource: Aggregate = self.repository.get(
            record.resource_id, version=record.resource_version
        )
        return Written(resource, None, replayed=True)

    def _save_new(
        self,
        actor: Principal,
        aggregate: A,
        kind: str,
        idempotency: IdempotencyKey | None,
        also: tuple[Aggregate, ...] = (),
    ) -> Written[A]:
        """Save a new aggregate, with its idempotency record, in one transaction."""
        extra: list[Aggregate] = list(also)
        if idempotency is not None:
            extra.append(
                IdempotentRequest.record(
                    idempotency.record_id(actor),
                    idempotency.fingerprint,
                    kind,
                    aggregate.id,
                    aggregate.version,
                    actor.user_id,
                    self.clock(),
                )
            )
        try:
            recordings = self.save(aggregate, *extra)
        except IntegrityError:
            replay = self._replay(actor, idempotency)
            if replay is not None:
                return replay
            raise AlreadyExists(
                f"The {kind} id '{aggregate.id.split(':', 1)[1]}' is taken."
            ) from None
        return Written(aggregate, recordings[-1].notification.id if recordings else None)


#: dates outside this window are typing mistakes, and would overflow date arithmetic
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)


def _require_plausible(name: str, value: date) -> None:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise InvalidInput(f"{name} must be between {EARLIEST_DATE} and {LATEST_DATE}.")


def require_version(aggregate: Aggregate, expected: int | None, what: str) -> None:
    """If-Match: refuse when the aggregate has moved on from the version the caller saw."""
    if expected is not None and aggregate.version != expected:
        raise VersionConflict(f"{what} is at version {aggregate.version}, not {expected}.")


def principal_for(user: User) -> Principal:
    return Principal(user.user_id, user.name, user.role, frozenset(user.scopes))


def fingerprint(method: str, path: str, body: Mapping[str, Any] | bytes) -> str:
    raw = body if isinstance(body, bytes) else repr(sorted(body.items())).encode()
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + raw).hexdigest()
