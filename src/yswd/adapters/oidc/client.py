"""The relying party: the authorization code flow with PKCE, ``state`` and ``nonce``.

See the package's docstring for the flow. This module holds the client, the
records it hands its caller, and the checks of the callback and of the identity.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc.jwk import Key

from yswd.adapters.oidc.discovery import ProviderDocuments, ProviderMetadata, check_issuer
from yswd.adapters.oidc.refusals import (
    OidcConfigurationError,
    ProviderUnavailable,
    Reason,
    SignInRefused,
)
from yswd.adapters.oidc.tokens import (
    CLIENT_ASSERTION_TYPE,
    checked_claims,
    client_assertion,
    import_private_key,
)

SCOPE = "openid email profile"
DEFAULT_RETURN_PATH = "/staff/"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


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
        check_issuer(issuer)
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
            self._private_key = import_private_key(client_private_key, client_key_id)
            self._auth_method = "private_key_jwt"
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        self._provider = ProviderDocuments(
            issuer,
            self._http,
            metadata_ttl_seconds=metadata_ttl_seconds,
            jwks_min_refresh_seconds=jwks_min_refresh_seconds,
        )

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
        return self._provider.discovery_url

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document, fetched once per ``metadata_ttl_seconds``.
        If a refresh fails, the cached copy keeps serving."""
        return self._provider.metadata()

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
        return checked_claims(
            id_token,
            self._provider,
            client_id=self.client_id,
            nonce=nonce,
            now=now,
            leeway=self.leeway,
            access_token=access_token,
        )

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
        return client_assertion(self._private_key, self.client_id, audience, now)

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
