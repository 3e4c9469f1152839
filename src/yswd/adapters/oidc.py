"""The OpenID Connect relying party: staff sign in with their organisation's account.

One :class:`OidcClient` per configured provider (Microsoft Entra ID, NHS CIS2, Keycloak, ...).
It runs the authorization code flow with PKCE (S256), ``state`` and ``nonce``:

1. :meth:`OidcClient.begin` returns the provider's authorization URL and a
   :class:`StateRecord`. The caller keeps the record server-side, with the pre-sign-in
   session, and redirects the browser to the URL.
2. The provider sends the browser back to the redirect URI. The caller takes the stored
   record (once: delete it as it is read) and passes the callback's query parameters to
   :meth:`OidcClient.finish`, which checks ``state``, exchanges the code with the verifier,
   validates the ID token (signature via the provider's JWKS, ``iss``, ``aud``/``azp``,
   ``exp``, ``iat``, ``nonce``, ``at_hash``) and answers a :class:`VerifiedIdentity`, or
   raises :class:`SignInRefused` with a :class:`Reason`.

Matching the identity to a user (by email, case-insensitively) is the caller's job; so is
never creating a user by signing in.

Discovery is read from ``<issuer>/.well-known/openid-configuration`` and cached; the JWKS
is cached and fetched again when a token names a key id it does not hold (the provider
rotated its keys). Time is an input: every check uses the ``now`` it is given.

Built on authlib's OAuth 2.0 / OpenID Connect core (the authorization request, the PKCE
challenge, the ID token claim rules) and joserfc (JWS and JWK, authlib's own JOSE library).
It does not use ``authlib.integrations.httpx_client``, which authlib 1.9 deprecates in
favour of ``httpx2``; it speaks to the provider with a plain :class:`httpx.Client`.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast
from urllib.parse import quote, urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.errors import (
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import Key, KeySet, import_key
from joserfc.jws import JWSRegistry

__all__ = [
    "OidcClient",
    "OidcConfigurationError",
    "OidcError",
    "ProviderMetadata",
    "ProviderUnavailable",
    "Reason",
    "SignInRefused",
    "StateRecord",
    "VerifiedIdentity",
    "safe_return_path",
]

SCOPE = "openid email profile"
DEFAULT_RETURN_PATH = "/staff/"
# Asymmetric signatures only: an ID token is checked with the provider's published keys,
# never with the client secret (HS256) and never unsigned ("none").
ASYMMETRIC_ALGORITHMS = frozenset(
    {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
    }
)  # fmt: skip
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class Reason(StrEnum):
    """Why a sign-in was refused. The values are stable, for logs and metrics."""

    BAD_STATE = "bad_state"  # no state, or not the one this browser was given
    ATTEMPT_EXPIRED = "attempt_expired"  # the sign-in attempt is too old (or from the future)
    WRONG_ISSUER = "wrong_issuer"  # the response or the ID token is from another issuer
    PROVIDER_ERROR = "provider_error"  # the provider answered error=... (denied, cancelled)
    MISSING_CODE = "missing_code"
    CODE_REJECTED = "code_rejected"  # the token endpoint refused: used, expired, bad verifier
    NO_ID_TOKEN = "no_id_token"
    BAD_SIGNATURE = "bad_signature"  # unknown key, bad signature, disallowed algorithm
    WRONG_AUDIENCE = "wrong_audience"  # aud or azp is not this client
    TOKEN_EXPIRED = "token_expired"
    NOT_YET_VALID = "not_yet_valid"  # iat or nbf after now
    BAD_NONCE = "bad_nonce"
    BAD_TOKEN = "bad_token"  # any other malformed or missing claim
    NO_EMAIL = "no_email"
    EMAIL_UNVERIFIED = "email_unverified"


class OidcError(Exception):
    """Base of this module's errors."""


class SignInRefused(OidcError):
    """This sign-in must not succeed. ``detail`` is for logs (it may quote the provider),
    not for the page the person sees."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail[:300]
        super().__init__(f"{reason.value}: {self.detail}" if detail else reason.value)


class ProviderUnavailable(OidcError):
    """The provider could not be reached or answered nonsense (an outage, not a refusal)."""


class OidcConfigurationError(ProviderUnavailable):
    """The provider's discovery document does not fit this client's settings."""


@dataclass(frozen=True)
class StateRecord:
    """What the caller keeps server-side between :meth:`OidcClient.begin` and
    :meth:`OidcClient.finish`. The browser sees only ``state`` (and the challenge)."""

    state: str
    nonce: str
    code_verifier: str
    created_at: datetime
    return_to: str = DEFAULT_RETURN_PATH

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready form for storage with the pre-sign-in session."""
        return {
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
            "created_at": self.created_at.isoformat(),
            "return_to": self.return_to,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateRecord:
        created_at = datetime.fromisoformat(str(data["created_at"]))
        _require_aware(created_at, "created_at")
        return cls(
            state=str(data["state"]),
            nonce=str(data["nonce"]),
            code_verifier=str(data["code_verifier"]),
            created_at=created_at,
            return_to=safe_return_path(str(data.get("return_to", DEFAULT_RETURN_PATH))),
        )


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the provider says signed in, after every check passed.

    ``email`` is as the provider sent it (compare it case-insensitively).
    ``email_verified`` is the provider's claim: ``True``, or ``None`` when it sent none
    (Entra ID and CIS2 send none); a ``False`` never gets this far.
    ``id_token`` is the raw token, to keep with the session as the ``id_token_hint`` of
    :meth:`OidcClient.logout_url`.
    """

    email: str
    email_verified: bool | None
    subject: str
    name: str | None
    issuer: str
    id_token: str
    claims: Mapping[str, Any]


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document this client uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    token_endpoint_auth_methods: tuple[str, ...]
    id_token_algorithms: tuple[str, ...]
    iss_parameter_supported: bool
    document: Mapping[str, Any]


def safe_return_path(path: str | None, default: str = DEFAULT_RETURN_PATH) -> str:
    """``path`` if it is a local absolute path on this site, else ``default`` (no open
    redirects: no scheme, no host, no ``//`` or ``/\\``, no control characters)."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in path):
        return default
    parts = urlsplit(path)
    if parts.scheme or parts.netloc:
        return default
    return path


class OidcClient:
    """A confidential OpenID Connect client of one provider.

    ``client_secret`` authenticates at the token endpoint (``client_secret_basic`` when the
    provider offers it, else ``client_secret_post``; ``token_endpoint_auth_method``
    chooses). With ``client_private_key`` (a PEM or JWK private key) it uses
    ``private_key_jwt`` instead, as NHS CIS2 expects; the provider must hold the public
    key (registered, or at the client's JWKS URL).

    ``http`` is the HTTP client to use (default: one with a 10 second timeout, no redirects).
    """

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str,
        http: httpx.Client | None = None,
        *,
        scope: str = SCOPE,
        token_endpoint_auth_method: str | None = None,
        client_private_key: str | bytes | Mapping[str, Any] | None = None,
        client_key_id: str | None = None,
        leeway_seconds: int = 30,
        attempt_ttl_seconds: int = 600,
        require_verified_email: bool = False,
        required_true_claims: Sequence[str] = (),
        metadata_ttl_seconds: float = 3600.0,
        jwks_min_refresh_seconds: float = 30.0,
    ) -> None:
        _check_issuer(issuer)
        if client_secret is None and client_private_key is None:
            raise ValueError("a confidential client needs a client secret or a private key")
        self.issuer = issuer
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.scope = scope
        self.leeway = leeway_seconds
        self.attempt_ttl = timedelta(seconds=attempt_ttl_seconds)
        self.require_verified_email = require_verified_email
        self.required_true_claims = tuple(required_true_claims)
        self._client_secret = client_secret
        self._auth_method = token_endpoint_auth_method
        self._private_key: Key | None = None
        if client_private_key is not None:
            self._private_key = _import_private_key(client_private_key, client_key_id)
            self._auth_method = "private_key_jwt"
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        self._metadata_ttl = metadata_ttl_seconds
        self._jwks_min_refresh = jwks_min_refresh_seconds
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._jwks: KeySet | None = None
        self._jwks_at = 0.0

    # ---- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> OidcClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ---- discovery and keys ------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document, fetched once per ``metadata_ttl_seconds``.
        If a refresh fails, the cached copy keeps serving."""
        with self._lock:
            fresh = time.monotonic() - self._metadata_at < self._metadata_ttl
            if self._metadata is not None and fresh:
                return self._metadata
            try:
                self._metadata = self._discover()
            except OidcConfigurationError:
                raise
            except ProviderUnavailable:
                if self._metadata is None:
                    raise
            self._metadata_at = time.monotonic()
            return self._metadata

    def _discover(self) -> ProviderMetadata:
        doc = self._get_json(self.discovery_url, "discovery document")
        if doc.get("issuer") != self.issuer:
            raise OidcConfigurationError(
                f"the discovery document names issuer {doc.get('issuer')!r}, not {self.issuer!r}"
            )
        endpoints: dict[str, str] = {}
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = doc.get(name)
            if not isinstance(value, str) or not value:
                raise OidcConfigurationError(f"the discovery document has no {name}")
            _check_endpoint(self.issuer, name, value)
            endpoints[name] = value
        optional: dict[str, str | None] = {}
        for name in ("userinfo_endpoint", "end_session_endpoint"):
            value = doc.get(name)
            if isinstance(value, str) and value:
                _check_endpoint(self.issuer, name, value)
                optional[name] = value
            else:
                optional[name] = None
        response_types = doc.get("response_types_supported")
        if isinstance(response_types, list) and "code" not in response_types:
            raise OidcConfigurationError("the provider does not offer response_type=code")
        challenges = doc.get("code_challenge_methods_supported")
        if isinstance(challenges, list) and "S256" not in challenges:
            raise OidcConfigurationError("the provider does not offer PKCE with S256")
        offered = doc.get("id_token_signing_alg_values_supported")
        if isinstance(offered, list):
            algorithms = tuple(a for a in offered if a in ASYMMETRIC_ALGORITHMS)
        else:
            algorithms = ("RS256",)
        if not algorithms:
            raise OidcConfigurationError(
                f"the provider signs ID tokens only with {offered!r}, none of them asymmetric"
            )
        auth_methods = doc.get("token_endpoint_auth_methods_supported")
        return ProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"],
            jwks_uri=endpoints["jwks_uri"],
            userinfo_endpoint=optional["userinfo_endpoint"],
            end_session_endpoint=optional["end_session_endpoint"],
            token_endpoint_auth_methods=(
                tuple(str(m) for m in auth_methods)
                if isinstance(auth_methods, list)
                else ("client_secret_basic",)  # the default in OpenID Connect Discovery
            ),
            id_token_algorithms=algorithms,
            iss_parameter_supported=doc.get("authorization_response_iss_parameter_supported")
            is True,
            document=doc,
        )

    def _keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys; ``refresh`` fetches them again (at most once per
        ``jwks_min_refresh_seconds``), for a token signed with a key id not yet seen."""
        metadata = self.metadata()
        with self._lock:
            age = time.monotonic() - self._jwks_at
            if self._jwks is not None and (not refresh or age < self._jwks_min_refresh):
                return self._jwks
            document = self._get_json(metadata.jwks_uri, "JWKS")
            try:
                keys = KeySet.import_key_set(cast(Any, document))
            except (JoseError, KeyError, TypeError, ValueError) as error:
                raise ProviderUnavailable(f"the provider's JWKS is unusable: {error}") from error
            # only public keys for asymmetric signatures; a symmetric key is no use here
            usable = [key for key in keys if key.key_type in {"RSA", "EC", "OKP"}]
            if any(key.is_private for key in usable):
                raise OidcConfigurationError("the provider's JWKS holds a private key")
            if not usable:
                raise ProviderUnavailable("the provider's JWKS holds no public signing key")
            self._jwks, self._jwks_at = KeySet(usable), time.monotonic()
            return self._jwks

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            answer = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"{what} at {url}: {error}") from error
        if answer.status_code != 200:
            raise ProviderUnavailable(f"{what} at {url} answered {answer.status_code}")
        try:
            body = answer.json()
        except ValueError as error:
            raise ProviderUnavailable(f"{what} at {url} is not JSON") from error
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{what} at {url} is not a JSON object")
        return body

    # ---- the flow ----------------------------------------------------------------------

    def begin(
        self,
        now: datetime,
        return_to: str | None = DEFAULT_RETURN_PATH,
        *,
        login_hint: str | None = None,
        prompt: str | None = None,
    ) -> tuple[str, StateRecord]:
        """The URL to send the browser to, and the record to keep server-side."""
        _require_aware(now, "now")
        metadata = self.metadata()
        record = StateRecord(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=secrets.token_urlsafe(64),  # 86 characters of [A-Za-z0-9_-]
            created_at=now,
            return_to=safe_return_path(return_to),
        )
        url = prepare_grant_uri(
            metadata.authorization_endpoint,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=self.redirect_uri,
            scope=self.scope,
            state=record.state,
            nonce=record.nonce,
            code_challenge=create_s256_code_challenge(record.code_verifier),
            code_challenge_method="S256",
            login_hint=login_hint,
            prompt=prompt,
        )
        return str(url), record

    def finish(
        self, params: Mapping[str, str], record: StateRecord, now: datetime
    ) -> VerifiedIdentity:
        """Check the callback, exchange its code, validate the ID token: the identity, or
        :class:`SignInRefused`. ``params`` is the callback's query string, parsed."""
        _require_aware(now, "now")
        metadata = self.metadata()
        state = params.get("state")
        if not state or not hmac.compare_digest(state.encode(), record.state.encode()):
            raise SignInRefused(Reason.BAD_STATE, "the state is missing or not this attempt's")
        age = now - record.created_at
        if age > self.attempt_ttl or age < -timedelta(seconds=self.leeway):
            raise SignInRefused(Reason.ATTEMPT_EXPIRED, f"the attempt is {age} old")
        # RFC 9207: a provider that says it sends `iss` must send this issuer (mix-up defence)
        iss = params.get("iss")
        if iss is not None and iss != self.issuer:
            raise SignInRefused(Reason.WRONG_ISSUER, f"the response came from {iss!r}")
        if iss is None and metadata.iss_parameter_supported:
            raise SignInRefused(Reason.WRONG_ISSUER, "the response has no iss parameter")
        if "error" in params:
            description = params.get("error_description", "")
            raise SignInRefused(Reason.PROVIDER_ERROR, f"{params['error']}: {description}")
        code = params.get("code")
        if not code:
            raise SignInRefused(Reason.MISSING_CODE)
        tokens = self._exchange(metadata, code, record.code_verifier, now)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInRefused(Reason.NO_ID_TOKEN, "the token response has no id_token")
        access_token = tokens.get("access_token")
        claims = self.verify_id_token(
            id_token,
            nonce=record.nonce,
            now=now,
            access_token=access_token if isinstance(access_token, str) else None,
        )
        if "email" not in claims and isinstance(access_token, str):
            # CIS2 (and oidc-provider's default) put scope claims only at userinfo
            claims = {**self._userinfo(metadata, access_token, claims["sub"]), **claims}
        return self._identity(claims, id_token)

    def verify_id_token(
        self,
        id_token: str,
        *,
        nonce: str,
        now: datetime,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """The claims of a valid ID token for this client, or :class:`SignInRefused`."""
        _require_aware(now, "now")
        metadata = self.metadata()
        registry = JWSRegistry(algorithms=list(metadata.id_token_algorithms))
        try:
            try:
                token = jwt.decode(id_token, self._keys(), registry=registry)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, self._keys(refresh=True), registry=registry)
        except (JoseError, ValueError) as error:
            raise SignInRefused(Reason.BAD_SIGNATURE, str(error)) from error
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        }
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
        if access_token:
            params["access_token"] = access_token
        claims = CodeIDToken(token.claims, token.header, options, params)
        try:
            claims.validate(now=int(now.timestamp()), leeway=self.leeway)
        except ExpiredTokenError as error:
            raise SignInRefused(Reason.TOKEN_EXPIRED, str(error)) from error
        except ClaimError as error:
            raise SignInRefused(_claim_reason(error.claim), str(error)) from error
        except JoseError as error:
            raise SignInRefused(Reason.BAD_TOKEN, str(error)) from error
        return dict(claims)

    def logout_url(
        self,
        id_token_hint: str | None,
        post_logout_redirect_uri: str | None,
        state: str | None = None,
    ) -> str | None:
        """The provider's RP-initiated logout URL, or ``None`` if it offers none. The
        ``post_logout_redirect_uri`` must be registered with the provider."""
        end_session = self.metadata().end_session_endpoint
        if end_session is None:
            return None
        params: dict[str, str | None] = {"client_id": self.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
            params["state"] = state or secrets.token_urlsafe(16)
        return str(httpx.URL(end_session).copy_merge_params(params))

    # ---- the token endpoint and userinfo ---------------------------------------------------

    def _exchange(
        self, metadata: ProviderMetadata, code: str, verifier: str, now: datetime
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
        }
        auth: httpx.Auth | None = None
        method = self._token_auth_method(metadata)
        if method == "private_key_jwt":
            form["client_id"] = self.client_id
            form["client_assertion_type"] = CLIENT_ASSERTION_TYPE
            form["client_assertion"] = self._client_assertion(metadata.token_endpoint, now)
        elif method == "client_secret_post":
            form["client_id"] = self.client_id
            form["client_secret"] = self._client_secret or ""
        else:  # RFC 6749 2.3.1: both halves form-urlencoded before base64
            auth = httpx.BasicAuth(
                quote(self.client_id, safe=""), quote(self._client_secret or "", safe="")
            )
        try:
            answer = self._http.post(
                metadata.token_endpoint,
                data=form,
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"token endpoint: {error}") from error
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code >= 500 or not isinstance(body, dict):
            raise ProviderUnavailable(f"the token endpoint answered {answer.status_code}")
        if answer.status_code != 200 or "error" in body:
            refusal = body.get("error", answer.status_code)
            raise SignInRefused(
                Reason.CODE_REJECTED, f"{refusal}: {body.get('error_description', '')}"
            )
        return body

    def _token_auth_method(self, metadata: ProviderMetadata) -> str:
        if self._auth_method:
            return self._auth_method
        offered = metadata.token_endpoint_auth_methods
        secret_is_plain = set(self.client_id + (self._client_secret or "")) <= _UNRESERVED
        # Some providers do not url-decode Basic credentials: send odd secrets in the body.
        if "client_secret_basic" in offered and (
            secret_is_plain or "client_secret_post" not in offered
        ):
            return "client_secret_basic"
        if "client_secret_post" in offered:
            return "client_secret_post"
        raise OidcConfigurationError(
            f"the token endpoint takes only {list(offered)}, not a client secret"
        )

    def _client_assertion(self, audience: str, now: datetime) -> str:
        assert self._private_key is not None
        key = self._private_key
        alg = _signing_algorithm(key)
        issued = int(now.timestamp())
        header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        if key.kid:
            header["kid"] = key.kid
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "jti": secrets.token_urlsafe(24),
            "iat": issued,
            "exp": issued + 300,
        }
        return jwt.encode(header, claims, key, algorithms=[alg])

    def _userinfo(
        self, metadata: ProviderMetadata, access_token: str, subject: str
    ) -> dict[str, Any]:
        if metadata.userinfo_endpoint is None:
            return {}
        try:
            answer = self._http.get(
                metadata.userinfo_endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise ProviderUnavailable(f"userinfo endpoint: {error}") from error
        if answer.status_code != 200:
            raise ProviderUnavailable(f"the userinfo endpoint answered {answer.status_code}")
        try:
            body = answer.json()
        except ValueError as error:
            raise ProviderUnavailable("the userinfo answer is not JSON") from error
        if not isinstance(body, dict):
            raise ProviderUnavailable("the userinfo answer is not a JSON object")
        # OpenID Connect Core 5.3.4: userinfo's sub must be the ID token's
        if body.get("sub") != subject:
            raise SignInRefused(Reason.BAD_TOKEN, "userinfo is about another subject")
        return {k: body[k] for k in ("email", "email_verified", "name") if k in body}

    # ---- the identity ------------------------------------------------------------------

    def _identity(self, claims: Mapping[str, Any], id_token: str) -> VerifiedIdentity:
        email = claims.get("email")
        if not isinstance(email, str) or not _looks_like_email(email.strip()):
            raise SignInRefused(Reason.NO_EMAIL, "the provider sent no usable email claim")
        verified = _as_bool(claims.get("email_verified"))
        if verified is False:
            raise SignInRefused(Reason.EMAIL_UNVERIFIED, "email_verified is false")
        if verified is None and self.require_verified_email:
            raise SignInRefused(Reason.EMAIL_UNVERIFIED, "no email_verified claim")
        for claim in self.required_true_claims:
            if _as_bool(claims.get(claim)) is not True:
                raise SignInRefused(Reason.EMAIL_UNVERIFIED, f"the {claim} claim is not true")
        name = claims.get("name")
        if not isinstance(name, str) or not name.strip():
            given, family = claims.get("given_name"), claims.get("family_name")
            parts = [p for p in (given, family) if isinstance(p, str) and p.strip()]
            name = " ".join(parts) or None
        return VerifiedIdentity(
            email=email.strip(),
            email_verified=verified,
            subject=str(claims["sub"]),
            name=name.strip() if name else None,
            issuer=self.issuer,
            id_token=id_token,
            claims=dict(claims),
        )


# ---- helpers ------------------------------------------------------------------------------


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _check_issuer(issuer: str) -> None:
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError(f"an issuer is an https URL with no query or fragment, not {issuer!r}")
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return  # a provider on this machine, for tests
    if parts.scheme != "https":
        raise ValueError(f"the issuer must use https: {issuer!r}")


def _check_endpoint(issuer: str, name: str, url: str) -> None:
    parts = urlsplit(url)
    loopback = urlsplit(issuer).scheme == "http"
    if parts.scheme != "https" and not (
        loopback and parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    ):
        raise OidcConfigurationError(f"{name} must use https: {url!r}")


def _claim_reason(claim: str) -> Reason:
    first = claim.split(",")[0]
    return {
        "iss": Reason.WRONG_ISSUER,
        "aud": Reason.WRONG_AUDIENCE,
        "azp": Reason.WRONG_AUDIENCE,
        "exp": Reason.TOKEN_EXPIRED,
        "iat": Reason.NOT_YET_VALID,
        "nbf": Reason.NOT_YET_VALID,
        "nonce": Reason.BAD_NONCE,
    }.get(first, Reason.BAD_TOKEN)


def _as_bool(value: object) -> bool | None:
    """A boolean claim; some providers send "true"/"false" strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return None


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain and len(value) <= 320) and not any(
        c.isspace() or ord(c) < 0x20 for c in value
    )


def _import_private_key(material: str | bytes | Mapping[str, Any], kid: str | None) -> Key:
    """A private signing key from a PEM (RSA, EC or Ed25519) or a JWK. Without a ``kid``
    (given, or in the JWK) it is the RFC 7638 thumbprint, as joserfc computes it."""
    parameters: dict[str, Any] = {"use": "sig"}
    if kid:
        parameters["kid"] = kid
    if isinstance(material, Mapping):
        key_type = str(material.get("kty", ""))
        data: Any = dict(material)
    else:
        pem = material.encode() if isinstance(material, str) else material
        loaded = serialization.load_pem_private_key(pem, password=None)
        if isinstance(loaded, rsa.RSAPrivateKey):
            key_type = "RSA"
        elif isinstance(loaded, ec.EllipticCurvePrivateKey):
            key_type = "EC"
        elif isinstance(loaded, ed25519.Ed25519PrivateKey):
            key_type = "OKP"
        else:
            raise ValueError("client_private_key must be an RSA, EC or Ed25519 key")
        data = pem
    if key_type not in {"RSA", "EC", "OKP"}:
        raise ValueError("client_private_key must be an RSA, EC or Ed25519 key")
    key: Key = import_key(data, cast(Any, key_type), parameters=cast(Any, parameters))
    if not key.is_private:
        raise ValueError("client_private_key must be a private key")
    key.ensure_kid()
    return key


def _signing_algorithm(key: Key) -> str:
    declared = key.get("alg")
    if isinstance(declared, str) and declared:
        return declared
    if key.key_type == "EC":
        return {"P-384": "ES384", "P-521": "ES512"}.get(str(key.get("crv")), "ES256")
    if key.key_type == "OKP":
        return "EdDSA"
    return "RS256"
