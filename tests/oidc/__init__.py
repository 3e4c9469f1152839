"""A real OpenID Connect provider (npm's oidc-provider) for sign-in tests; see fixtures.py."""

from tests.oidc.fixtures import (
    ACCOUNTS,
    OidcProvider,
    ProviderFlowError,
    RegisteredClient,
    login,
    oidc_provider,
    sign_out,
    start_provider,
)

__all__ = [
    "ACCOUNTS",
    "OidcProvider",
    "ProviderFlowError",
    "RegisteredClient",
    "login",
    "oidc_provider",
    "sign_out",
    "start_provider",
]
