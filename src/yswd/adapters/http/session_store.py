"""Staff sessions, sign-in attempts and rate-limit counts, kept in the database.

Every replica of one deployment reads and writes the same tables (SQLite on the
embedded default, PostgreSQL scaled out: the read-model database), so a session
made on one replica is honoured by every other and survives restarts, and a
rate limit counts every replica's requests together.

- ``yswd_staff_sessions``: one row per signed-in session, keyed by the SHA-256 of
  its random id (the database never holds a value that would work as a cookie). The
  row keeps who signed in (user id, role and scopes as they were then), how (the
  token's hash, or the provider's ID token for RP-initiated logout), the session's
  CSRF token, and when it began and was last used. A session ends after
  ``idle`` unused and ``absolute`` in all, whichever comes first.
- ``yswd_sign_in_attempts``: the organisation sign-in's state record
  (``oidc.StateRecord.to_dict()``), between leaving for the provider and coming
  back, tied to a pre-sign-in cookie. It is deleted as it is read, so a callback
  can be used once.
- ``yswd_rate_hits``: one row per request a rate limit let through, with its time
  (:class:`DatabaseLimiter`: a sliding window, counted across replicas). Stores from
  before session 7 also hold ``yswd_rate_counts`` (fixed windows' counts), no longer
  read or written.
- ``yswd_secrets``: the cookie-signing secret when ``YSWD_SECRET_KEY`` is unset on a
  scaled-out deployment (see :func:`load_or_create_secret`).

Cookies carry the random id signed with ``YSWD_SECRET_KEY`` (itsdangerous), so an
altered cookie is ignored before the database is read. Time is an input: every
method reads the clock it was given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, Signer
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from yswd.aggregates.access import Principal
from yswd.aggregates.errors import RateLimited
from yswd.aggregates.users import Role

Clock = Callable[[], datetime]

#: the contract's limits: 8 hours unused, 12 hours in all
IDLE_LIMIT = timedelta(hours=8)
ABSOLUTE_LIMIT = timedelta(hours=12)
#: how long a sign-in may spend at the provider before its record is useless
ATTEMPT_LIMIT = timedelta(minutes=10)
#: ``last_seen`` is written at most this often per session (not on every request), or a
#: tenth of the idle limit if that is shorter
TOUCH_EVERY = timedelta(seconds=60)

metadata = MetaData()

sessions_table = Table(
    "yswd_staff_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("role", String(40), nullable=False),
    Column("scopes", Text, nullable=False),  # a JSON list, as at sign-in
    Column("name", Text, nullable=False),
    Column("token_hash", String(64)),  # signed in with a token (else: the organisation's)
    Column("id_token", Text),  # the provider's ID token, for RP-initiated logout
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),  # POSIX seconds
    Column("last_seen", Float, nullable=False),
)

attempts_table = Table(
    "yswd_sign_in_attempts",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("record", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

rate_hits_table = Table(
    "yswd_rate_hits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),  # the limit's prefix and the client's hash
    Column("at", Float, nullable=False),  # POSIX seconds
    Index("ix_yswd_rate_hits_key_at", "key", "at"),
)

secrets_table = Table(
    "yswd_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


#: PostgreSQL advisory lock serialising this module's CREATE TABLEs across replicas
#: starting together (the read models' is ``...0001``)
SCHEMA_LOCK_KEY = 0x7973_7764_0000_0002


def create_tables(engine: Engine) -> None:
    """Create this module's tables if they are missing (at start, like the read models'),
    one process at a time: replicas starting together would race to CREATE them."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
        metadata.create_all(conn)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def load_or_create_secret(configured: str | None, engine: Engine, data_dir: Path | None) -> bytes:
    """The secret that signs cookies.

    ``YSWD_SECRET_KEY`` when set (every replica of a deployment gets the same one).
    Unset on the embedded default: made once and kept in ``<data dir>/secret-key``
    (readable by its owner only). Unset when scaled out: made once and kept in the
    shared database, so every replica still signs alike.
    """
    if configured:
        return configured.encode()
    if data_dir is not None:
        path = data_dir / "secret-key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fresh = secrets.token_urlsafe(48)
            try:
                with path.open("x") as out:  # the first process to start wins
                    out.write(fresh)
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text().strip().encode()
    create_tables(engine)
    with engine.begin() as conn:
        found = conn.execute(
            select(secrets_table.c.value).where(secrets_table.c.name == "cookie-secret")
        ).scalar()
    if found is None:
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(secrets_table).values(
                        name="cookie-secret", value=secrets.token_urlsafe(48)
                    )
                )
        except IntegrityError:
            pass  # another replica made it first
        with engine.begin() as conn:
            found = conn.execute(
                select(secrets_table.c.value).where(secrets_table.c.name == "cookie-secret")
            ).scalar()
    return str(found).encode()


@dataclass
class Session:
    """One signed-in member of staff, as the session table holds them."""

    session_id: str
    principal: Principal
    csrf_token: str
    created_at: datetime
    last_seen: datetime
    #: the hash of the token signed in with ("" when signed in with the organisation's account)
    token_hash: str = ""
    #: the provider's ID token (for RP-initiated logout), if signed in that way
    id_token: str | None = None


class SessionStore:
    """Sessions and sign-in attempts in the database, with the secret that signs cookies."""

    def __init__(
        self,
        engine: Engine,
        secret: bytes,
        clock: Clock,
        *,
        idle: timedelta = IDLE_LIMIT,
        absolute: timedelta = ABSOLUTE_LIMIT,
    ) -> None:
        self.engine = engine
        self.secret = secret
        self.clock = clock
        self.idle = idle
        self.absolute = absolute
        self._signer = Signer(secret, salt="yswd-staff-session")
        self._attempt_signer = Signer(secret, salt="yswd-sign-in-attempt")
        self._form_signer = Signer(secret, salt="yswd-sign-in-form")

    # -- sessions -----------------------------------------------------------------------

    def open(
        self,
        principal: Principal,
        *,
        token_hash: str = "",
        id_token: str | None = None,
    ) -> tuple[Session, str]:
        """A new session, and the cookie value that names it."""
        now = self.clock()
        session = Session(
            session_id=secrets.token_urlsafe(32),
            principal=principal,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            token_hash=token_hash,
            id_token=id_token,
        )
        stamp = now.timestamp()
        with self.engine.begin() as conn:
            self._forget_expired(conn, stamp)
            conn.execute(
                insert(sessions_table).values(
                    id_hash=_digest(session.session_id),
                    user_id=principal.user_id,
                    role=principal.role.value,
                    scopes=json.dumps(sorted(principal.scopes)),
                    name=principal.name,
                    token_hash=token_hash or None,
                    id_token=id_token,
                    csrf_token=session.csrf_token,
                    created_at=stamp,
                    last_seen=stamp,
                )
            )
        return session, self._signer.sign(session.session_id).decode()

    def find(self, cookie: str | None) -> Session | None:
        """The live session this cookie names, touched; ``None`` if there is none, the
        cookie is forged, or the session has been idle or open too long (then it ends)."""
        session_id = self._unsign(self._signer, cookie)
        if session_id is None:
            return None
        now = self.clock()
        id_hash = _digest(session_id)
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(sessions_table).where(sessions_table.c.id_hash == id_hash))
                .mappings()
                .first()
            )
        if row is None:
            return None
        created = datetime.fromtimestamp(row["created_at"], UTC)
        last_seen = datetime.fromtimestamp(row["last_seen"], UTC)
        if now - last_seen > self.idle or now - created > self.absolute:
            self._delete(id_hash)
            return None
        if now - last_seen >= min(TOUCH_EVERY, self.idle / 10):
            with self.engine.begin() as conn:
                conn.execute(
                    update(sessions_table)
                    .where(sessions_table.c.id_hash == id_hash)
                    .values(last_seen=now.timestamp())
                )
            last_seen = now
        principal = Principal(
            row["user_id"], row["name"], Role(row["role"]), frozenset(json.loads(row["scopes"]))
        )
        return Session(
            session_id=session_id,
            principal=principal,
            csrf_token=row["csrf_token"],
            created_at=created,
            last_seen=last_seen,
            token_hash=row["token_hash"] or "",
            id_token=row["id_token"],
        )

    def close(self, session: Session) -> None:
        """End this session (sign-out), on every replica."""
        self._delete(_digest(session.session_id))

    def close_user(self, user_id: str) -> int:
        """End every session of a user; how many there were."""
        with self.engine.begin() as conn:
            done = conn.execute(delete(sessions_table).where(sessions_table.c.user_id == user_id))
        return int(done.rowcount or 0)

    def _delete(self, id_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(sessions_table).where(sessions_table.c.id_hash == id_hash))

    def _forget_expired(self, conn: Connection, stamp: float) -> None:
        conn.execute(
            delete(sessions_table).where(
                (sessions_table.c.last_seen < stamp - self.idle.total_seconds())
                | (sessions_table.c.created_at < stamp - self.absolute.total_seconds())
            )
        )
        conn.execute(
            delete(attempts_table).where(
                attempts_table.c.created_at < stamp - ATTEMPT_LIMIT.total_seconds()
            )
        )

    @staticmethod
    def _unsign(signer: Signer, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 400:
            return None
        try:
            return signer.unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    # -- the organisation sign-in's state, before there is a session ----------------------

    def keep_attempt(self, record: dict[str, str]) -> str:
        """Keep a sign-in attempt's state record; the cookie value that names it."""
        attempt_id = secrets.token_urlsafe(32)
        stamp = self.clock().timestamp()
        with self.engine.begin() as conn:
            self._forget_expired(conn, stamp)
            conn.execute(
                insert(attempts_table).values(
                    id_hash=_digest(attempt_id), record=json.dumps(record), created_at=stamp
                )
            )
        return self._attempt_signer.sign(attempt_id).decode()

    def take_attempt(self, cookie: str | None) -> dict[str, Any] | None:
        """The attempt's record, deleted as it is read (so it serves one callback only)."""
        attempt_id = self._unsign(self._attempt_signer, cookie)
        if attempt_id is None:
            return None
        id_hash = _digest(attempt_id)
        with self.engine.begin() as conn:
            record = conn.execute(
                select(attempts_table.c.record).where(attempts_table.c.id_hash == id_hash)
            ).scalar()
            done = conn.execute(delete(attempts_table).where(attempts_table.c.id_hash == id_hash))
        if record is None or not done.rowcount:
            return None  # another request (a replay) took it first
        found: dict[str, Any] = json.loads(record)
        return found

    # -- the token form's CSRF token (before there is a session) --------------------------

    def sign_in_token(self, nonce: str) -> str:
        return self._form_signer.get_signature(nonce).decode()

    def check_sign_in_token(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        expected = self.sign_in_token(str(nonce))
        return hmac.compare_digest(expected.encode(), str(token).encode())


class DatabaseLimiter:
    """At most ``limit`` requests per key in any ``window_seconds`` (a sliding window),
    counted in the database, so every replica's requests count together.

    Each request let through is a row with its time; a request is let through when
    fewer than ``limit`` rows of its key are younger than the window. A fixed window
    (the count per whole minute, as before session 7) let a burst straddling a
    window's end through twice. A refused request writes nothing, so it does not
    push the client's next chance further away; ``Retry-After`` is when the oldest
    request in the window leaves it.
    """

    def __init__(
        self,
        engine: Engine,
        limit: int,
        window_seconds: int,
        clock: Clock,
        *,
        prefix: str,
        message: str = "Too many requests from your address; try again in {seconds} seconds.",
    ) -> None:
        if limit < 1 or window_seconds < 1:
            raise ValueError("limit must be at least 1 and the window positive")
        self.engine = engine
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self.prefix = prefix
        self.message = message

    def acquire(self, client: str) -> None:
        """Count one request for ``client``, or raise ``RateLimited`` with Retry-After."""
        now = self.clock().timestamp()
        key = f"{self.prefix}:{_digest(client)}"
        hits = rate_hits_table.c
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # one request of this key at a time, on every replica, until the commit:
                # two at once would each count without the other and both get in
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": key},
                )
            # on SQLite this first write takes the file's write lock: the same effect
            conn.execute(insert(rate_hits_table).values(key=key, at=now))
            inside, oldest = conn.execute(
                select(func.count(), func.min(hits.at)).where(
                    hits.key == key, hits.at > now - self.window
                )
            ).one()
            if inside > self.limit:
                retry_after = max(1, math.ceil(oldest + self.window - now))
                # raised inside the transaction: it rolls back, the refusal is not kept
                raise RateLimited(self.message.format(seconds=retry_after), retry_after)
            if secrets.randbelow(100) == 0:  # now and then, forget this limit's old rows
                conn.execute(
                    delete(rate_hits_table).where(
                        hits.key.startswith(f"{self.prefix}:", autoescape=True),
                        hits.at <= now - self.window,
                    )
                )
