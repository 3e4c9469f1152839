"""Why a sign-in failed: refused (this attempt must not succeed), or the provider is out."""

from __future__ import annotations

from enum import StrEnum


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
