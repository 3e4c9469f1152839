"""Work emails for the organisation's sign-in, and whether a staff session still stands.

Given Alice Ward, whom an admin adds with her work email, then the organisation's
sign-in finds her by that email in any case; nobody else may hold it; when she moves
to another email the old one is free again. Her session ends when her tokens are
revoked or her role changes, and signing in never creates anyone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.errors import AlreadyExists, Forbidden, Unauthenticated
from yswd.aggregates.users import Role, User
from yswd.application.users import hash_token, principal_for
from yswd.bootstrap import Container, build
from yswd.settings import Settings

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def container() -> Container:
    return build(Settings(), memory=True, clock=lambda: NOW)


def admin(container: Container) -> Principal:
    container.app.ensure_admin("unit-admin-token")
    return container.app.authenticate("unit-admin-token")


def add(container: Container, name: str, email: str | None, role: Role = Role.AUDITOR) -> User:
    written = container.app.create_user(admin(container), name, role, [], email=email)
    user: User = written.value.user
    return user


def test_the_sign_in_finds_a_user_by_email_whatever_its_case(container: Container) -> None:
    alice = add(container, "Alice Ward", "Alice.Ward@Hospital.Example")
    found = container.app.user_for_email("  alice.ward@hospital.example ")
    assert found is not None and found.user_id == alice.user_id
    assert found.email == "Alice.Ward@Hospital.Example"
    assert container.app.user_for_email("stranger@elsewhere.example") is None


def test_an_email_belongs_to_one_user_and_is_freed_when_it_changes(
    container: Container,
) -> None:
    alice = add(container, "Alice Ward", "alice@hospital.example")
    with pytest.raises(AlreadyExists):
        add(container, "Another Alice", "ALICE@hospital.example")
    sam = add(container, "Sam Stranger", None)
    with pytest.raises(AlreadyExists):
        container.app.set_email(admin(container), sam.user_id, "Alice@Hospital.example")
    container.app.set_email(admin(container), alice.user_id, "alice.ward@hospital.example")
    assert container.app.user_for_email("alice@hospital.example") is None
    container.app.set_email(admin(container), sam.user_id, "alice@hospital.example")
    found = container.app.user_for_email("alice@hospital.example")
    assert found is not None and found.user_id == sam.user_id
    container.app.set_email(admin(container), sam.user_id, None)
    assert container.app.user_for_email("alice@hospital.example") is None


def test_a_user_whose_tokens_were_revoked_is_not_found_by_email(container: Container) -> None:
    alice = add(container, "Alice Ward", "alice@hospital.example")
    container.app.revoke_tokens(admin(container), alice.user_id)
    assert container.app.user_for_email("alice@hospital.example") is None
    container.app.issue_token(admin(container), alice.user_id)
    assert container.app.user_for_email("alice@hospital.example") is not None


def test_a_session_ends_when_tokens_are_revoked_or_the_role_changes(
    container: Container,
) -> None:
    written = container.app.create_user(admin(container), "Alice Ward", Role.AUDITOR, [])
    alice, token = written.value.user, written.value.token
    assert token is not None
    signed_in_as = principal_for(alice)
    signed_in_at = NOW - timedelta(minutes=5)
    # an organisation sign-in (no token) and a token sign-in both stand
    assert container.app.session_principal(signed_in_as, "", signed_in_at) == signed_in_as
    assert (
        container.app.session_principal(signed_in_as, hash_token(token), signed_in_at)
        == signed_in_as
    )
    container.app.change_role(admin(container), alice.user_id, Role.ADMIN)
    with pytest.raises(Unauthenticated):
        container.app.session_principal(signed_in_as, "", signed_in_at)
    now_admin = container.app.principal_for_sign_in(token)
    assert now_admin.role is Role.ADMIN
    assert container.app.session_principal(now_admin, "", NOW) == now_admin
    container.app.revoke_tokens(admin(container), alice.user_id)
    with pytest.raises(Unauthenticated):
        container.app.session_principal(now_admin, "", signed_in_at)


def test_nobody_changes_their_own_role(container: Container) -> None:
    me = admin(container)
    with pytest.raises(Forbidden):
        container.app.change_role(me, me.user_id, Role.AUDITOR)
    assert SYSTEM.user_id != me.user_id
