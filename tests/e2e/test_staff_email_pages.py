"""An admin gives a person their work email on the admin pages, so that they can sign in
with their organisation's account; and the sign-in page without OIDC, or without tokens.

Given an admin on the people page, when they add Alice Ward with her work email, then
her page shows it; when they change it to an email someone else has, the form says
so and nothing changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.clock import ticking_clock
from tests.e2e.conftest import ADMIN_TOKEN, Api
from tests.e2e.test_staff_pages import Browser
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings


def test_an_admin_sets_a_persons_work_email(api: Api) -> None:
    admin = Browser(api)
    assert admin.sign_in(ADMIN_TOKEN).status_code == 303
    made = admin.submit(
        "/staff/admin/users",
        "/staff/admin/users",
        {"name": "Alice Ward", "role": "auditor", "email": "Alice.Ward@hospital.example"},
    )
    assert made.status_code == 200, made.text
    user_id = re.search(r'/staff/admin/users/([^"/?]+)"', made.text)
    assert user_id is not None, made.text
    page = f"/staff/admin/users/{user_id.group(1)}"
    assert "Alice.Ward@hospital.example" in admin.get(page).text

    other = api.post("/api/v1/users", {"name": "Sam Stranger", "role": "auditor", "scopes": []})
    assert other.status_code == 201
    sam_page = f"/staff/admin/users/{other.json()['id']}"
    taken = admin.submit(sam_page, sam_page + "/email", {"email": "ALICE.WARD@hospital.example"})
    assert taken.status_code == 422
    assert "Another user already has that email" in taken.text
    bad = admin.submit(sam_page, sam_page + "/email", {"email": "not an email"})
    assert bad.status_code == 422
    assert "Enter the email in the right form" in bad.text
    saved = admin.submit(sam_page, sam_page + "/email", {"email": "sam@hospital.example"})
    assert saved.status_code == 200
    assert "signs in with the organisation account sam@hospital.example" in saved.text
    assert "sam@hospital.example" in admin.get(sam_page).text


def test_without_oidc_the_sign_in_page_offers_only_the_token(api: Api) -> None:
    page = api.client.get("/staff/sign-in")
    assert page.status_code == 200
    assert "Sign in with your organisation account" not in page.text
    assert 'name="token"' in page.text
    assert api.client.get("/staff/sign-in/organisation").status_code == 404


def test_token_sign_in_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_token=ADMIN_TOKEN, token_sign_in=False)
    container = build(settings, clock=ticking_clock())
    try:
        with TestClient(create_app(container)) as client:
            page = client.get("/staff/sign-in")
            assert page.status_code == 200
            assert 'name="token"' not in page.text
            refused = client.post("/staff/sign-in", data={"token": ADMIN_TOKEN})
            assert refused.status_code == 404
            assert "yswd_session" not in refused.cookies
            # tokens still serve the API
            me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert me.status_code == 200
    finally:
        container.close()
