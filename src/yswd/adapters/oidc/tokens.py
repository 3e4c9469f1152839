"""The ID token's checks, and the client's own signed assertion for ``private_key_jwt``.

Built on authlib's ID token claim rules (``CodeIDToken``: ``iss``, ``aud``/``azp``,
``exp``, ``iat``, ``nonce``, ``at_hash``) and joserfc's JWS and JWK.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import Key, import_key
from joserfc.jws import JWSRegistry

from yswd.adapters.oidc.discovery import ProviderDocuments
from yswd.adapters.oidc.refusals import Reason, SignInRefused

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def checked_claims(
    id_token: str,
    provider: ProviderDocuments,
    *,
    client_id: str,
    nonce: str,
    now: datetime,
    leeway: int,
    access_token: str | None = None,
) -> dict[str, Any]:
    """The claims of a valid ID token for ``client_id``, or :class:`SignInRefused`."""
    metadata = provider.metadata()
    registry = JWSRegistry(algorithms=list(metadata.id_token_algorithms))
    try:
        try:
            token = jwt.decode(id_token, provider.keys(), registry=registry)
        except InvalidKeyIdError:
            token = jwt.decode(id_token, provider.keys(refresh=True), registry=registry)
    except (JoseError, ValueError) as error:
        raise SignInRefused(Reason.BAD_SIGNATURE, str(error)) from error
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": provider.issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params: dict[str, Any] = {"nonce": nonce, "client_id": client_id}
    if access_token:
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=int(now.timestamp()), leeway=leeway)
    except ExpiredTokenError as error:
        raise SignInRefused(Reason.TOKEN_EXPIRED, str(error)) from error
    except ClaimError as error:
        raise SignInRefused(_claim_reason(error.claim), str(error)) from error
    except JoseError as error:
        raise SignInRefused(Reason.BAD_TOKEN, str(error)) from error
    return dict(claims)


def client_assertion(key: Key, client_id: str, audience: str, now: datetime) -> str:
    """A short-lived JWT, signed with the client's own key, that authenticates it at
    the token endpoint (``private_key_jwt``)."""
    alg = _signing_algorithm(key)
    issued = int(now.timestamp())
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if key.kid:
        header["kid"] = key.kid
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "exp": issued + 300,
    }
    return jwt.encode(header, claims, key, algorithms=[alg])


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


def import_private_key(material: str | bytes | Mapping[str, Any], kid: str | None) -> Key:
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
