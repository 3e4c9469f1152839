"""The hardening defects of issue 15, one test each, over HTTP through the real app on a
real SQLite data folder (contract 1.1, "Staff sign-in, sessions and hardening")."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clock import TODAY, ticking_clock
from tests.e2e.conftest import ADMIN_TOKEN, Api
from tests.integration.stored_rows import StoredRows
from yswd.adapters.http.app import create_app
from yswd.adapters.persistence import SQLITE_FILE
from yswd.bootstrap import Container, build
from yswd.settings import Settings


class Service:
    """The app over HTTP, and the container behind it (to edit its stored rows)."""

    def __init__(self, api: Api, container: Container) -> None:
        self.api = api
        self.container = container


def serve(data_dir: Path, **settings: Any) -> Iterator[Service]:
    clock = ticking_clock()
    settings.setdefault("admin_token", ADMIN_TOKEN)
    container = build(Settings(data_dir=data_dir, **settings), clock=clock)
    with TestClient(create_app(container)) as client:
        yield Service(Api(client, clock), container)
    container.close()


@pytest.fixture
def service(data_dir: Path) -> Iterator[Service]:
    yield from serve(data_dir)


# -- 6. a damaged event stream never gives a 5xx ----------------------------------------


def test_a_deleted_event_row_makes_the_item_409_and_its_history_says_damaged(
    service: Service,
) -> None:
    api = service.api
    api.organisation()
    item = api.raise_item(contributor="Ada Marker")
    path = f"/api/v1/items/{item['id']}"
    assert api.post(f"{path}/publish", {}).status_code == 200
    assert api.post(f"{path}/respond", {"response": "We ordered a new one."}).status_code == 200
    assert api.post(f"{path}/progress", {"note": "It arrives on Monday."}).status_code == 200
    assert api.get("/api/v1/items").status_code == 200  # the read models (the chain) saw it all
    rows = StoredRows(service.container)
    published = [row for row in rows.rows() if row[2] == 2]
    assert len(published) == 1
    rows.delete(published[0][0])  # someone holding the database deletes one event
    stored = len(rows.rows())

    read = api.get(path)
    assert read.status_code == 409, read.text
    assert read.json()["error"] == "DamagedHistory"
    for command, body in (
        ("progress", {"note": "Still waiting."}),
        ("complete", {"we_did": "We fixed it."}),
        ("refer", {"to_unit_id": "willow"}),
    ):
        answer = api.post(f"{path}/{command}", body)
        assert answer.status_code == 409, (command, answer.text)
        assert answer.json()["error"] == "DamagedHistory"
    assert len(rows.rows()) == stored  # nothing was written

    history = api.get(f"{path}/history", api.user("auditor"))
    assert history.status_code == 200, history.text
    body = history.json()
    assert body["damaged"] is True
    assert [event["version"] for event in body["events"]] == [1, 3, 4]
    assert body["state"]["version"] == 1  # as it stood before the missing event
    verified = api.get("/api/v1/audit/verify").json()
    assert verified["ok"] is False
    assert "deleted" in verified["first_bad"]["reason"]


def sign_in_page(api: Api) -> str:
    """Sign the client in as the admin with the token form; the session's CSRF token."""
    page = api.client.get("/staff/sign-in")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    signed = api.client.post(
        "/staff/sign-in",
        data={"token": ADMIN_TOKEN, "csrf_token": found.group(1), "next": "/staff"},
        follow_redirects=False,
    )
    assert signed.status_code in (302, 303), signed.text
    staff = api.client.get("/staff/admin/units")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', staff.text)
    assert csrf is not None
    return csrf.group(1)


# -- 7. invisible and direction-changing characters are refused --------------------------

INVISIBLE = [chr(c) for c in range(0x200B, 0x2010)] + [chr(c) for c in range(0x202A, 0x202F)]
INVISIBLE += ["\u2028", "\u2029", *(chr(c) for c in range(0x2060, 0x2065))]
INVISIBLE += [*(chr(c) for c in range(0x2066, 0x206A)), "\ufeff"]


def test_text_with_invisible_or_direction_changing_characters_is_refused(
    service: Service,
) -> None:
    api = service.api
    api.organisation()
    item = api.raise_item()
    path = f"/api/v1/items/{item['id']}"
    raise_body = {
        "forum_id": "cedar-cm",
        "channel": "community_meeting",
        "raised_on": "2026-11-02",
        "title": "Laundry",
        "you_said": "The washing machine is broken.",
    }
    box = {
        "id": "winter",
        "unit_id": "meadowbank",
        "forum_id": "cedar-cm",
        "question": "What would make winter better?",
        "opens_on": (TODAY - timedelta(days=1)).isoformat(),
        "closes_on": (TODAY + timedelta(days=30)).isoformat(),
    }
    assert api.post("/api/v1/gap-boxes", box).status_code == 201
    for character in INVISIBLE:
        sneaky = f"We fixed it{character}gnp.exe"
        for field in ("title", "you_said", "detail", "contributor"):
            answer = api.post("/api/v1/items", {**raise_body, field: sneaky})
            assert answer.status_code == 422, (hex(ord(character)), field, answer.text)
        assert api.post(f"{path}/respond", {"response": sneaky}).status_code == 422
        assert api.post(f"{path}/publish", {"you_said": sneaky}).status_code == 422
        suggestion = api.client.post(
            "/public/api/v1/gap-boxes/winter/suggestions", json={"suggestion": sneaky}
        )
        assert suggestion.status_code == 422, hex(ord(character))
    minutes = api.client.post(
        "/api/v1/forums/cedar-cm/minutes",
        content=(
            "title,you_said,channel,themes,contributor,detail,raised_on\n"
            "Laundry,The machine\u202eis broken,community_meeting,,,,2026-11-02\n"
        ).encode(),
        headers={**api.admin, "Content-Type": "text/csv"},
        params={"dry_run": "false"},
    )
    assert minutes.status_code == 422, minutes.text
    assert "direction-changing" in str(minutes.json())

    # and the staff pages' forms refuse them too
    csrf = sign_in_page(api)
    page = api.client.post(
        "/staff/admin/units",
        data={"unit_id": "oak", "name": "Oak\u202eward", "parent_id": "", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert page.status_code == 422, page.text
    assert api.get("/api/v1/units/oak").status_code == 404

    # nothing was changed: the one item is as it was, and no suggestion came in
    listed = api.get("/api/v1/items").json()["items"]
    assert [(i["id"], i["version"]) for i in listed] == [(item["id"], item["version"])]
    # ordinary text, non-breaking spaces and other scripts still pass
    fine = api.post("/api/v1/items", {**raise_body, "you_said": "Très bien\u00a0— גבוה 😀"})
    assert fine.status_code == 201, fine.text


# -- 1. a scoped admin cannot erase someone whose items reach beyond their scope ----------


def test_a_scoped_admin_cannot_forget_a_contributor_with_items_outside_their_scope(
    service: Service,
) -> None:
    api = service.api
    api.organisation()
    cedar_item = api.raise_item("cedar-cm", contributor="Ada Marker", detail="on Cedar")
    willow_item = api.raise_item("willow-cm", contributor="ada  marker", detail="on Willow")
    api.raise_item("elsewhere-cm", contributor="Ada Marker")
    only_cedar = api.raise_item("cedar-cm", contributor="Ben Cedar", detail="private")
    cedar_admin = api.user("admin", "cedar")

    refused = api.post("/api/v1/contributors/forget", {"contributor": "Ada Marker"}, cedar_admin)
    assert refused.status_code == 403, refused.text
    assert "items_affected" not in refused.json()
    assert not any(ch.isdigit() for ch in refused.json()["detail"])  # no count leaks out
    for item in (cedar_item, willow_item):
        kept = api.get(f"/api/v1/items/{item['id']}").json()
        assert kept["contributor"] != "[erased]" and kept["detail"] != "[erased]", kept

    # the same admin may erase someone whose items are all theirs, and learns only those
    allowed = api.post("/api/v1/contributors/forget", {"contributor": "Ben Cedar"}, cedar_admin)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["items_affected"] == 1
    assert api.get(f"/api/v1/items/{only_cedar['id']}").json()["contributor"] == "[erased]"
    # an administrator who covers everything may erase Ada everywhere
    everywhere = api.post("/api/v1/contributors/forget", {"contributor": "Ada Marker"})
    assert everywhere.status_code == 200, everywhere.text
    assert everywhere.json()["items_affected"] == 3
    assert api.get(f"/api/v1/items/{willow_item['id']}").json()["contributor"] == "[erased]"


# -- 2. the recorded reads an auditor sees are those of items in their scope --------------


def test_audit_reads_lists_only_reads_of_items_in_the_callers_scope(service: Service) -> None:
    api = service.api
    api.organisation()
    cedar = api.raise_item("cedar-cm", contributor="Ada Marker")
    willow = api.raise_item("willow-cm", contributor="Ben Willow")
    elsewhere = api.raise_item("elsewhere-cm", contributor="Cy Elsewhere")
    for item in (cedar, willow, elsewhere):
        assert api.get(f"/api/v1/items/{item['id']}").status_code == 200  # each read recorded
    assert api.get("/api/v1/items").status_code == 200  # one read naming all three
    cedar_auditor = api.user("auditor", "cedar")
    meadowbank_auditor = api.user("auditor", "meadowbank")

    everything = api.get("/api/v1/audit/reads").json()
    named = {i for read in everything["reads"] for i in read["item_ids"]}
    assert {cedar["id"], willow["id"], elsewhere["id"]} <= named

    in_scope = {cedar_auditor: {cedar["id"]}, meadowbank_auditor: {cedar["id"], willow["id"]}}
    for token, mine in in_scope.items():
        answer = api.get("/api/v1/audit/reads", token)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["reads"], body
        for read in body["reads"]:
            assert set(read["item_ids"]) <= mine, read
            assert read["item_count"] == len(read["item_ids"])
        assert {i for read in body["reads"] for i in read["item_ids"]} == mine
        assert body["total"] == len(body["reads"]) == 1 + len(mine)  # its own reads + the list
        about_elsewhere = api.get("/api/v1/audit/reads", token, item_id=elsewhere["id"]).json()
        assert about_elsewhere["reads"] == [] and about_elsewhere["total"] == 0


# -- 3. the bootstrap admin's id tells nothing about YSWD_ADMIN_TOKEN ----------------------

OLD_STORE = Path(__file__).resolve().parents[1] / "fixtures" / "stores" / "69ddf60"


def admin_id(service: Service) -> str:
    answer = service.api.get("/api/v1/me")
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def test_the_bootstrap_admins_id_is_not_derived_from_the_token(tmp_path: Path) -> None:
    ids = []
    for store in ("first", "second"):  # two stores, the same token
        for _ in range(2):  # and each opened twice: a restart keeps the same admin
            for service in serve(tmp_path / store):
                ids.append(admin_id(service))
    assert ids[0] == ids[1] and ids[2] == ids[3]
    assert ids[0] != ids[2]  # so the id is not a function of the token
    digest = hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
    for found in ids:
        assert digest[:8] not in found and digest[-8:] not in found


def users_stored(data_dir: Path) -> int:
    """How many users the store at ``data_dir`` holds (their creation events)."""
    db = sqlite3.connect(data_dir / SQLITE_FILE)
    try:
        ((count,),) = db.execute(
            "SELECT count(*) FROM stored_events WHERE topic = ?",
            ("yswd.aggregates.users:User.Created",),
        ).fetchall()
    finally:
        db.close()
    return int(count)


def test_an_old_stores_admin_keeps_its_id_and_no_second_admin_appears(tmp_path: Path) -> None:
    recorded = json.loads((OLD_STORE / "answers.json").read_text())
    token = recorded["admin_token"]
    data = tmp_path / "data"
    shutil.copytree(OLD_STORE / "data", data)
    users_before = users_stored(data)
    old_id = "admin-" + hashlib.sha256(token.encode()).hexdigest()[:12]  # as 69ddf60 made it
    for _ in range(2):  # opened, and opened again
        for service in serve(data, admin_token=token):
            service.api.admin = {"Authorization": f"Bearer {token}"}
            assert admin_id(service) == old_id
            unit = {"id": "new-ward", "name": "New ward", "parent_id": None}
            assert service.api.post("/api/v1/units", unit).status_code in (201, 409)
    assert users_stored(data) == users_before


# -- 4. the security headers are on every answer -------------------------------------------


def csp_directives(answer: Any) -> dict[str, list[str]]:
    policy = answer.headers.get("content-security-policy")
    assert policy, f"{answer.request.url} has no Content-Security-Policy"
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        directives[name.lower()] = sources
    return directives


def check_headers(answer: Any) -> None:
    where = f"{answer.request.method} {answer.request.url.path} ({answer.status_code})"
    assert answer.headers.get("x-content-type-options") == "nosniff", where
    assert answer.headers.get("referrer-policy"), where
    if answer.headers.get("content-type", "").startswith("text/html"):
        directives = csp_directives(answer)
        scripts = directives.get("script-src", directives.get("default-src"))
        assert scripts is not None, where
        assert "'unsafe-inline'" not in scripts and "*" not in scripts, where
        assert directives.get("frame-ancestors") == ["'none'"], where
    path = answer.request.url.path
    if path.startswith(("/api/v1", "/staff")):
        assert answer.headers.get("cache-control") == "no-store", where


def every_route(routes: list[Any]) -> Iterator[Any]:
    """Every route of the app, those of included routers too."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from every_route(included.routes)
        else:
            yield route


def test_every_answer_carries_the_security_headers(service: Service) -> None:
    api = service.api
    api.organisation()
    item = api.raise_item(contributor="Ada Marker")
    api.post(f"/api/v1/items/{item['id']}/publish", {})
    client = api.client
    paths = {
        route.path
        for route in every_route(client.app.routes)  # type: ignore[attr-defined]
        if "GET" in (getattr(route, "methods", None) or ()) and "{" not in route.path
    }
    assert "/staff/inbox" in paths and "/public" in paths
    paths |= {
        "/public/boards/cedar",
        "/public/boards/cedar/feed.atom",
        "/public/boards/nowhere",
        f"/api/v1/items/{item['id']}",
        f"/api/v1/items/{item['id']}/history",
        f"/staff/items/{item['id']}",
        "/api/v1/items/nope",
        "/static/yswd.css",
        "/no/such/page",
    }
    seen_html = 0
    for signed_in in (False, True):  # signed out (401s, redirects), then as the admin
        if signed_in:
            sign_in_page(api)
        for path in sorted(paths):
            headers = api.admin if signed_in else {}
            answer = client.get(path, headers=headers, follow_redirects=False)
            assert answer.status_code < 500, (path, answer.status_code)
            check_headers(answer)
            seen_html += answer.headers.get("content-type", "").startswith("text/html")
    assert seen_html > 20  # the public and staff pages were among them
    for answer in (
        client.post("/api/v1/items", json={}, headers=api.admin),  # 422
        client.post("/api/v1/items", content=b"x" * 70_000, headers=api.admin),  # 413
        client.post("/api/v1/units", json={"id": "x"}),  # 401
        client.post("/public/api/v1/gap-boxes/none/suggestions", json={"suggestion": "Hi"}),
        client.post("/staff/sign-in", data={"token": "wrong"}, follow_redirects=False),
        client.delete("/api/v1/items"),  # 405
    ):
        check_headers(answer)
    staff = client.get(f"/api/v1/items/{item['id']}", headers=api.admin)
    assert staff.json()["contributor"] == "Ada Marker"
    assert staff.headers["cache-control"] == "no-store"  # a name must not stay in a cache
    board = client.get("/public/boards/cedar")
    assert "frame-ancestors 'none'" in board.headers["content-security-policy"]


# -- 5. absolute addresses come from YSWD_PUBLIC_URL, never from the request ---------------

FORGED = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}


def publish_one(api: Api) -> str:
    api.organisation()
    item = api.raise_item()
    assert api.post(f"/api/v1/items/{item['id']}/publish", {}).status_code == 200
    return str(item["id"])


def test_without_a_public_url_the_feed_and_poster_use_relative_links_and_urns(
    service: Service,
) -> None:
    item_id = publish_one(service.api)
    client = service.api.client
    feed = client.get("/public/boards/cedar/feed.atom", headers=FORGED)
    assert feed.status_code == 200, feed.text
    assert "evil.example" not in feed.text and "testserver" not in feed.text
    assert "<id>urn:yswd:board:cedar</id>" in feed.text
    assert f"<id>urn:yswd:item:{item_id}</id>" in feed.text
    assert 'href="/public/boards/cedar/feed.atom"' in feed.text
    assert f'href="/public/boards/cedar#item-{item_id}"' in feed.text
    poster = client.get("/public/boards/cedar/poster", headers=FORGED)
    assert poster.status_code == 200
    assert "evil.example" not in poster.text and "testserver" not in poster.text
    assert "/public/boards/cedar" in poster.text


def test_with_a_public_url_every_absolute_link_is_under_it(data_dir: Path) -> None:
    for service in serve(data_dir, public_url="https://yswd.example.nhs.uk"):
        item_id = publish_one(service.api)
        client = service.api.client
        feed = client.get("/public/boards/cedar/feed.atom", headers=FORGED)
        assert "evil.example" not in feed.text
        assert "<id>https://yswd.example.nhs.uk/public/boards/cedar</id>" in feed.text
        assert f"<id>urn:yswd:item:{item_id}</id>" in feed.text  # ids never move
        assert 'href="https://yswd.example.nhs.uk/public/boards/cedar/feed.atom"' in feed.text
        poster = client.get("/public/boards/cedar/poster", headers=FORGED)
        assert "evil.example" not in poster.text
        # the poster prints the short address (its QR code holds it too), never the Host
        assert "yswd.example.nhs.uk/b/cedar" in poster.text
