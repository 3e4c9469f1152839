"""The provider's discovery document and signing keys (JWKS), fetched and cached.

The discovery document is read from ``<issuer>/.well-known/openid-configuration``
and cached; a refresh that fails keeps the cached copy serving. The JWKS is cached
and fetched again when a token names a key id it does not hold (the provider
rotated its keys), at most once per ``jwks_min_refresh_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from yswd.adapters.oidc.refusals import OidcConfigurationError, ProviderUnavailable

# Asymmetric signatures only: an ID token is checked with the provider's published keys,
# never with the client secret (HS256) and never unsigned ("none").
ASYMMETRIC_ALGORITHMS = frozenset(
    {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
    }
)  # fmt: skip
#: the hosts where a provider may speak plain http: this machine, for tests
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


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


class ProviderDocuments:
    """One provider's discovery document and keys, shared by the threads of one client."""

    def __init__(
        self,
        issuer: str,
        http: httpx.Client,
        *,
        metadata_ttl_seconds: float,
        jwks_min_refresh_seconds: float,
    ) -> None:
        self.issuer = issuer
        self._http = http
        self._metadata_ttl = metadata_ttl_seconds
        self._jwks_min_refresh = jwks_min_refresh_seconds
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._jwks: KeySet | None = None
        self._jwks_at = 0.0

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

    def keys(self, *, refresh: bool = False) -> KeySet:
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


def check_issuer(issuer: str) -> None:
    """An issuer is an https URL (plain http only on this machine, for tests)."""
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError(f"an issuer is an https URL with no query or fragment, not {issuer!r}")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return  # a provider on this machine, for tests
    if parts.scheme != "https":
        raise ValueError(f"the issuer must use https: {issuer!r}")


def _check_endpoint(issuer: str, name: str, url: str) -> None:
    parts = urlsplit(url)
    loopback = urlsplit(issuer).scheme == "http"
    if parts.scheme != "https" and not (
        loopback and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
    ):
        raise OidcConfigurationError(f"{name} must use https: {url!r}")
