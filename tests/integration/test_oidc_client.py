"""The OpenID Connect relying party (``yswd.adapters.oidc``) against a real provider:
npm's oidc-provider on loopback (``tests/oidc``), driven through its development login
and consent screens over plain HTTP, as a browser would."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from tests.oidc.fixtures import OidcProvider, login, sign_out, start_provider
from yswd.adapters.oidc.client import OidcClient, StateRecord, VerifiedIdentity, safe_return_path
from yswd.adapters.oidc.refusals import OidcConfigurationError, Reason, SignInRefused

pytestmark = pytest.mark.integration

LEEWAY = 30


def rsa_jwk(kid: str) -> dict[str, Any]:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256", "kid": kid})
    return dict(key.as_dict(private=True))


SHARED_JWKS = {"keys": [rsa_jwk("shared-signing-key")]}
CLIENT_KEY = rsa_jwk("yswd-client-key")
ODD_SECRET = "s3cr%t:with+odd/chars="


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    public_client_key = {k: v for k, v in CLIENT_KEY.items() if k in {"kty", "n", "e", "kid"}}
    extra_clients = [
        {  # private_key_jwt, as NHS CIS2 expects
            "client_id": "yswd-jwt",
            "redirect_uris": ["http://testserver/staff/sign-in/callback"],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "RS256",
            "jwks": {"keys": [public_client_key]},
        },
        {  # a secret that is not plain ASCII letters and digits
            "client_id": "yswd-post",
            "client_secret": ODD_SECRET,
            "redirect_uris": ["http://testserver/staff/sign-in/callback"],
            "token_endpoint_auth_method": "client_secret_post",
        },
    ]
    with start_provider(jwks=SHARED_JWKS, extra_clients=extra_clients) as running:
        yield running


def now() -> datetime:
    return datetime.now(UTC)


def relying_party(provider: OidcProvider, **options: Any) -> OidcClient:
    return OidcClient(
        provider.issuer,
        options.pop("client_id", provider.client_id),
        options.pop("client_secret", provider.client_secret),
        options.pop("redirect_uri", provider.redirect_uri),
        **options,
    )


def authorize(
    provider: OidcProvider,
    client: OidcClient,
    account: str,
    at: datetime | None = None,
    **login_options: Any,
) -> tuple[dict[str, str], StateRecord]:
    """Begin a sign-in, sign ``account`` in at the provider: the callback's query and the
    record the caller would have kept."""
    url, record = client.begin(at or now(), "/staff/items")
    with httpx.Client(timeout=10) as browser:
        callback = login(browser, url, account, issuer=provider.issuer, **login_options)
    assert callback.path == "/staff/sign-in/callback", callback
    return dict(callback.params), record


def refused(reason: Reason, call: Any, *args: Any, **kwargs: Any) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        call(*args, **kwargs)
    assert caught.value.reason is reason, caught.value
    return caught.value


# ---- discovery ------------------------------------------------------------------------------


def test_discovery_is_read_once_and_begin_asks_for_code_with_pkce(
    provider: OidcProvider,
) -> None:
    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: seen.append(request.url.path)]})
    with http, relying_party(provider, http=http) as client:
        metadata = client.metadata()
        assert metadata.issuer == provider.issuer
        assert metadata.authorization_endpoint == f"{provider.issuer}/auth"
        assert metadata.token_endpoint == f"{provider.issuer}/token"
        assert metadata.end_session_endpoint == f"{provider.issuer}/session/end"
        assert metadata.id_token_algorithms == ("RS256",)
        client.metadata()
        url, record = client.begin(now(), "https://evil.example/")
        assert seen == ["/.well-known/openid-configuration"]  # cached

    params = httpx.URL(url).params
    assert params["response_type"] == "code"
    assert params["client_id"] == provider.client_id
    assert params["redirect_uri"] == provider.redirect_uri
    assert params["scope"] == "openid email profile"
    assert params["state"] == record.state
    assert params["nonce"] == record.nonce
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] != record.code_verifier
    assert "code_verifier" not in params
    assert record.return_to == "/staff/"  # not an open redirect
    assert len({record.state, record.nonce, record.code_verifier}) == 3


def test_discovery_refuses_an_issuer_that_is_not_the_documents(provider: OidcProvider) -> None:
    with (
        OidcClient(provider.issuer + "/", "yswd", "s", provider.redirect_uri) as client,
        pytest.raises(OidcConfigurationError, match="names issuer"),
    ):
        client.metadata()


def test_plain_http_issuers_are_only_for_this_machine() -> None:
    with pytest.raises(ValueError, match="https"):
        OidcClient("http://login.example/tenant/v2.0", "yswd", "s", "https://yswd/cb")
    with pytest.raises(ValueError, match="query"):
        OidcClient("https://login.example/?tenant=1", "yswd", "s", "https://yswd/cb")


# ---- signing in -----------------------------------------------------------------------------


def test_a_verified_email_signs_in(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "alice")
        assert params["iss"] == provider.issuer  # RFC 9207, checked by finish
        identity = client.finish(params, record, now())
    assert identity == VerifiedIdentity(
        email="alice.ward@hospital.example",
        email_verified=True,
        subject="alice",
        name="Alice Ward",
        issuer=provider.issuer,
        id_token=identity.id_token,
        claims=identity.claims,
    )
    assert identity.claims["aud"] == provider.client_id
    assert identity.claims["exp"] - identity.claims["iat"] == provider.id_token_ttl
    assert record.return_to == "/staff/items"


def test_an_unverified_email_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "unverified")
        refused(Reason.EMAIL_UNVERIFIED, client.finish, params, record, now())


def test_an_account_without_email_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "no-email")
        refused(Reason.NO_EMAIL, client.finish, params, record, now())


def test_no_email_verified_claim_passes_unless_required(provider: OidcProvider) -> None:
    # the contract: "email_verified not false"; Entra ID and CIS2 send no such claim
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "no-verified-claim")
        identity = client.finish(params, record, now())
        assert (identity.email, identity.email_verified) == ("plain@hospital.example", None)
    with relying_party(provider, require_verified_email=True) as strict:
        params, record = authorize(provider, strict, "no-verified-claim")
        refused(Reason.EMAIL_UNVERIFIED, strict.finish, params, record, now())
    with relying_party(provider, required_true_claims=["xms_edov"]) as entra_like:
        params, record = authorize(provider, entra_like, "alice")
        refused(Reason.EMAIL_UNVERIFIED, entra_like.finish, params, record, now())


def test_a_forged_state_is_refused_and_uses_nothing_up(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "alice")
        for forged in (
            {**params, "state": "forged"},
            {k: v for k, v in params.items() if k != "state"},
        ):
            refused(Reason.BAD_STATE, client.finish, forged, record, now())
        other_attempt = client.begin(now())[1]  # another browser's attempt
        refused(Reason.BAD_STATE, client.finish, params, other_attempt, now())
        # nothing was exchanged: the real callback still works
        assert client.finish(params, record, now()).subject == "alice"


def test_a_replayed_code_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "alice")
        client.finish(params, record, now())
        error = refused(Reason.CODE_REJECTED, client.finish, params, record, now())
    assert "invalid_grant" in error.detail
    assert "authorization code already consumed" in provider.log()


def test_a_wrong_code_verifier_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "alice")
        wrong = dataclasses.replace(record, code_verifier="x" * 64)
        refused(Reason.CODE_REJECTED, client.finish, params, wrong, now())


def test_an_id_token_for_another_client_is_refused(provider: OidcProvider) -> None:
    other = provider.other_client
    with (
        relying_party(
            provider, client_id=other.client_id, client_secret=other.client_secret
        ) as app,
        relying_party(provider) as yswd,
    ):
        params, record = authorize(provider, app, "alice")
        their_token = app.finish(params, record, now()).id_token  # valid, signed, theirs
        refused(
            Reason.WRONG_AUDIENCE, yswd.verify_id_token, their_token, nonce=record.nonce, now=now()
        )


def test_a_code_issued_to_another_client_is_refused(provider: OidcProvider) -> None:
    other = provider.other_client
    with (
        relying_party(
            provider, client_id=other.client_id, client_secret=other.client_secret
        ) as app,
        relying_party(provider) as yswd,
    ):
        params, record = authorize(provider, app, "alice")
        refused(Reason.CODE_REJECTED, yswd.finish, params, record, now())


def test_a_wrong_client_secret_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider, client_secret="not-the-secret") as client:
        params, record = authorize(provider, client, "alice")
        error = refused(Reason.CODE_REJECTED, client.finish, params, record, now())
    assert "invalid_client" in error.detail


def test_an_expired_id_token_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider, leeway_seconds=LEEWAY) as client:
        started = now()
        params, record = authorize(provider, client, "alice", at=started)
        later = started + timedelta(seconds=provider.id_token_ttl + LEEWAY + 5)
        refused(Reason.TOKEN_EXPIRED, client.finish, params, record, later)


def test_an_id_token_from_the_future_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider, leeway_seconds=LEEWAY) as client:
        slow_clock = now() - timedelta(minutes=5)
        params, record = authorize(provider, client, "alice", at=slow_clock)
        refused(Reason.NOT_YET_VALID, client.finish, params, record, slow_clock)


def test_a_bad_nonce_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "alice")
        replayed = dataclasses.replace(record, nonce="nonce-of-another-attempt")
        refused(Reason.BAD_NONCE, client.finish, params, replayed, now())


def test_a_cancelled_sign_in_is_the_providers_error(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        params, record = authorize(provider, client, "alice", consent=False)
        assert params["error"] == "access_denied"
        error = refused(Reason.PROVIDER_ERROR, client.finish, params, record, now())
    assert error.detail.startswith("access_denied")


def test_a_stale_attempt_is_refused(provider: OidcProvider) -> None:
    with relying_party(provider) as client:
        started = now()
        params, record = authorize(provider, client, "alice", at=started)
        refused(
            Reason.ATTEMPT_EXPIRED, client.finish, params, record, started + timedelta(minutes=11)
        )


def test_a_response_from_another_issuer_is_refused(provider: OidcProvider) -> None:
    """A twin provider with the same signing key and clients: only ``iss`` tells them apart."""
    with (
        start_provider(jwks=SHARED_JWKS) as twin,
        relying_party(provider) as yswd,
        relying_party(twin) as twin_client,
    ):
        # mix-up: this browser's attempt, answered by the other provider
        url, record = yswd.begin(now())
        twin_url = url.replace(provider.issuer, twin.issuer, 1)
        with httpx.Client(timeout=10) as browser:
            callback = login(browser, twin_url, "alice", issuer=twin.issuer)
        refused(Reason.WRONG_ISSUER, yswd.finish, dict(callback.params), record, now())
        # and a valid ID token signed with the same key, from the other issuer
        params, twin_record = authorize(twin, twin_client, "alice")
        token = twin_client.finish(params, twin_record, now()).id_token
        refused(
            Reason.WRONG_ISSUER, yswd.verify_id_token, token, nonce=twin_record.nonce, now=now()
        )


def test_keys_are_fetched_again_for_an_unknown_key_id() -> None:
    """The provider restarts with a new signing key: the cached JWKS lacks its kid."""
    fetched: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: fetched.append(r.url.path)]}) as http:
        with start_provider() as first:
            port, issuer = first.port, first.issuer
            client = relying_party(first, http=http, jwks_min_refresh_seconds=0)
            for _ in range(2):
                params, record = authorize(first, client, "alice")
                client.finish(params, record, now())
            assert fetched.count("/jwks") == 1  # cached
        with start_provider(port=port) as second:
            assert second.issuer == issuer
            params, record = authorize(second, client, "alice")
            assert client.finish(params, record, now()).subject == "alice"
    assert fetched.count("/jwks") == 2
    assert fetched.count("/.well-known/openid-configuration") == 1


def test_claims_only_at_userinfo_are_read_there() -> None:
    """Like CIS2: the ID token carries sub only; email comes from the userinfo endpoint.
    This provider also offers no RP-initiated logout."""
    with (
        start_provider(conform_id_token_claims=True, rp_initiated_logout=False) as minimal,
        relying_party(minimal) as client,
    ):
        params, record = authorize(minimal, client, "alice")
        identity = client.finish(params, record, now())
        assert "email" not in client.verify_id_token(
            identity.id_token, nonce=record.nonce, now=now()
        )
        assert (identity.email, identity.email_verified) == ("alice.ward@hospital.example", True)
        params, record = authorize(minimal, client, "unverified")
        refused(Reason.EMAIL_UNVERIFIED, client.finish, params, record, now())
        assert client.metadata().end_session_endpoint is None
        assert client.logout_url(identity.id_token, "http://testserver/staff/signed-out") is None


@pytest.mark.parametrize("form", ["jwk", "pem"])
def test_private_key_jwt_client_authentication(provider: OidcProvider, form: str) -> None:
    key: Any = CLIENT_KEY
    options: dict[str, Any] = {}
    if form == "pem":
        key = RSAKey.import_key(CLIENT_KEY).as_pem(private=True)
        options["client_key_id"] = CLIENT_KEY["kid"]
    with relying_party(
        provider, client_id="yswd-jwt", client_secret=None, client_private_key=key, **options
    ) as client:
        params, record = authorize(provider, client, "alice")
        assert client.finish(params, record, now()).email == "alice.ward@hospital.example"


def test_a_secret_with_odd_characters_goes_in_the_body(provider: OidcProvider) -> None:
    with relying_party(provider, client_id="yswd-post", client_secret=ODD_SECRET) as client:
        params, record = authorize(provider, client, "alice")
        assert client.finish(params, record, now()).subject == "alice"


# ---- signing out ----------------------------------------------------------------------------


def test_logout_url_ends_the_session_at_the_provider(provider: OidcProvider) -> None:
    back = provider.post_logout_redirect_uri
    assert back is not None
    with relying_party(provider) as client, httpx.Client(timeout=10) as browser:
        url, record = client.begin(now())
        callback = login(browser, url, "alice", issuer=provider.issuer)
        identity = client.finish(dict(callback.params), record, now())

        logout = client.logout_url(identity.id_token, back, state="s-123")
        assert logout is not None
        parsed = httpx.URL(logout)
        assert str(parsed.copy_with(query=None)) == f"{provider.issuer}/session/end"
        assert parsed.params["id_token_hint"] == identity.id_token
        assert parsed.params["post_logout_redirect_uri"] == back
        assert parsed.params["client_id"] == provider.client_id
        landed = sign_out(browser, logout)
        assert str(landed.copy_with(query=None)) == back
        assert landed.params["state"] == "s-123"

        # the provider's session is gone: the next sign-in asks for the login again
        url, record = client.begin(now())
        first_screen = browser.get(url, follow_redirects=True)
        assert 'name="login"' in first_screen.text

    unregistered = client.logout_url(identity.id_token, "http://testserver/elsewhere")
    assert unregistered is not None
    with httpx.Client(timeout=10) as browser:
        assert browser.get(unregistered).status_code == 400


# ---- the record the caller stores ---------------------------------------------------------


def test_the_state_record_survives_storage_as_json() -> None:
    record = StateRecord("s", "n", "v" * 43, datetime(2026, 11, 23, 9, 30, tzinfo=UTC), "/x?y=1")
    assert StateRecord.from_dict(record.to_dict()) == record
    tampered = {**record.to_dict(), "return_to": "//evil.example/"}
    assert StateRecord.from_dict(tampered).return_to == "/staff/"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/staff/items?page=2", "/staff/items?page=2"),
        ("//evil.example/", "/staff/"),
        ("/\\evil.example", "/staff/"),
        ("https://evil.example/", "/staff/"),
        ("staff", "/staff/"),
        ("/staff/\r\nSet-Cookie: x", "/staff/"),
        (None, "/staff/"),
    ],
)
def test_return_paths_stay_on_this_site(path: str | None, expected: str) -> None:
    assert safe_return_path(path) == expected
