"""Staff sign in with their organisation's account: the real app over HTTP (uvicorn on
loopback) against a real OpenID Connect provider (npm's oidc-provider, ``tests/oidc``).

Given Alice Ward, whom an admin added as a secretary with her work email, when she
signs in with her organisation account, then she is signed in as herself; and every
other outcome (an email nobody here has, an unverified email, a forged state, a
replayed callback, an ID token for another client, an expired one) is a plain page
with a 4xx status that signs nobody in.

The app's clock is the machine's, moved by ``shift`` (the provider signs with the
machine's clock), so a test can step past an ID token's expiry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.integration.servers import free_port
from tests.oidc.fixtures import CALLBACK_PATH, OidcProvider, login, sign_out, start_provider
from yswd.adapters.http.app import create_app
from yswd.bootstrap import Container, build
from yswd.projections.staff_directory import list_users
from yswd.settings import Settings

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "oidc-test-admin-token"
ORGANISATION = "Meadowbank Mental Health Trust"


@dataclass
class Site:
    """yswd, served on loopback, and the provider it signs staff in with."""

    url: str
    provider: OidcProvider
    container: Container
    shift: list[timedelta]

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
        )

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with start_provider(redirect_uris=[base + CALLBACK_PATH]) as provider:
        shift = [timedelta(0)]
        settings = Settings(
            data_dir=Path(tmp_path_factory.mktemp("oidc-sign-in")),
            admin_token=ADMIN_TOKEN,
            public_url=base,
            organisation_name=ORGANISATION,
            oidc_issuer=provider.issuer,
            oidc_client_id=provider.client_id,
            oidc_client_secret=provider.client_secret,
        )
        container = build(settings, clock=lambda: datetime.now(UTC) + shift[0])
        server = uvicorn.Server(
            uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        site = Site(base, provider, container, shift)
        with site.admin() as admin:
            unit = {"id": "cedar", "name": "Cedar ward", "parent_id": None}
            assert admin.post("/api/v1/units", json=unit).status_code == 201
            alice = {
                "name": "Alice Ward",
                "role": "secretary",
                "scopes": ["cedar"],
                "email": "Alice.Ward@Hospital.Example",  # the provider sends it in lower case
            }
            made = admin.post("/api/v1/users", json=alice)
            assert made.status_code == 201, made.text
            assert made.json()["email"] == "Alice.Ward@Hospital.Example"
            unverified = {
                "name": "Una Verified",
                "role": "secretary",
                "scopes": ["cedar"],
                "email": provider.email("unverified"),
            }
            assert admin.post("/api/v1/users", json=unverified).status_code == 201
        try:
            yield site
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            container.close()


@pytest.fixture(autouse=True)
def clock_back(site: Site) -> Iterator[None]:
    site.shift[0] = timedelta(0)
    yield
    site.shift[0] = timedelta(0)


def leave_for_provider(browser: httpx.Client, next_page: str = "/staff") -> httpx.URL:
    page = browser.get("/staff/sign-in")
    assert page.status_code == 200
    assert "Sign in with your organisation account" in page.text
    started = browser.get("/staff/sign-in/organisation", params={"next": next_page})
    assert started.status_code == 303
    return httpx.URL(started.headers["location"])


def sign_in_as(site: Site, browser: httpx.Client, account: str) -> httpx.URL:
    """Go to the provider and sign ``account`` in there: the callback URL it sends back."""
    authorize = leave_for_provider(browser)
    callback = login(browser, authorize, account, issuer=site.provider.issuer)
    assert callback.path == CALLBACK_PATH
    return callback


def not_signed_in(browser: httpx.Client) -> None:
    home = browser.get("/staff")
    assert home.status_code == 303
    assert home.headers["location"].startswith("/staff/sign-in")


def refused_page(answer: httpx.Response, status: int) -> str:
    assert answer.status_code == status, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert "You have not been signed in" in answer.text
    assert "yswd_session" not in answer.headers.get("set-cookie", "").split("=")[0]
    return answer.text


def test_the_sign_in_page_names_the_organisation_and_keeps_the_token_form(site: Site) -> None:
    with site.browser() as browser:
        page = browser.get("/staff/sign-in")
    assert page.status_code == 200
    assert f"Staff of {ORGANISATION} sign in" in page.text
    assert 'href="/staff/sign-in/organisation?next=/staff"' in page.text
    assert 'name="token"' in page.text  # break-glass


def test_a_verified_email_signs_in_the_user_an_admin_made_whatever_its_case(
    site: Site,
) -> None:
    with site.browser() as browser:
        authorize = leave_for_provider(browser, "/staff/items")
        params = authorize.params
        assert params["code_challenge_method"] == "S256"
        assert params["redirect_uri"] == site.url + CALLBACK_PATH
        assert params["state"] and params["nonce"]
        callback = login(browser, authorize, "alice", issuer=site.provider.issuer)
        done = browser.get(str(callback))
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/staff/items"
        home = browser.get("/staff")
        assert home.status_code == 200
        assert "Alice Ward" in home.text
        # sign out: ended here, then at the provider (RP-initiated logout)
        csrf = home.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        out = browser.post("/staff/sign-out", data={"csrf_token": csrf})
        assert out.status_code == 303
        logout = httpx.URL(out.headers["location"])
        assert str(logout).startswith(site.provider.issuer + "/session/end")
        assert logout.params["post_logout_redirect_uri"] == site.url + "/staff/signed-out"
        assert "id_token_hint" in logout.params
        back = sign_out(browser, logout)
        assert back.path == "/staff/signed-out"
        assert browser.get(str(back)).status_code == 200
        not_signed_in(browser)


def test_an_email_nobody_here_has_is_refused_and_no_user_is_made(site: Site) -> None:
    with site.browser() as browser:
        callback = sign_in_as(site, browser, "stranger")
        text = refused_page(browser.get(str(callback)), 403)
        assert "stranger@elsewhere.example" in text
        not_signed_in(browser)
    site.container.runner.catch_up()
    emails = {user["email"] for user in list_users(site.container.engine)}
    assert "stranger@elsewhere.example" not in emails  # nobody made by signing in
    assert site.container.app.user_for_email("stranger@elsewhere.example") is None


def test_an_unverified_email_is_refused(site: Site) -> None:
    with site.browser() as browser:
        callback = sign_in_as(site, browser, "unverified")
        refused_page(browser.get(str(callback)), 403)
        not_signed_in(browser)


def test_a_forged_state_is_refused(site: Site) -> None:
    with site.browser() as browser:
        callback = sign_in_as(site, browser, "alice")
        forged = callback.copy_set_param("state", secrets.token_urlsafe(32))
        refused_page(browser.get(str(forged)), 400)
        # and the real callback cannot be used after: the attempt was spent
        refused_page(browser.get(str(callback)), 400)
        not_signed_in(browser)


def test_a_callback_from_another_browser_is_refused(site: Site) -> None:
    with site.browser() as victim, site.browser() as attacker:
        callback = sign_in_as(site, attacker, "alice")
        refused_page(victim.get(str(callback)), 400)  # no attempt cookie of its own
        not_signed_in(victim)


def test_a_replayed_code_is_refused(site: Site) -> None:
    with site.browser() as browser:
        callback = sign_in_as(site, browser, "alice")
        first = browser.get(str(callback))
        assert first.status_code == 303  # signed in once
        # the whole callback again, with the attempt cookie it came with: spent
        browser.cookies.delete("yswd_session")
        browser.cookies.set("yswd_sign_in_attempt", first.request.headers["cookie"]
                            .split("yswd_sign_in_attempt=", 1)[1].split(";", 1)[0],
                            domain="127.0.0.1", path="/staff/sign-in")  # fmt: skip
        refused_page(browser.get(str(callback)), 400)
        not_signed_in(browser)
    with site.browser() as replay:
        # the same code again, under a new attempt of another browser (its own state):
        # the provider refuses it (the code is spent, and bound to another PKCE verifier)
        authorize = leave_for_provider(replay)
        fresh = login(replay, authorize, "alice", issuer=site.provider.issuer)
        replayed = fresh.copy_set_param("code", callback.params["code"])
        refused_page(replay.get(str(replayed)), 400)
        not_signed_in(replay)
    assert "invalid_grant" in site.provider.log()


def test_an_expired_id_token_is_refused(site: Site) -> None:
    with site.browser() as browser:
        callback = sign_in_as(site, browser, "alice")
        site.shift[0] = timedelta(seconds=site.provider.id_token_ttl + 30 + 5)
        refused_page(browser.get(str(callback)), 400)
        not_signed_in(browser)


class SwapIdToken(httpx.BaseTransport):
    """Between yswd and the provider's token endpoint: the answer's ID token replaced by
    another, genuinely signed by the provider, but issued to another client."""

    def __init__(self, inner: httpx.BaseTransport, token_endpoint: str, id_token: str) -> None:
        self.inner = inner
        self.token_endpoint = token_endpoint
        self.id_token = id_token

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.inner.handle_request(request)
        if str(request.url) != self.token_endpoint:
            return answer
        answer.read()
        body = {**json.loads(answer.content), "id_token": self.id_token}
        return httpx.Response(answer.status_code, json=body)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_an_id_token_for_another_client_is_refused(site: Site) -> None:
    provider, other = site.provider, site.provider.other_client
    client: Any = site.container.organisation_sign_in
    assert client is not None
    relying_party = client.client
    token_endpoint = relying_party.metadata().token_endpoint
    with site.browser() as browser:
        authorize = leave_for_provider(browser)
        # the other client's sign-in, with this attempt's nonce: its ID token is valid,
        # signed, and carries the right nonce, but its audience is the other client
        verifier, challenge = _pkce()
        theirs = authorize.copy_merge_params(
            {"client_id": other.client_id, "code_challenge": challenge}
        )
        their_callback = login(browser, theirs, "alice", issuer=provider.issuer)
        exchanged = httpx.post(
            token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": their_callback.params["code"],
                "redirect_uri": site.url + CALLBACK_PATH,
                "code_verifier": verifier,
            },
            auth=(other.client_id, other.client_secret),
            timeout=10,
        )
        assert exchanged.status_code == 200, exchanged.text
        their_token = exchanged.json()["id_token"]
        # now yswd's own sign-in, whose token answer carries that ID token instead
        authorize = leave_for_provider(browser)
        callback = login(browser, authorize, "alice", issuer=provider.issuer)
        real = relying_party._http
        relying_party._http = httpx.Client(
            transport=SwapIdToken(httpx.HTTPTransport(), token_endpoint, their_token),
            timeout=10,
        )
        try:
            refused_page(browser.get(str(callback)), 400)
        finally:
            relying_party._http.close()
            relying_party._http = real
        not_signed_in(browser)


def test_a_user_whose_tokens_were_revoked_cannot_sign_in_with_the_organisation(
    site: Site,
) -> None:
    with site.admin() as admin:
        made = admin.post(
            "/api/v1/users",
            json={"name": "Pat Plain", "role": "manager", "scopes": ["cedar"],
                  "email": site.provider.email("no-verified-claim")},
        )  # fmt: skip
        assert made.status_code == 201, made.text
        pat = made.json()["id"]
        # no email_verified claim at all (as Entra ID and CIS2 send): "not false" passes
        with site.browser() as browser:
            callback = sign_in_as(site, browser, "no-verified-claim")
            assert browser.get(str(callback)).status_code == 303
            assert browser.get("/staff").status_code == 200
            assert admin.post(f"/api/v1/users/{pat}/revoke").status_code == 200
            not_signed_in(browser)  # revocation ended the session
        with site.browser() as browser:
            callback = sign_in_as(site, browser, "no-verified-claim")
            refused_page(browser.get(str(callback)), 403)


def test_email_is_unique_whatever_its_case_and_can_be_changed(site: Site) -> None:
    with site.admin() as admin:
        taken = admin.post(
            "/api/v1/users",
            json={"name": "Another Alice", "role": "secretary", "scopes": ["cedar"],
                  "email": "ALICE.WARD@hospital.example"},
        )  # fmt: skip
        assert taken.status_code == 409, taken.text
        bad = admin.post(
            "/api/v1/users",
            json={"name": "No Email", "role": "secretary", "scopes": ["cedar"],
                  "email": "not an email"},
        )  # fmt: skip
        assert bad.status_code == 422
        made = admin.post(
            "/api/v1/users",
            json={"name": "Sam Stranger", "role": "secretary", "scopes": ["cedar"]},
        )
        assert made.status_code == 201
        assert made.json()["email"] is None
        sam = made.json()["id"]
        assert (
            admin.post(
                f"/api/v1/users/{sam}/email", json={"email": "alice.ward@hospital.example"}
            ).status_code
            == 409
        )
        answer = admin.post(
            f"/api/v1/users/{sam}/email", json={"email": site.provider.email("stranger")}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["email"] == "stranger@elsewhere.example"
    with site.browser() as browser:
        callback = sign_in_as(site, browser, "stranger")
        assert browser.get(str(callback)).status_code == 303
        assert "Sam Stranger" in browser.get("/staff").text
