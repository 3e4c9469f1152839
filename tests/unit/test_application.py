"""The application layer on the in-memory store: roles, scopes, idempotency, versions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

import pytest

from yswd.adapters.persistence import memory_env
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionNotAllowed,
    Unauthenticated,
    VersionConflict,
)
from yswd.aggregates.item import Channel, Item, Status
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.application.service import Yswd
from yswd.application.unit_of_work import IdempotencyKey
from yswd.application.users import principal_for

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def app() -> Yswd:
    ids = count(1)
    app = Yswd(memory_env(), clock=lambda: NOW, ids=lambda: f"id{next(ids)}")
    for unit_id, parent in (
        ("north-west", None),
        ("meadowbank", "north-west"),
        ("cedar", "meadowbank"),
        ("willow", "meadowbank"),
        ("elsewhere", None),
    ):
        app.create_unit(SYSTEM, unit_id, unit_id.title(), parent)
    for unit_id in ("cedar", "willow", "elsewhere"):
        app.create_forum(SYSTEM, f"{unit_id}-cm", "Meeting", unit_id, ForumKind.COMMUNITY_MEETING)
    return app


def user(app: Yswd, role: Role, *scopes: str) -> Principal:
    made = app.create_user(SYSTEM, f"A {role.value}", role, scopes).value
    assert made.token is not None
    principal = app.authenticate(made.token)
    assert principal == principal_for(made.user)
    return principal


def raise_in(app: Yswd, forum_id: str, actor: Principal = SYSTEM, **kw: object) -> Item:
    fields: dict[str, object] = {
        "channel": Channel.COMMUNITY_MEETING,
        "raised_on": date(2026, 11, 2),
        "title": "Laundry",
        "you_said": "Broken.",
        **kw,
    }
    return app.raise_item(actor, forum_id=forum_id, **fields).value  # type: ignore[arg-type]


def test_tokens_authenticate_and_bad_ones_do_not(app: Yswd) -> None:
    made = app.create_user(SYSTEM, "Sam", Role.MANAGER, ["cedar"]).value
    assert made.token and made.user.token_hash != made.token
    assert app.authenticate(made.token).user_id == made.user.user_id
    for bad in (None, "", "nope", made.token + "x"):
        with pytest.raises(Unauthenticated):
            app.authenticate(bad)


def test_a_unit_covers_its_descendants(app: Yswd) -> None:
    manager = user(app, Role.MANAGER, "meadowbank")
    for forum in ("cedar-cm", "willow-cm"):
        item = raise_in(app, forum)
        assert app.respond(manager, item.item_id, "Booked.", None).value.status is Status.RESPONDED
    outside = raise_in(app, "elsewhere-cm")
    with pytest.raises(Forbidden):
        app.respond(manager, outside.item_id, "Booked.", None)
    with pytest.raises(Forbidden):
        app.get_item(manager, outside.item_id)
    assert app.get_item(SYSTEM, outside.item_id).version == 1


def test_a_referral_brings_an_item_into_a_managers_scope(app: Yswd) -> None:
    manager = user(app, Role.MANAGER, "elsewhere")
    item = raise_in(app, "cedar-cm")
    with pytest.raises(Forbidden):
        app.get_item(manager, item.item_id)
    app.refer(SYSTEM, item.item_id, "elsewhere", date(2026, 12, 1), "Over to you", None)
    assert app.get_item(manager, item.item_id).referred_to == "elsewhere"
    done = app.complete(manager, item.item_id, "Fixed.", None).value
    assert done.status is Status.DONE
    # referred on again, out of this manager's reach
    other = raise_in(app, "cedar-cm")
    app.refer(SYSTEM, other.item_id, "elsewhere", None, None, None)
    app.refer(SYSTEM, other.item_id, "willow", None, None, None)
    with pytest.raises(Forbidden):
        app.get_item(manager, other.item_id)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_admin_and_auditor_without_scopes_cover_everything(app: Yswd, role: Role) -> None:
    principal = user(app, role)
    assert principal.covers_everything
    for forum in ("cedar-cm", "elsewhere-cm"):
        item = raise_in(app, forum)
        assert app.get_item(principal, item.item_id).item_id == item.item_id


@pytest.mark.parametrize("role", [Role.SECRETARY, Role.MANAGER, Role.MODERATOR])
def test_other_roles_without_scopes_cover_nothing(app: Yswd, role: Role) -> None:
    principal = user(app, role)
    item = raise_in(app, "cedar-cm")
    with pytest.raises(Forbidden):
        app.get_item(principal, item.item_id)


def test_roles(app: Yswd) -> None:
    secretary = user(app, Role.SECRETARY, "cedar")
    manager = user(app, Role.MANAGER, "cedar")
    moderator = user(app, Role.MODERATOR, "cedar")
    auditor = user(app, Role.AUDITOR)
    item = raise_in(app, "cedar-cm", secretary)
    assert item.status is Status.RAISED
    for refused in (manager, moderator, auditor):
        with pytest.raises(Forbidden):
            raise_in(app, "cedar-cm", refused)
    with pytest.raises(Forbidden):
        app.respond(secretary, item.item_id, "x", None)
    with pytest.raises(Forbidden):
        app.publish(manager, item.item_id, None, None)
    with pytest.raises(Forbidden):
        app.refer(auditor, item.item_id, "willow", None, None, None)
    with pytest.raises(Forbidden):  # the role is checked before the unit is looked up
        app.refer(secretary, item.item_id, "no-such-unit", None, None, None)
    assert app.publish(moderator, item.item_id, "Public words", None).value.published
    assert app.note_progress(secretary, item.item_id, "Chased.", None).value.version == 3
    for refused in (secretary, manager, moderator, auditor):
        with pytest.raises(Forbidden):
            app.create_unit(refused, "oak", "Oak", "meadowbank")
        with pytest.raises(Forbidden):
            app.create_user(refused, "x", Role.ADMIN, [])
    assert app.get_item(SYSTEM, item.item_id).version == 3


def test_idempotent_creation(app: Yswd) -> None:
    key = IdempotencyKey("k1", "fingerprint-a")
    first = app.raise_item(
        SYSTEM,
        forum_id="cedar-cm",
        channel=Channel.OTHER,
        raised_on=date(2026, 11, 2),
        title="T",
        you_said="Y",
        idempotency=key,
    )
    again = app.raise_item(
        SYSTEM,
        forum_id="cedar-cm",
        channel=Channel.OTHER,
        raised_on=date(2026, 11, 2),
        title="T",
        you_said="Y",
        idempotency=key,
    )
    assert not first.replayed and again.replayed
    assert again.value.item_id == first.value.item_id == "id1"
    with pytest.raises(InvalidInput):
        app.raise_item(
            SYSTEM,
            forum_id="cedar-cm",
            channel=Channel.OTHER,
            raised_on=date(2026, 11, 2),
            title="Other",
            you_said="Y",
            idempotency=IdempotencyKey("k1", "fingerprint-b"),
        )
    # a later change does not alter the replayed first answer
    app.respond(SYSTEM, "id1", "Booked.", None)
    replay = app.raise_item(
        SYSTEM,
        forum_id="cedar-cm",
        channel=Channel.OTHER,
        raised_on=date(2026, 11, 2),
        title="T",
        you_said="Y",
        idempotency=key,
    )
    assert replay.value.version == 1
    with pytest.raises(NotFound):
        app.get_item(SYSTEM, "id2")


def test_idempotency_keys_are_per_user(app: Yswd) -> None:
    one = user(app, Role.SECRETARY, "cedar")
    two = user(app, Role.SECRETARY, "cedar")
    key = IdempotencyKey("same", "fp")
    a = app.raise_item(
        one,
        forum_id="cedar-cm",
        channel=Channel.OTHER,
        raised_on=date(2026, 11, 2),
        title="T",
        you_said="Y",
        idempotency=key,
    )
    b = app.raise_item(
        two,
        forum_id="cedar-cm",
        channel=Channel.OTHER,
        raised_on=date(2026, 11, 2),
        title="T",
        you_said="Y",
        idempotency=key,
    )
    assert a.value.item_id != b.value.item_id


def test_idempotent_units_forums_and_users(app: Yswd) -> None:
    key = IdempotencyKey("u", "fp")
    app.create_unit(SYSTEM, "oak", "Oak", "meadowbank", key)
    assert app.create_unit(SYSTEM, "oak", "Oak", "meadowbank", key).replayed
    with pytest.raises(AlreadyExists):
        app.create_unit(SYSTEM, "oak", "Oak", "meadowbank")
    key = IdempotencyKey("f", "fp")
    app.create_forum(SYSTEM, "oak-cm", "Oak", "oak", ForumKind.OTHER, key)
    assert app.create_forum(SYSTEM, "oak-cm", "Oak", "oak", ForumKind.OTHER, key).replayed
    with pytest.raises(AlreadyExists):
        app.create_forum(SYSTEM, "oak-cm", "Oak", "oak", ForumKind.OTHER)
    key = IdempotencyKey("p", "fp")
    first = app.create_user(SYSTEM, "Pat", Role.MANAGER, ["oak"], key)
    again = app.create_user(SYSTEM, "Pat", Role.MANAGER, ["oak"], key)
    assert again.replayed and again.value.user.user_id == first.value.user.user_id


def test_if_match(app: Yswd) -> None:
    item = raise_in(app, "cedar-cm")
    with pytest.raises(VersionConflict):
        app.respond(SYSTEM, item.item_id, "x", 2)
    assert app.respond(SYSTEM, item.item_id, "x", 1).value.version == 2
    with pytest.raises(VersionConflict):
        app.complete(SYSTEM, item.item_id, "done", 1)
    stored = app.get_item(SYSTEM, item.item_id)
    assert (stored.version, stored.status, stored.we_did) == (2, Status.RESPONDED, None)


def test_refused_transitions_store_nothing(app: Yswd) -> None:
    item = raise_in(app, "cedar-cm")
    with pytest.raises(TransitionNotAllowed):
        app.verify(SYSTEM, item.item_id, True, None, None)
    with pytest.raises(TransitionNotAllowed):
        app.reopen(SYSTEM, item.item_id, "x", 1)
    assert app.get_item(SYSTEM, item.item_id).version == 1


def test_not_found(app: Yswd) -> None:
    with pytest.raises(NotFound):
        app.get_item(SYSTEM, "nope")
    with pytest.raises(NotFound):
        app.respond(SYSTEM, "nope", "x", None)
    with pytest.raises(NotFound):
        raise_in(app, "no-forum")
    with pytest.raises(NotFound):
        app.create_forum(SYSTEM, "f", "F", "no-unit", ForumKind.OTHER)
    with pytest.raises(NotFound):
        app.create_unit(SYSTEM, "u", "U", "no-unit")
    with pytest.raises(NotFound):
        app.create_user(SYSTEM, "x", Role.MANAGER, ["no-unit"])
    for strange in ("a\x00b", "x" * 1000, "", "item:x"):
        with pytest.raises(NotFound):
            app.get_item(SYSTEM, strange)
    item = raise_in(app, "cedar-cm")
    with pytest.raises(NotFound):
        app.refer(SYSTEM, item.item_id, "no-unit", None, None, None)
    assert app.get_item(SYSTEM, item.item_id).version == 1


def test_implausible_dates_are_refused(app: Yswd) -> None:
    with pytest.raises(InvalidInput):
        raise_in(app, "cedar-cm", raised_on=date(9999, 12, 31))
    item = raise_in(app, "cedar-cm")
    with pytest.raises(InvalidInput):
        app.refer(SYSTEM, item.item_id, "willow", date(9999, 12, 31), None, None)
    assert app.get_item(SYSTEM, item.item_id).version == 1


def test_a_due_date_before_the_item_was_raised_is_refused(app: Yswd) -> None:
    item = raise_in(app, "cedar-cm")
    with pytest.raises(InvalidInput):
        app.refer(SYSTEM, item.item_id, "willow", date(2026, 11, 1), None, None)
    assert app.get_item(SYSTEM, item.item_id).version == 1


def test_scoped_admins_stay_in_scope(app: Yswd) -> None:
    admin = user(app, Role.ADMIN, "meadowbank")
    with pytest.raises(Forbidden):
        app.create_unit(admin, "top", "Top", None)
    with pytest.raises(Forbidden):
        app.create_unit(admin, "far", "Far", "elsewhere")
    with pytest.raises(Forbidden):
        app.create_user(admin, "x", Role.AUDITOR, [])
    with pytest.raises(Forbidden):
        app.create_user(admin, "x", Role.MANAGER, ["elsewhere"])
    assert app.create_unit(admin, "oak", "Oak", "cedar").value.path[-1] == "oak"


def test_bootstrap_admin_is_idempotent(app: Yswd) -> None:
    assert app.ensure_admin("secret") is True
    assert app.ensure_admin("secret") is False
    principal = app.authenticate("secret")
    assert principal.role is Role.ADMIN and principal.covers_everything


def test_units_and_forums_in_scope_are_404_when_unknown_and_403_outside(app: Yswd) -> None:
    manager = user(app, Role.MANAGER, "cedar")
    assert app.unit_in_scope(manager, "cedar").unit_id == "cedar"
    assert app.forum_in_scope(manager, "cedar-cm").unit_id == "cedar"
    with pytest.raises(Forbidden):
        app.unit_in_scope(manager, "willow")
    with pytest.raises(Forbidden):
        app.forum_in_scope(manager, "willow-cm")
    with pytest.raises(NotFound):
        app.unit_in_scope(manager, "atlantis")
    with pytest.raises(NotFound):
        app.forum_in_scope(manager, "atlantis-cm")


def test_a_revoked_token_is_refused_for_sign_in_too(app: Yswd) -> None:
    made = app.create_user(SYSTEM, "A secretary", Role.SECRETARY, ["cedar"]).value
    assert made.token is not None
    assert app.principal_for_sign_in(made.token).user_id == made.user.user_id
    app.revoke_tokens(SYSTEM, made.user.user_id)
    for check in (app.authenticate, app.principal_for_sign_in):
        with pytest.raises(Unauthenticated):
            check(made.token)


def test_a_forum_contact_that_does_not_change_writes_nothing(app: Yswd) -> None:
    first = app.set_forum_contact(SYSTEM, "cedar-cm", "ward@example.org")
    again = app.set_forum_contact(SYSTEM, "cedar-cm", " ward@example.org ")
    assert again.value.version == first.value.version
    assert app.forum("cedar-cm").contact_email == "ward@example.org"
    with pytest.raises(Forbidden):
        app.set_forum_contact(user(app, Role.ADMIN, "willow"), "cedar-cm", None)
