"""A real OpenID Connect provider for tests: npm's ``oidc-provider`` (panva's, OpenID
Certified), run by ``tests/oidc/provider.mjs`` on the machine's Node.js, on loopback.

- :func:`start_provider` starts one (a context manager) on a free port, or a given one,
  and stops it afterwards. Tests are skipped when ``node`` or
  ``node_modules/oidc-provider`` is missing (``npm ci`` installs it from the lock).
- :func:`oidc_provider` is a session-scoped pytest fixture over it, with the default
  accounts and a redirect URI for each of ``http://testserver`` (Starlette's TestClient)
  and ``http://127.0.0.1:8000``. A test module or conftest uses it with
  ``from tests.oidc.fixtures import oidc_provider``; tests that run yswd on a random port
  start their own with ``start_provider(redirect_uris=[...])``.
- :func:`login` drives the development login and consent screens over plain HTTP and
  answers the provider's redirect to the relying party's callback, without following it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_SCRIPT = Path(__file__).with_name("provider.mjs")
MODULE_DIR = ROOT / "node_modules" / "oidc-provider"

CALLBACK_PATH = "/staff/sign-in/callback"
SIGNED_OUT_PATH = "/staff/signed-out"
DEFAULT_ORIGINS = ("http://testserver", "http://127.0.0.1:8000")

#: The accounts ``provider.mjs`` serves by default: account id -> claims (besides ``sub``).
ACCOUNTS: dict[str, dict[str, Any]] = {
    "alice": {"email": "alice.ward@hospital.example", "email_verified": True, "name": "Alice Ward"},
    "unverified": {
        "email": "unverified@hospital.example",
        "email_verified": False,
        "name": "Una Verified",
    },
    "stranger": {
        "email": "stranger@elsewhere.example",
        "email_verified": True,
        "name": "Sam Stranger",
    },
    "no-email": {"name": "Nora Nomail"},
    "no-verified-claim": {"email": "plain@hospital.example", "name": "Pat Plain"},
}


class ProviderFlowError(AssertionError):
    """The provider's screens did not lead where the test expected."""


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...] = ()

    @property
    def redirect_uri(self) -> str:
        return self.redirect_uris[0]

    @property
    def post_logout_redirect_uri(self) -> str | None:
        return self.post_logout_redirect_uris[0] if self.post_logout_redirect_uris else None


@dataclass
class OidcProvider:
    """A running provider: its issuer, the clients registered with it, its accounts."""

    issuer: str
    client: RegisteredClient
    other_client: RegisteredClient
    accounts: Mapping[str, Mapping[str, Any]]
    id_token_ttl: int
    port: int
    process: subprocess.Popen[str] = field(repr=False)
    log_path: Path = field(repr=False)

    # the main client's settings, flat, for YSWD_OIDC_* style configuration
    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def client_secret(self) -> str:
        return self.client.client_secret

    @property
    def redirect_uri(self) -> str:
        return self.client.redirect_uri

    @property
    def redirect_uris(self) -> tuple[str, ...]:
        return self.client.redirect_uris

    @property
    def post_logout_redirect_uri(self) -> str | None:
        return self.client.post_logout_redirect_uri

    def email(self, account: str) -> str:
        return str(self.accounts[account]["email"])

    def env(self) -> dict[str, str]:
        """yswd's settings for this provider (``YSWD_OIDC_*``)."""
        return {
            "YSWD_OIDC_ISSUER": self.issuer,
            "YSWD_OIDC_CLIENT_ID": self.client_id,
            "YSWD_OIDC_CLIENT_SECRET": self.client_secret,
        }

    def log(self) -> str:
        """What the provider wrote on stderr so far (warnings, errors)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def login(
        self, client: httpx.Client, authorize_url: str | httpx.URL, account: str
    ) -> httpx.URL:
        return login(client, authorize_url, account, issuer=self.issuer)


def node_binary() -> str | None:
    """``$YSWD_NODE`` if set, else ``node`` on the PATH; ``None`` if neither runs."""
    return shutil.which(os.environ.get("YSWD_NODE") or "node")


def skip_unless_available() -> str:
    """The node binary, or skip the test saying what is missing."""
    node = node_binary()
    if node is None:
        pytest.skip("OpenID Connect tests need Node.js (`node`), which is not installed")
    if not (MODULE_DIR / "package.json").exists():
        pytest.skip(
            f"OpenID Connect tests need npm's oidc-provider in {MODULE_DIR.parent}: run `npm ci`"
        )
    return node


@contextmanager
def start_provider(
    *,
    redirect_uris: Sequence[str] | None = None,
    post_logout_redirect_uris: Sequence[str] | None = None,
    client_id: str = "yswd",
    client_secret: str = "yswd-test-secret-0123456789",
    token_endpoint_auth_method: str = "client_secret_basic",
    other_client_id: str = "other-app",
    other_client_secret: str = "other-app-secret-0123456789",
    extra_clients: Sequence[Mapping[str, Any]] = (),
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    id_token_ttl: int = 120,
    code_ttl: int = 60,
    jwks: Mapping[str, Any] | None = None,
    conform_id_token_claims: bool = False,
    rp_initiated_logout: bool = True,
    port: int = 0,
    timeout: float = 20.0,
) -> Iterator[OidcProvider]:
    """Run ``provider.mjs`` until the block ends.

    ``jwks`` (``{"keys": [private JWK, ...]}``) fixes the signing keys, so that two
    providers can sign alike; unset, each start makes a fresh RSA key.
    ``conform_id_token_claims=True`` keeps email and name out of the ID token (only at
    userinfo), as CIS2 does. ``rp_initiated_logout=False`` drops end_session_endpoint.
    """
    node = skip_unless_available()
    if redirect_uris is None:
        redirect_uris = [origin + CALLBACK_PATH for origin in DEFAULT_ORIGINS]
    if post_logout_redirect_uris is None:
        post_logout_redirect_uris = [urljoin(uri, SIGNED_OUT_PATH) for uri in redirect_uris]
    main = RegisteredClient(
        client_id, client_secret, tuple(redirect_uris), tuple(post_logout_redirect_uris)
    )
    other = RegisteredClient(
        other_client_id, other_client_secret, tuple(redirect_uris), tuple(post_logout_redirect_uris)
    )
    clients = [
        {
            "client_id": other.client_id,
            "client_secret": other.client_secret,
            "redirect_uris": list(other.redirect_uris),
            "post_logout_redirect_uris": list(other.post_logout_redirect_uris),
        },
        *extra_clients,
    ]
    chosen_accounts = {k: dict(v) for k, v in (accounts or ACCOUNTS).items()}
    workdir = Path(tempfile.mkdtemp(prefix="yswd-oidc-"))
    env = {
        **os.environ,
        "OIDC_CLIENT_ID": main.client_id,
        "OIDC_CLIENT_SECRET": main.client_secret,
        "OIDC_REDIRECT_URIS": " ".join(main.redirect_uris),
        "OIDC_POST_LOGOUT_REDIRECT_URIS": " ".join(main.post_logout_redirect_uris),
        "OIDC_TOKEN_ENDPOINT_AUTH_METHOD": token_endpoint_auth_method,
        "OIDC_EXTRA_CLIENTS": json.dumps(clients),
        "OIDC_ACCOUNTS": json.dumps(chosen_accounts),
        "OIDC_ID_TOKEN_TTL": str(id_token_ttl),
        "OIDC_CODE_TTL": str(code_ttl),
        "OIDC_CONFORM_ID_TOKEN_CLAIMS": "true" if conform_id_token_claims else "false",
        "OIDC_RP_INITIATED_LOGOUT": "true" if rp_initiated_logout else "false",
    }
    env.pop("OIDC_JWKS_FILE", None)
    if jwks is not None:
        jwks_path = workdir / "jwks.json"
        jwks_path.write_text(json.dumps(jwks))
        jwks_path.chmod(0o600)
        env["OIDC_JWKS_FILE"] = str(jwks_path)
    log_path = workdir / "provider.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [node, str(PROVIDER_SCRIPT), str(port)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        issuer = _wait_until_listening(process, log_path, timeout)
        provider = OidcProvider(
            issuer=issuer,
            client=main,
            other_client=other,
            accounts=chosen_accounts,
            id_token_ttl=id_token_ttl,
            port=int(urlsplit(issuer).port or 0),
            process=process,
            log_path=log_path,
        )
        yield provider
    finally:
        _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_listening(process: subprocess.Popen[str], log_path: Path, timeout: float) -> str:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # keep reading, so that the pipe never fills
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, name="oidc-provider-stdout", daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        if line.startswith("listening on "):
            issuer = line.removeprefix("listening on ").strip()
            discovery = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5)
            discovery.raise_for_status()
            return issuer
    code = process.poll()
    raise RuntimeError(
        f"oidc-provider did not start (exit code {code}):\n"
        + log_path.read_text(errors="replace")[-3000:]
    )


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()  # SIGTERM to this one process; it closes its server and exits
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdout is not None:
        with suppress(OSError):
            process.stdout.close()


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """One provider for the test session, with the default accounts and clients."""
    with start_provider() as provider:
        yield provider


# ---- driving the provider's screens ---------------------------------------------------------


class _Forms(HTMLParser):
    """The forms of a page: action, method and the inputs' names and values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "id": values.get("id", ""),
                    "action": values.get("action", ""),
                    "method": values.get("method", "get").lower(),
                    "fields": {},
                }
            )
        elif tag in {"input", "button"} and self.forms and "name" in values:
            if tag == "input" and values.get("type") in {"submit", "button"}:
                return
            self.forms[-1]["fields"].setdefault(values["name"], values.get("value", ""))


def page_forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def login(
    client: httpx.Client,
    authorize_url: str | httpx.URL,
    account: str,
    *,
    issuer: str | None = None,
    consent: bool = True,
    password: str = "any-password",
    max_steps: int = 12,
) -> httpx.URL:
    """Sign ``account`` in on the provider's development screens and give consent.

    Answers the URL the provider redirects to on the relying party (its callback, with
    ``code``, ``state`` and ``iss``, or ``error``), without requesting it. With
    ``consent=False`` it cancels at the consent screen (the callback then has
    ``error=access_denied``). ``client`` keeps the provider's cookies, like a browser.
    """
    url = str(authorize_url)
    provider_origin = _origin(issuer or url)
    answer = client.get(url, follow_redirects=False)
    for _ in range(max_steps):
        if answer.is_redirect:
            target = urljoin(str(answer.url), answer.headers["location"])
            if _origin(target) != provider_origin:
                return httpx.URL(target)
            answer = client.get(target, follow_redirects=False)
            continue
        forms = [f for f in page_forms(answer.text) if "prompt" in f["fields"]]
        if answer.status_code != 200 or not forms:
            raise ProviderFlowError(
                f"expected a login or consent screen at {answer.url}, got "
                f"{answer.status_code}: {answer.text[:500]}"
            )
        form = forms[0]
        action = urljoin(str(answer.url), form["action"])
        prompt = form["fields"]["prompt"]
        if prompt == "login":
            data = {"prompt": "login", "login": account, "password": password}
        elif prompt == "consent" and consent:
            data = {"prompt": "consent"}
        elif prompt == "consent":
            abort = urljoin(str(answer.url).rstrip("/") + "/", "abort")
            answer = client.get(abort, follow_redirects=False)
            continue
        else:
            raise ProviderFlowError(f"unexpected prompt {prompt!r} at {answer.url}")
        answer = client.post(action, data=data, follow_redirects=False)
    raise ProviderFlowError(f"no redirect to the relying party after {max_steps} steps")


def sign_out(client: httpx.Client, logout_url: str | httpx.URL, *, max_steps: int = 6) -> httpx.URL:
    """Confirm the provider's "sign out?" screen reached by an RP-initiated logout URL.

    Answers where the provider sends the browser: the ``post_logout_redirect_uri`` (with
    ``state``), or the provider's own "signed out" page when there was none.
    """
    url = str(logout_url)
    provider_origin = _origin(url)
    answer = client.get(url, follow_redirects=False)
    for _ in range(max_steps):
        if answer.is_redirect:
            target = urljoin(str(answer.url), answer.headers["location"])
            if _origin(target) != provider_origin:
                return httpx.URL(target)
            answer = client.get(target, follow_redirects=False)
            continue
        forms = [f for f in page_forms(answer.text) if "xsrf" in f["fields"]]
        if answer.status_code != 200:
            raise ProviderFlowError(
                f"logout at {answer.url} answered {answer.status_code}: {answer.text[:500]}"
            )
        if not forms:
            return answer.url  # the provider's own "signed out" page
        form = forms[0]
        action = urljoin(str(answer.url), form["action"])
        answer = client.post(
            action, data={"xsrf": form["fields"]["xsrf"], "logout": "yes"}, follow_redirects=False
        )
    raise ProviderFlowError(f"logout did not finish after {max_steps} steps")
