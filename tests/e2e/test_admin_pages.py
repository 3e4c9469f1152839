"""Admin over HTTP: units, forums, people and tokens, as pages and as JSON."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.clock import TODAY, ticking_clock
from tests.e2e.conftest import ADMIN_TOKEN, Api
from tests.e2e.test_staff_pages import Browser
from yswd.adapters.http.app import create_app
from yswd.adapters.http.templating import uk_date
from yswd.bootstrap import Container, build
from yswd.projections.staff_directory import list_users
from yswd.settings import Settings

TOKEN = re.compile(r'id="new-token" type="text" value="(yswd_[^"]+)"')


def token_on(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "the page shows no token"
    return match.group(1)


def user_id_of(api: Api, token: str) -> str:
    return str(api.get("/api/v1/me", token).json()["id"])


# -- JSON ---------------------------------------------------------------------------


def test_issue_and_revoke_tokens_over_json(api: Api) -> None:
    api.organisation()
    first = api.user("manager", "cedar")
    user_id = user_id_of(api, first)

    issued = api.post(f"/api/v1/users/{user_id}/tokens", {})
    assert issued.status_code == 201, issued.text
    second = issued.json()["token"]
    assert second.startswith("yswd_") and second != first
    for token in (first, second):
        assert api.get("/api/v1/me", token).status_code == 200  # both work (and are cached)

    revoked = api.post(f"/api/v1/users/{user_id}/revoke", {})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {"id": user_id, "revoked": 2}
    for token in (first, second):
        answer = api.get("/api/v1/me", token)
        assert answer.status_code == 401  # at once on this process
        assert api.post("/api/v1/items", {}, token).status_code == 401
    assert api.post(f"/api/v1/users/{user_id}/revoke", {}).json()["revoked"] == 0
    third = api.post(f"/api/v1/users/{user_id}/tokens", {}).json()["token"]
    assert api.get("/api/v1/me", third).status_code == 200


def test_token_endpoints_refuse_what_is_not_allowed(api: Api) -> None:
    api.organisation()
    cedar = user_id_of(api, api.user("manager", "cedar"))
    elsewhere = user_id_of(api, api.user("manager", "elsewhere"))
    scoped_admin = api.user("admin", "meadowbank")
    manager = api.user("manager", "cedar")
    for path in ("tokens", "revoke"):
        assert api.post(f"/api/v1/users/{cedar}/{path}", {}, manager).status_code == 403
        assert api.post(f"/api/v1/users/{elsewhere}/{path}", {}, scoped_admin).status_code == 403
        assert api.post(f"/api/v1/users/nobody/{path}", {}).status_code == 404
        assert api.client.post(f"/api/v1/users/{cedar}/{path}").status_code == 401
    assert api.post(f"/api/v1/users/{cedar}/tokens", {}, scoped_admin).status_code == 201
    me = user_id_of(api, ADMIN_TOKEN)
    assert api.post(f"/api/v1/users/{me}/revoke", {}).status_code == 403
    assert api.get("/api/v1/me").status_code == 200


def test_a_revoked_token_stops_on_another_replica_within_seconds(api: Api, data_dir: Path) -> None:
    token = api.user("auditor")
    user_id = user_id_of(api, token)
    replica = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    try:
        with TestClient(create_app(replica)) as other:
            auth = {"Authorization": f"Bearer {token}"}
            assert other.get("/api/v1/me", headers=auth).status_code == 200  # now cached there
            assert api.post(f"/api/v1/users/{user_id}/revoke", {}).status_code == 200
            deadline = time.monotonic() + 15
            while other.get("/api/v1/me", headers=auth).status_code == 200:
                assert time.monotonic() < deadline, "the other replica still accepts the token"
                time.sleep(0.2)
            assert other.get("/api/v1/me", headers=auth).status_code == 401
    finally:
        replica.close()


def test_a_forum_contact_changed_on_one_replica_shows_on_another_at_once(
    api: Api, data_dir: Path
) -> None:
    api.organisation()
    replica = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    try:
        with TestClient(create_app(replica)) as other:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            before = other.get("/api/v1/forums/cedar-cm", headers=admin).json()
            assert before["contact_email"] is None  # the other replica has it cached now
            page = Browser(api)
            page.client = other
            page.sign_in(ADMIN_TOKEN)
            assert "cedar@trust.nhs.uk" not in page.get("/staff/admin/forums").text

            changed = api.post(
                "/api/v1/forums/cedar-cm/contact", {"contact_email": "cedar@trust.nhs.uk"}
            )
            assert changed.status_code == 200, changed.text

            after = other.get("/api/v1/forums/cedar-cm", headers=admin).json()
            assert after["contact_email"] == "cedar@trust.nhs.uk"
            shown = page.get("/staff/admin/forums").text
            assert 'name="contact_email" autocomplete="off" value="cedar@trust.nhs.uk"' in shown
    finally:
        replica.close()


# -- pages --------------------------------------------------------------------------


def test_units_page_shows_the_tree_and_adds_a_unit_under_a_parent(api: Api) -> None:
    api.organisation()
    admin = Browser(api)
    admin.sign_in(ADMIN_TOKEN)
    page = admin.get("/staff/admin/units").text
    # nested lists: Cedar ward inside Meadowbank inside North West
    north_west = page.index(">North West<")
    meadowbank = page.index(">Meadowbank<")
    cedar = page.index(">Cedar ward<")
    assert north_west < meadowbank < cedar
    assert page[north_west:cedar].count('<ul class="unit-tree__children">') == 2
    assert "Nothing: it is a top-level unit" in page

    added = admin.submit(
        "/staff/admin/units",
        "/staff/admin/units",
        {"parent_id": "cedar", "name": "Cedar garden team", "unit_id": "cedar-garden"},
    )
    assert added.status_code == 303
    assert added.headers["location"] == "/staff/admin/units?added=cedar-garden"
    assert "Cedar garden team added." in admin.get(added.headers["location"]).text
    unit = api.get("/api/v1/units/cedar-garden").json()
    assert unit["path"] == ["north-west", "meadowbank", "cedar", "cedar-garden"]

    bad = admin.submit(
        "/staff/admin/units", "/staff/admin/units", {"parent_id": "", "name": "", "unit_id": "X!"}
    )
    assert bad.status_code == 422
    assert "Enter the unit name" in bad.text and "The unit id is not right" in bad.text
    taken = admin.submit(
        "/staff/admin/units",
        "/staff/admin/units",
        {"parent_id": "cedar", "name": "Again", "unit_id": "cedar-garden"},
    )
    assert taken.status_code == 422 and "already exists" in taken.text
    assert 'value="Again"' in taken.text  # what was typed is kept


def test_a_scoped_admin_sees_and_changes_only_their_subtree(api: Api) -> None:
    api.organisation()
    api.user("manager", "elsewhere")
    admin = Browser(api)
    admin.sign_in(api.user("admin", "meadowbank"))
    units = admin.get("/staff/admin/units").text
    assert ">Meadowbank<" in units and ">Willow ward<" in units
    assert "North West" not in units and "Another trust" not in units
    assert "top-level unit" not in units
    outside = admin.submit(
        "/staff/admin/units",
        "/staff/admin/units",
        {"parent_id": "elsewhere", "name": "Sneaky", "unit_id": "sneaky"},
    )
    assert outside.status_code == 422 and "outside your scope" in outside.text
    assert api.get("/api/v1/units/sneaky").status_code == 404

    forums = admin.get("/staff/admin/forums").text
    assert "Cedar community meeting" in forums and "Elsewhere meeting" not in forums
    people = admin.get("/staff/admin/users").text
    assert "A manager" not in people  # the only other person works elsewhere
    elsewhere_id = next(row["id"] for row in _users(api) if row["scopes"] == ["elsewhere"])
    assert admin.get(f"/staff/admin/users/{elsewhere_id}").status_code == 403
    assert admin.get(f"/staff/admin/users/{user_id_of(api, ADMIN_TOKEN)}").status_code == 403


def _users(api: Api) -> list[dict[str, Any]]:
    """The staff directory read model, as the admin pages read it."""
    container: Container = api.client.app.state.container  # type: ignore[attr-defined]
    return list_users(container.engine)


def test_forums_page_lists_by_unit_and_adds_a_forum(api: Api) -> None:
    api.organisation()
    admin = Browser(api)
    admin.sign_in(ADMIN_TOKEN)
    page = admin.get("/staff/admin/forums").text
    assert "3 forums in your units" in page
    assert "North West / Meadowbank / Cedar ward" in page
    for label in ("Community meeting", "Development board", "Recovery outcomes group"):
        assert f">{label}</option>" in page
    added = admin.submit(
        "/staff/admin/forums",
        "/staff/admin/forums",
        {
            "unit_id": "willow",
            "name": "Willow service user council",
            "forum_id": "willow-council",
            "kind": "service_user_council",
        },
    )
    assert added.status_code == 303, added.text
    assert api.get("/api/v1/forums/willow-council").json()["kind"] == "service_user_council"
    after = admin.get(added.headers["location"]).text
    assert "Willow service user council added." in after and "Service user council" in after

    bad = admin.submit(
        "/staff/admin/forums",
        "/staff/admin/forums",
        {"unit_id": "", "name": "x", "forum_id": "willow-council", "kind": "party"},
    )
    assert bad.status_code == 422
    assert "Choose the unit" in bad.text and "Choose the kind of forum" in bad.text


def test_adding_a_person_shows_the_token_once_and_it_signs_in(api: Api) -> None:
    api.organisation()
    admin = Browser(api)
    admin.sign_in(ADMIN_TOKEN)
    answer = admin.submit(
        "/staff/admin/users",
        "/staff/admin/users",
        {"name": "Pat Secretary", "role": "secretary", "scopes": "cedar"},
    )
    assert answer.status_code == 200, answer.text
    assert "Copy it now. It will not be shown again." in answer.text
    assert "Pat Secretary added as forum secretary." in answer.text
    assert "Signed in as Administrator (Admin)" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    token = token_on(answer.text)

    listing = admin.get("/staff/admin/users").text
    assert "Pat Secretary" in listing and "Forum secretary" in listing and "Cedar ward" in listing
    assert "Signed in as Administrator (Admin)" in listing
    assert token not in listing
    assert hashlib.sha256(token.encode()).hexdigest() not in listing
    pat = Browser(api)
    assert pat.sign_in(token).status_code == 303
    assert "Log a meeting" in pat.get("/staff").text

    # each role but admin and auditor needs at least one unit; the form keeps the values
    missing = admin.submit(
        "/staff/admin/users", "/staff/admin/users", {"name": "Lee", "role": "manager"}
    )
    assert missing.status_code == 422 and "Choose at least one unit" in missing.text
    assert 'value="Lee"' in missing.text
    nothing = admin.submit("/staff/admin/users", "/staff/admin/users", {"name": ""})
    assert "Enter the person&#39;s name" in nothing.text and "Choose what the person does" in (
        nothing.text
    )


def test_a_new_token_keeps_the_old_and_revoking_signs_the_person_out(api: Api) -> None:
    api.organisation()
    first = api.user("manager", "cedar")
    user_id = user_id_of(api, first)
    manager = Browser(api)
    manager.sign_in(first)
    assert manager.get("/staff/inbox").status_code == 200

    admin = Browser(api)
    admin.sign_in(ADMIN_TOKEN)
    page = f"/staff/admin/users/{user_id}"
    assert "1 working" in admin.get(page).text
    issued = admin.submit(page, f"{page}/tokens", {})
    assert issued.status_code == 200
    assert "Copy it now. It will not be shown again." in issued.text
    assert "Their older tokens still work" in issued.text
    second = token_on(issued.text)
    assert api.get("/api/v1/me", second).status_code == 200
    assert manager.get("/staff/inbox").status_code == 200  # the old session goes on
    assert "2 working" in admin.get(page).text

    unconfirmed = admin.submit(page, f"{page}/revoke", {})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    assert api.get("/api/v1/me", first).status_code == 200

    revoked = admin.submit(page, f"{page}/revoke", {"confirm": "yes"})
    assert revoked.status_code == 303
    assert "2 tokens revoked" in admin.get(revoked.headers["location"]).text
    out = manager.client.get("/staff/inbox", follow_redirects=False)
    assert out.status_code == 303 and "/staff/sign-in" in out.headers["location"]
    for token in (first, second):
        assert api.get("/api/v1/me", token).status_code == 401
        assert Browser(api).sign_in(token).status_code == 401
    listing = admin.get("/staff/admin/users").text
    assert "None working" in listing and f"revoked {uk_date(TODAY)}" in listing

    me = f"/staff/admin/users/{user_id_of(api, ADMIN_TOKEN)}"
    assert "You cannot revoke your own tokens" in admin.get(me).text


def test_admin_pages_are_refused_to_other_roles_and_without_csrf(api: Api) -> None:
    api.organisation()
    manager = Browser(api)
    manager.sign_in(api.user("manager", "cedar"))
    for path in ("/staff/admin/units", "/staff/admin/forums", "/staff/admin/users"):
        assert manager.get(path).status_code == 403
    home = manager.get("/staff").text
    assert "People and tokens" not in home and "/staff/admin/units" not in home

    admin = Browser(api)
    admin.sign_in(ADMIN_TOKEN)
    before = len(_users(api))
    forged = admin.client.post(
        "/staff/admin/users", data={"name": "Mallory", "role": "admin"}, follow_redirects=False
    )
    assert forged.status_code == 403 and "This form has expired" in forged.text
    forged_unit = admin.client.post(
        "/staff/admin/units", data={"name": "X", "unit_id": "x", "csrf_token": "nope"}
    )
    assert forged_unit.status_code == 403
    assert len(_users(api)) == before
    assert api.get("/api/v1/units/x").status_code == 404


def test_meeting_log_offers_the_forums_in_scope_and_today(api: Api) -> None:
    api.organisation()
    secretary = Browser(api)
    secretary.sign_in(api.user("secretary", "meadowbank"))
    page = secretary.get("/staff/meetings/new").text
    assert '<select class="nhsuk-select" id="forum_id" name="forum_id"' in page
    assert ">Cedar community meeting</option>" in page
    assert ">Willow community meeting</option>" in page
    assert "Elsewhere meeting" not in page
    assert ">Choose a forum</option>" in page
    # today in the NHS.UK date input's day, month and year boxes
    for part, value in (("day", TODAY.day), ("month", TODAY.month), ("year", TODAY.year)):
        assert f'name="meeting_date-{part}" type="text" inputmode="numeric" value="{value}"' in page

    chosen = secretary.get("/staff/meetings/new", forum="willow-cm").text
    assert '<option value="willow-cm" selected>' in chosen

    only_one = Browser(api)
    only_one.sign_in(api.user("secretary", "cedar"))
    single = only_one.get("/staff/meetings/new").text
    assert '<option value="cedar-cm" selected>' in single and "Choose a forum" not in single


def test_the_admin_user_page_changes_a_role_and_signs_the_person_out(api: Api) -> None:
    api.organisation()
    token = api.user("secretary", "cedar")
    user_id = user_id_of(api, token)
    person = Browser(api)
    person.sign_in(token)
    assert "Log a meeting" in person.get("/staff").text

    admin = Browser(api)
    admin.sign_in(ADMIN_TOKEN)
    page = f"/staff/admin/users/{user_id}"
    shown = admin.get(page).text
    assert 'action="/staff/admin/users/' + user_id + '/role"' in shown
    assert 'name="role" value="secretary" aria-describedby="role-secretary-hint" checked' in shown
    assert 'value="None"' not in shown  # no work email: the box is empty

    # no choice, or a role that does not exist: a clear 422, nothing changes
    for posted in ({}, {"role": "emperor"}):
        refused = admin.submit(page, f"{page}/role", posted)
        assert refused.status_code == 422 and "Choose what the person does now" in refused.text
    assert api.get("/api/v1/me", token).json()["role"] == "secretary"

    # without the form's CSRF token the change is refused
    forged = admin.client.post(f"{page}/role", data={"role": "admin"}, follow_redirects=False)
    assert forged.status_code == 403
    assert api.get("/api/v1/me", token).json()["role"] == "secretary"

    changed = admin.submit(page, f"{page}/role", {"role": "manager"})
    assert changed.status_code == 200, changed.text
    assert "is now manager" in changed.text and "They are signed out" in changed.text
    assert api.get("/api/v1/me", token).json()["role"] == "manager"
    out = person.client.get("/staff", follow_redirects=False)
    assert out.status_code == 303 and "/staff/sign-in" in out.headers["location"]
    again = Browser(api)
    again.sign_in(token)
    assert "Log a meeting" not in again.get("/staff").text

    # an admin cannot change their own role: the page says so and has no form
    me = f"/staff/admin/users/{user_id_of(api, ADMIN_TOKEN)}"
    mine = admin.get(me).text
    assert "You cannot change your own role" in mine and '/role"' not in mine
    assert admin.submit(me, f"{me}/role", {"role": "auditor"}).status_code == 403
    # another role may not use the form at all
    refused = again.client.post(f"{page}/role", data={"role": "admin"}, follow_redirects=False)
    assert refused.status_code == 403
    assert api.get("/api/v1/me", token).json()["role"] == "manager"
