"""The Welsh catalog of the public pages, and the language rules, without a server.

Every message the public templates and the HTTP adapter's Python mark must have a
Welsh translation with the same placeholders, and the catalog must compile; the
template catalog (messages.pot) must match what is extracted today, so that CI fails
when a page gains English words nobody has translated (``scripts/i18n.py check``).
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, datetime
from pathlib import Path
from types import ModuleType

import pytest
from jinja2 import Environment

from yswd.adapters.http import language
from yswd.adapters.http.language import WELSH, chosen_language, speaking, switch_href
from yswd.adapters.http.templating import plural, templates, uk_date, uk_datetime

ROOT = Path(__file__).resolve().parents[2]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("yswd_i18n_script", ROOT / "scripts/i18n.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def i18n() -> ModuleType:
    return load_script()


def test_the_welsh_catalog_is_complete_and_compiles(i18n: ModuleType) -> None:
    # stale .pot, missing or fuzzy entries, placeholders that differ, a bare %, no compile
    assert i18n.problems(WELSH) == []


def test_every_message_found_in_the_templates_reads_in_welsh(i18n: ModuleType) -> None:
    found = [message for message in i18n.extracted() if message.id]
    in_templates = [m for m in found if any(".html" in path for path, _ in m.locations)]
    assert len(in_templates) > 100  # base, metrics, board, poster, gap box, diary room ...
    catalog = i18n.read(i18n.po_path(WELSH), WELSH)
    for message in found:
        entry = catalog.get(message.id, context=message.context)
        assert entry is not None, message.id
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        assert all(text.strip() for text in strings), message.id
        wanted = set(i18n.PLACEHOLDER.findall(str(message.id)))
        assert all(set(i18n.PLACEHOLDER.findall(text)) == wanted for text in strings), message.id


def test_the_catalog_says_it_needs_a_welsh_speakers_review(i18n: ModuleType) -> None:
    header = i18n.po_path(WELSH).read_text(encoding="utf-8").split("msgid", 1)[0]
    assert "reviewed by a" in header and "Welsh speaker" in header


def test_the_compiled_catalog_answers_in_welsh() -> None:
    with speaking(WELSH):
        assert language.gettext("Skip to main content") == "Neidio i'r prif gynnwys"
        assert language.gettext("You Said, We Did") == "Dywedoch chi, fe wnaethom ni"
        assert language.gettext("We couldn't do this, because:") == "Ni allem wneud hyn, oherwydd:"
        # words nobody marked stay as written: items' own text is never looked up
        assert language.gettext("The kitchen shuts at six.") == "The kitchen shuts at six."
    assert language.gettext("Skip to main content") == "Skip to main content"


def test_templates_render_the_language_of_the_moment() -> None:
    source = '{{ _("Key figures") }} / {{ _("%(days)s days", days=3) }} / {{ day | uk_date }}'
    page = templates().env.from_string(source)
    assert page.render(day="2026-12-01") == "Key figures / 3 days / 1 December 2026"
    with speaking(WELSH):
        assert page.render(day="2026-12-01") == "Ffigurau allweddol / 3 diwrnod / 1 Rhagfyr 2026"


def test_dates_and_plurals_follow_the_language() -> None:
    assert uk_date(date(2026, 12, 1)) == "1 December 2026"
    assert uk_datetime(datetime(2026, 2, 3, 14, 5)) == "3 February 2026 at 14:05"
    assert plural(3, "item") == "3 items"
    with speaking(WELSH):
        assert uk_date("2026-12-01") == "1 Rhagfyr 2026"
        assert uk_date(date(2026, 1, 31)) == "31 Ionawr 2026"
        assert uk_datetime(datetime(2026, 2, 3, 14, 5)) == "3 Chwefror 2026 am 14:05"
        assert plural(1, "item") == "1 item"  # no Welsh entry: the English stands
    assert plural(1, "item") == "1 item"


@pytest.mark.parametrize(
    ("asked", "cookie", "accept", "expected"),
    [
        (None, None, "", "en"),
        ("cy", None, "", "cy"),
        ("en", "cy", "cy", "en"),  # ?lang= beats the cookie and the browser
        (None, "cy", "en-GB", "cy"),  # the cookie beats the browser
        ("fr", "xx", "", "en"),  # unknown choices are ignored
        (None, None, "cy-GB,cy;q=0.9,en;q=0.8", "cy"),
        (None, None, "en-GB,en;q=0.9,cy;q=0.8", "en"),
        (None, None, "fr, cy;q=0.5", "cy"),
        (None, None, "cy;q=0, en;q=0.1", "en"),
        (None, None, "cy;q=nonsense", "en"),
    ],
)
def test_the_language_is_chosen_in_order(
    asked: str | None, cookie: str | None, accept: str, expected: str
) -> None:
    assert chosen_language(asked, cookie, accept) == expected


def test_the_switch_keeps_the_page_and_its_query() -> None:
    assert switch_href("/public/boards/cedar", "status=done&page=2", "cy") == (
        "/public/boards/cedar?status=done&page=2&lang=cy"
    )
    assert switch_href("/public", "lang=cy", "en") == "/public?lang=en"


def test_only_public_pages_change_language() -> None:
    assert language.is_public_page("/public")
    assert language.is_public_page("/public/metrics/cedar")
    assert language.is_public_page("/public/gap-boxes/box-1/results")
    for path in ("/staff", "/api/v1/items", "/public/api/v1/metrics", "/publicity",
                 "/public/boards/cedar/feed.atom", "/public/clips/c1/media"):
        assert not language.is_public_page(path), path


def test_a_bare_percent_in_a_message_is_caught(i18n: ModuleType) -> None:
    assert i18n.BARE_PERCENT.search("100% sure".replace("%%", ""))
    assert not i18n.BARE_PERCENT.search("100%% and %(n)s".replace("%%", ""))
    # what the check guards against: newstyle gettext formats every message, so "% s"
    # silently eats the (empty) variables and the page would read "100{}ure"
    env = Environment(extensions=["jinja2.ext.i18n"], autoescape=True)
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    assert env.from_string('{{ _("100% sure") }}').render() != "100% sure"
    assert env.from_string('{{ _("100%% sure") }}').render() == "100% sure"
