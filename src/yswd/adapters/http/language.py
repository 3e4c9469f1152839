"""Which language a public page speaks: English (the default) or Welsh (Cymraeg).

A visitor picks with ``?lang=cy`` or ``?lang=en`` on any public page; the choice is kept
in a cookie (``yswd_lang``), so it works without JavaScript and lasts across pages.
Without a cookie, a browser that asks for Welsh first (``Accept-Language``) gets Welsh.
Staff pages always speak English.

The words come from gettext catalogs in ``locale/`` (``scripts/i18n.py`` extracts and
checks them). Each ``.po`` is compiled in memory the first time its language is needed,
so there is no compiled ``.mo`` in the tree to fall out of step with it. Only the page
furniture is translated: what people said and what staff wrote stay as written.
"""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
ENGLISH = "en"
WELSH = "cy"
LANGUAGES = (ENGLISH, WELSH)
COOKIE = "yswd_lang"
COOKIE_SECONDS = 365 * 24 * 3600
#: what ``<html lang>`` says for each language
HTML_LANG = {ENGLISH: "en-GB", WELSH: "cy"}
#: each language's name in itself, as the switch shows it
NAMES = {ENGLISH: "English", WELSH: "Cymraeg"}

_current: ContextVar[str] = ContextVar("yswd_language", default=ENGLISH)


def N_(message: str) -> str:
    """gettext's "mark, do not translate yet": the message goes in the catalog from where it
    is defined, and is translated where it is shown."""
    return message


def current_language() -> str:
    """The language of the page being rendered now (English outside a public request)."""
    return _current.get()


def is_welsh() -> bool:
    return current_language() == WELSH


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Render in ``language`` within the block (a request, a test, a job)."""
    token = _current.set(language if language in LANGUAGES else ENGLISH)
    try:
        yield
    finally:
        _current.reset(token)


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    """The language's catalog, compiled from its ``.po`` once per process; English is
    the source language, so it needs none."""
    path = catalog_path(language)
    if language == ENGLISH or not path.exists():
        return gettext_module.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def gettext(message: str) -> str:
    return translations(current_language()).gettext(message)


def ngettext(singular: str, many: str, count: int) -> str:
    return translations(current_language()).ngettext(singular, many, count)


def pgettext(context: str, message: str) -> str:
    return translations(current_language()).pgettext(context, message)


def npgettext(context: str, singular: str, many: str, count: int) -> str:
    return translations(current_language()).npgettext(context, singular, many, count)


def is_public_page(path: str) -> bool:
    """The pages the public reads, in either language; not the public JSON, feeds or media."""
    if path != "/public" and not path.startswith("/public/"):
        return False
    return not (path.startswith("/public/api/") or path.endswith((".atom", "/media")))


def _accepted(header: str) -> str | None:
    """The first of our languages the browser's ``Accept-Language`` prefers, if any."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header.split(",")):
        tag, _, parameters = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        if language not in LANGUAGES:
            continue
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if quality <= 0:
            continue
        candidate = (-quality, position, language)
        best = candidate if best is None or candidate < best else best
    return best[2] if best else None


def chosen_language(asked: str | None, cookie: str | None, accept_language: str) -> str:
    """``?lang=`` first, then the cookie, then the browser's preference, then English."""
    for choice in (asked, cookie):
        if choice in LANGUAGES:
            return str(choice)
    return _accepted(accept_language) or ENGLISH


def switch_href(path: str, query_string: str, language: str) -> str:
    """This page in ``language``: the same address and query, with ``lang`` set."""
    query = [(name, value) for name, value in parse_qsl(query_string) if name != "lang"]
    return f"{path}?{urlencode([*query, ('lang', language)])}"


def _cookies(header: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            found.setdefault(name, value)
    return found


def language_cookie(language: str, secure: bool) -> str:
    """The ``Set-Cookie`` value that keeps the choice: a year, the whole site, SameSite=Lax."""
    attributes = f"Path=/; Max-Age={COOKIE_SECONDS}; SameSite=Lax"
    return f"{COOKIE}={language}; {attributes}{'; Secure' if secure else ''}"


class LanguageMiddleware:
    """Sets the language of each public page request; keeps a ``?lang=`` choice in a cookie.

    Public pages answer ``Vary: Accept-Language, Cookie``, since either may change them.
    """

    def __init__(self, app: ASGIApp, public_url: str | None = None) -> None:
        self.app = app
        self.public_url = public_url

    def _secure(self, scope: Scope) -> bool:
        if self.public_url:
            return self.public_url.startswith("https://")
        return bool(scope.get("scheme") == "https")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_public_page(scope["path"]):
            await self.app(scope, receive, send)  # English, the context's default
            return
        headers = Headers(scope=scope)
        asked = QueryParams(scope.get("query_string", b"")).get("lang")
        asked = asked if asked in LANGUAGES else None
        kept = _cookies(headers.get("cookie", "")).get(COOKIE)
        language = chosen_language(asked, kept, headers.get("accept-language", ""))
        cookie = language_cookie(language, self._secure(scope)) if asked else None

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer = MutableHeaders(scope=message)
                answer.add_vary_header("Accept-Language")
                answer.add_vary_header("Cookie")
                if cookie:
                    answer.append("set-cookie", cookie)
            await send(message)

        with speaking(language):
            await self.app(scope, receive, send_with_language)
