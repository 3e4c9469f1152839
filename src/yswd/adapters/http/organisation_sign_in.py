"""The staff pages' view of the organisation's OpenID Connect provider.

The pages never import the OIDC adapter (``yswd.adapters.oidc``): the composition
root builds the client and hands it over wrapped in :class:`OrganisationSignIn`,
with that adapter's refusal and outage exception classes and its state record's
``from_dict``. The pages see three calls and two exceptions of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class SignInRefusedHere(Exception):
    """The provider's answer must not sign anyone in. ``reason`` is a stable word for
    logs (``bad_state``, ``wrong_audience``, ...), never shown on the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderDown(Exception):
    """The provider could not be reached or answered nonsense."""


@dataclass(frozen=True)
class Identity:
    email: str
    id_token: str
    name: str | None


class RelyingParty(Protocol):
    """What :class:`OrganisationSignIn` needs of ``yswd.adapters.oidc.client.OidcClient``."""

    def begin(self, now: datetime, return_to: str | None = ...) -> tuple[str, Any]: ...

    def finish(self, params: Mapping[str, str], record: Any, now: datetime) -> Any: ...

    def logout_url(
        self,
        id_token_hint: str | None,
        post_logout_redirect_uri: str | None,
        state: str | None = ...,
    ) -> str | None: ...


class OrganisationSignIn:
    """Signing in with the organisation's account, for the staff pages."""

    def __init__(
        self,
        client: RelyingParty,
        *,
        refused: type[Exception],
        unavailable: type[Exception],
        record_from_dict: Callable[[Mapping[str, Any]], Any],
        post_logout_redirect_uri: str | None,
    ) -> None:
        self.client = client
        self._refused = refused
        self._unavailable = unavailable
        self._record_from_dict = record_from_dict
        self.post_logout_redirect_uri = post_logout_redirect_uri

    def begin(self, now: datetime, return_to: str) -> tuple[str, dict[str, str]]:
        """The provider's URL to send the browser to, and the record to keep server-side."""
        try:
            url, record = self.client.begin(now, return_to)
        except self._unavailable as error:
            raise ProviderDown(str(error)) from error
        return url, dict(record.to_dict())

    def finish(
        self, params: Mapping[str, str], record: Mapping[str, Any], now: datetime
    ) -> tuple[Identity, str]:
        """The verified identity and the local path to go to, or :class:`SignInRefusedHere`."""
        try:
            state = self._record_from_dict(record)
        except (KeyError, TypeError, ValueError) as error:
            raise SignInRefusedHere("bad_state") from error
        try:
            identity = self.client.finish(params, state, now)
        except self._refused as error:
            reason = getattr(error, "reason", "refused")
            raise SignInRefusedHere(str(getattr(reason, "value", reason))) from error
        except self._unavailable as error:
            raise ProviderDown(str(error)) from error
        return Identity(identity.email, identity.id_token, identity.name), str(state.return_to)

    def logout_url(self, id_token: str | None) -> str | None:
        """The provider's RP-initiated logout URL, if it offers one."""
        try:
            return self.client.logout_url(id_token, self.post_logout_redirect_uri)
        except self._unavailable:
            return None
