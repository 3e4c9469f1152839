"""Read model ``staff_directory``: staff users and forums, for the admin pages.

One row per user (name, role, scopes and how many of their tokens work) and
one row per forum. Token hashes are never copied here: the event store keeps
them, and only the application reads them, to authenticate.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)

from yswd.aggregates.organisation import Forum, Unit
from yswd.aggregates.topics import event_topics
from yswd.aggregates.users import StaffEmail, Token, User, fold_email
from yswd.projections.sql import upsert

metadata = MetaData()

users = Table(
    "rm_users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("scopes", Text, nullable=False),  # a JSON list of unit ids
    Column("created_at", Text, nullable=False),
    Column("tokens_active", Integer, nullable=False),
    Column("tokens_issued", Integer, nullable=False),
    Column("last_token_at", Text, nullable=False),
    Column("revoked_at", Text),
)

#: a table of its own (not a column of ``rm_users``), so that a store made before emails
#: existed gets it from ``create_all`` with no migration
emails = Table(
    "rm_user_emails",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("email", Text, nullable=False),
    Column("email_folded", Text, nullable=False, index=True),
)

forums = Table(
    "rm_forums",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("unit_id", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("created_at", Text, nullable=False),
)


class StaffDirectory:
    """Users and forums, as the admin and secretary pages list them."""

    name = "staff_directory"
    metadata = metadata
    wants_stored_form = False
    #: only user and organisation events are decoded for this model
    topic_prefixes = event_topics(User, Token, StaffEmail, Unit, Forum)

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        if isinstance(event, User.Created):
            at = event.timestamp.isoformat()
            row = {
                "id": event.user_id,
                "name": event.name,
                "role": event.role,
                "scopes": json.dumps(list(event.scopes)),
                "created_at": at,
                "tokens_active": 1,
                "tokens_issued": 1,
                "last_token_at": at,
                "revoked_at": None,
            }
            upsert(conn, users, row, "id")
        elif isinstance(event, User.TokenIssued):
            conn.execute(
                update(users)
                .where(users.c.id == _user_id(event))
                .values(
                    tokens_active=users.c.tokens_active + 1,
                    tokens_issued=users.c.tokens_issued + 1,
                    last_token_at=event.timestamp.isoformat(),
                )
            )
        elif isinstance(event, User.TokensRevoked):
            conn.execute(
                update(users)
                .where(users.c.id == _user_id(event))
                .values(tokens_active=0, revoked_at=event.timestamp.isoformat())
            )
        elif isinstance(event, User.RoleChanged):
            conn.execute(update(users).where(users.c.id == _user_id(event)).values(role=event.role))
        elif isinstance(event, User.EmailSet):
            user_id = _user_id(event)
            conn.execute(delete(emails).where(emails.c.user_id == user_id))
            if event.email is not None:
                conn.execute(
                    emails.insert().values(
                        user_id=user_id, email=event.email, email_folded=fold_email(event.email)
                    )
                )
        elif isinstance(event, Forum.Created):
            row = {
                "id": event.forum_id,
                "name": event.name,
                "unit_id": event.unit_id,
                "kind": str(event.kind),
                "created_at": event.timestamp.isoformat(),
            }
            upsert(conn, forums, row, "id")

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(users))
        conn.execute(delete(emails))
        conn.execute(delete(forums))


def _user_id(event: Any) -> str:
    return str(event.originator_id).removeprefix("user:")


def list_users(engine: Engine) -> list[dict[str, Any]]:
    """Every user, by name, with their email (``None`` if they have none)."""
    query = (
        select(users, emails.c.email)
        .join(emails, emails.c.user_id == users.c.id, isouter=True)
        .order_by(users.c.name, users.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [{**row, "scopes": json.loads(row["scopes"])} for row in rows]


def user_id_by_email(engine: Engine, email: str) -> str | None:
    """The user holding this email (compared case-insensitively), if any."""
    query = select(emails.c.user_id).where(emails.c.email_folded == fold_email(email))
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    return None if found is None else str(found)


def list_forums(engine: Engine) -> list[dict[str, Any]]:
    """Every forum, by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(forums).order_by(forums.c.name, forums.c.id)).mappings().all()
    return [dict(row) for row in rows]
