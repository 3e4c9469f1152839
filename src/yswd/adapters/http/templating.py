"""Jinja2 templates for server-rendered pages (autoescaped), with the filters every page shares.

- ``uk_date``: a date, instant or ISO string as people in the UK write it ("1 December 2026");
  ``uk_datetime`` adds the time ("1 December 2026 at 14:05").
- ``plural``: "1 item", "3 items"; ``article``: "a moderator", "an admin".
- ``header_organisation(request)``: the name and optional logo the header shows
  (``YSWD_ORGANISATION_NAME``, ``YSWD_ORGANISATION_LOGO_URL``).
- ``_()``, ``ngettext()`` and ``{% trans %}``: the page's language (``language.py``): public
  pages in English or Welsh, staff pages in English. ``translate(text)`` looks up words
  made in Python (status and channel labels, stage names, errors), with no ``%`` formatting.
  ``uk_date``, ``uk_datetime`` and ``plural`` follow it ("1 Rhagfyr 2026"); ``html_lang()``
  and ``language_switch(request)`` give ``<html lang>`` and the link to the other language.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from yswd.adapters.http import language

HERE = Path(__file__).parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

#: the header's name unless one is configured (a configured name is never translated)
DEFAULT_ORGANISATION = language.N_("You Said, We Did")


def _as_datetime(value: str | date | datetime) -> date | datetime:
    if isinstance(value, date):
        return value
    text = value.strip()
    if "T" in text or " " in text:
        return datetime.fromisoformat(text.replace(" UTC", "").replace("Z", "+00:00"))
    return date.fromisoformat(text)


def uk_date(value: str | date | datetime | None) -> str:
    """'2026-12-01', a date or an instant → '1 December 2026' (unreadable text is kept)."""
    if value is None or value == "":
        return ""
    try:
        moment = _as_datetime(value)
    except (TypeError, ValueError):
        return str(value)
    if language.is_welsh():
        return format_date(moment, "d MMMM y", locale=language.WELSH)
    return f"{moment.day} {moment:%B %Y}"


def uk_datetime(value: str | date | datetime | None) -> str:
    """An instant → '1 December 2026 at 14:05' (UTC as stored); a bare date → its uk_date."""
    if value is None or value == "":
        return ""
    try:
        moment = _as_datetime(value)
    except (TypeError, ValueError):
        return str(value)
    if not isinstance(moment, datetime):
        return uk_date(moment)
    if language.is_welsh():
        return f"{uk_date(moment)} am {moment:%H:%M}"
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M}"


def date_parts(value: str | None) -> tuple[str, str, str]:
    """What the day, month and year boxes show: from an ISO date, or from the boxes' own
    text sent back ("1 12 2026", "?" for an empty box)."""
    text = (value or "").strip()
    if not text:
        return ("", "", "")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        parts = [*(part if part != "?" else "" for part in text.split(" ")), "", "", ""]
        return parts[0], parts[1], parts[2]
    return str(day.day), str(day.month), str(day.year)


def plural(count: int, singular: str, many: str | None = None) -> str:
    """'1 item', '2 items', '0 items' (``many`` for words that do not just take an s).

    On a Welsh page the words come from the catalog's plural forms ("3 eitem").
    """
    return f"{count} {language.ngettext(singular, many or singular + 's', count)}"


def article(word: str) -> str:
    """'a moderator', 'an admin', 'an auditor'."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def organisation(request: Request) -> dict[str, Any]:
    """What the header names: the configured organisation, and its logo if one is set."""
    container = getattr(request.app.state, "container", None)
    settings = getattr(container, "settings", None)
    name = getattr(settings, "organisation_name", None) or DEFAULT_ORGANISATION
    if name == DEFAULT_ORGANISATION:  # the service's own name, so it reads in Welsh too
        name = language.gettext(DEFAULT_ORGANISATION)
    return {"name": name, "logo_url": getattr(settings, "organisation_logo_url", None)}


def html_lang() -> str:
    """``<html lang>`` for the page being rendered: "cy" on a Welsh page, else "en-GB"."""
    return language.HTML_LANG[language.current_language()]


def language_switch(request: Request) -> dict[str, str] | None:
    """The link to this page in the other language, on public pages only."""
    if not language.is_public_page(request.url.path):
        return None
    other = language.ENGLISH if language.is_welsh() else language.WELSH
    return {
        "href": language.switch_href(request.url.path, request.url.query, other),
        "lang": other,
        "hreflang": language.HTML_LANG[other],
        "name": language.NAMES[other],
        "current": language.NAMES[language.current_language()],
    }


@cache
def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=str(TEMPLATES_DIR))
    found.env.add_extension("jinja2.ext.i18n")
    found.env.install_gettext_callables(  # type: ignore[attr-defined]
        language.gettext,
        language.ngettext,
        newstyle=True,
        pgettext=language.pgettext,
        npgettext=language.npgettext,
    )
    found.env.filters["uk_date"] = uk_date
    found.env.filters["uk_datetime"] = uk_datetime
    found.env.filters["article"] = article
    found.env.filters["date_parts"] = date_parts
    found.env.globals["plural"] = plural
    found.env.globals["header_organisation"] = organisation
    found.env.globals["translate"] = language.gettext  # words made in Python: labels, errors
    found.env.globals["html_lang"] = html_lang
    found.env.globals["language_switch"] = language_switch
    return found
