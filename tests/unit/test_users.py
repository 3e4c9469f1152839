"""Users' tokens: issuing more, revoking them all, scope rules, and the principal cache."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count

import pytest

from yswd.adapters.persistence import memory_env
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.errors import Forbidden, NotFound, Unauthenticated
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role, User
from yswd.application.service import Yswd
from yswd.bootstrap import Container, build, fixed_clock
from yswd.projections.staff_directory import list_forums, list_users

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def app() -> Yswd:
    ids = count(1)
    app = Yswd(memory_env(), clock=lambda: NOW, ids=lambda: f"u{next(ids)}")
    for unit_id, parent in (
        ("north-west", None),
        ("meadowbank", "north-west"),
        ("cedar", "meadowbank"),
        ("elsewhere", None),
    ):
        app.create_unit(SYSTEM, unit_id, unit_id.title(), parent)
    return app


def new_user(app: Yswd, role: Role, *scopes: str) -> tuple[User, str]:
    made = app.create_user(SYSTEM, f"A {role.value}", role, scopes).value
    assert made.token is not None
    return made.user, made.token


def signed_in(app: Yswd, role: Role, *scopes: str) -> Principal:
    return app.authenticate(new_user(app, role, *scopes)[1])


def test_a_new_token_works_and_the_old_one_keeps_working(app: Yswd) -> None:
    user, first = new_user(app, Role.MANAGER, "cedar")
    issued = app.issue_token(SYSTEM, user.user_id)
    second = issued.value
    assert second.startswith("yswd_") and second != first
    assert issued.position is not None
    assert app.authenticate(first).user_id == user.user_id
    assert app.authenticate(second).user_id == user.user_id
    stored = app.user(user.user_id)
    assert len(stored.active_token_hashes) == 2
    assert second not in repr(vars(stored))  # only hashes are kept


def test_revoked_tokens_stop_at_once_even_when_cached(app: Yswd) -> None:
    user, first = new_user(app, Role.SECRETARY, "cedar")
    second = app.issue_token(SYSTEM, user.user_id).value
    for token in (first, second):
        app.authenticate(token)  # now in the cache
    revoked = app.revoke_tokens(SYSTEM, user.user_id)
    assert revoked.value == 2 and revoked.position is not None
    for token in (first, second):
        with pytest.raises(Unauthenticated):
            app.authenticate(token)
    again = app.revoke_tokens(SYSTEM, user.user_id)
    assert again.value == 0 and again.position is None  # nothing more was recorded

    third = app.issue_token(SYSTEM, user.user_id).value
    assert app.authenticate(third).user_id == user.user_id
    with pytest.raises(Unauthenticated):
        app.authenticate(first)  # revoked stays revoked


def test_only_admins_in_scope_manage_tokens(app: Yswd) -> None:
    cedar_manager, _ = new_user(app, Role.MANAGER, "cedar")
    other, _ = new_user(app, Role.MANAGER, "elsewhere")
    everywhere, _ = new_user(app, Role.AUDITOR)
    scoped_admin = signed_in(app, Role.ADMIN, "meadowbank")

    assert app.issue_token(scoped_admin, cedar_manager.user_id).value
    assert app.revoke_tokens(scoped_admin, cedar_manager.user_id).value == 2
    for target in (other, everywhere):
        with pytest.raises(Forbidden, match="outside your scope"):
            app.issue_token(scoped_admin, target.user_id)
        with pytest.raises(Forbidden, match="outside your scope"):
            app.revoke_tokens(scoped_admin, target.user_id)
    for role in (Role.MANAGER, Role.AUDITOR, Role.SECRETARY, Role.MODERATOR):
        actor = signed_in(app, role, "cedar") if role is not Role.AUDITOR else signed_in(app, role)
        with pytest.raises(Forbidden):
            app.issue_token(actor, other.user_id)
        with pytest.raises(Forbidden):
            app.revoke_tokens(actor, other.user_id)
    with pytest.raises(NotFound):
        app.issue_token(SYSTEM, "nobody")
    with pytest.raises(NotFound):
        app.revoke_tokens(SYSTEM, "nobody")
    assert app.authenticate(app.issue_token(SYSTEM, other.user_id).value)


def test_an_admin_cannot_lock_themself_out(app: Yswd) -> None:
    admin_user, token = new_user(app, Role.ADMIN)
    admin = app.authenticate(token)
    with pytest.raises(Forbidden, match="your own tokens"):
        app.revoke_tokens(admin, admin_user.user_id)
    assert app.authenticate(token) == admin


def test_the_bootstrap_admins_token_can_be_revoked_for_good(app: Yswd) -> None:
    assert app.ensure_admin("boot-token")
    admin = app.authenticate("boot-token")
    app.revoke_tokens(SYSTEM, admin.user_id)
    assert not app.ensure_admin("boot-token")  # a restart does not bring it back
    with pytest.raises(Unauthenticated):
        app.authenticate("boot-token")


@pytest.fixture
def container() -> Iterator[Container]:
    built = build(memory=True, clock=fixed_clock(NOW))
    try:
        yield built
    finally:
        built.close()


def test_the_staff_directory_lists_users_and_forums_without_token_hashes(
    container: Container,
) -> None:
    app = container.app
    app.create_unit(SYSTEM, "cedar", "Cedar ward", None)
    app.create_forum(SYSTEM, "cedar-cm", "Cedar meeting", "cedar", ForumKind.COMMUNITY_MEETING)
    made = app.create_user(SYSTEM, "Sam Secretary", Role.SECRETARY, ["cedar"]).value
    user_id = made.user.user_id
    app.issue_token(SYSTEM, user_id)
    container.runner.catch_up()
    [row] = [row for row in list_users(container.engine) if row["id"] == user_id]
    assert row["name"] == "Sam Secretary" and row["role"] == "secretary"
    assert row["scopes"] == ["cedar"]
    assert (row["tokens_active"], row["tokens_issued"], row["revoked_at"]) == (2, 2, None)
    assert not any(re.search(r"[0-9a-f]{64}", str(value)) for value in row.values())

    app.revoke_tokens(SYSTEM, user_id)
    container.runner.catch_up()
    [row] = [row for row in list_users(container.engine) if row["id"] == user_id]
    assert row["tokens_active"] == 0 and row["revoked_at"] == NOW.isoformat()
    assert list_forums(container.engine) == [
        {
            "id": "cedar-cm",
            "name": "Cedar meeting",
            "unit_id": "cedar",
            "kind": "community_meeting",
            "created_at": NOW.isoformat(),
        }
    ]

    container.runner.rebuild(["staff_directory"])
    [again] = [row for row in list_users(container.engine) if row["id"] == user_id]
    assert again == row
