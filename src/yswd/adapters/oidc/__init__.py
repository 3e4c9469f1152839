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

The modules: ``client`` (:class:`OidcClient`, :class:`StateRecord`,
:class:`VerifiedIdentity`, ``safe_return_path``), ``discovery`` (the discovery
document and JWKS, cached), ``tokens`` (the ID token's checks and the client's
signed assertion) and ``refusals`` (:class:`Reason` and the errors).
"""
