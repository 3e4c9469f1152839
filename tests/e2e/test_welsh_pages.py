"""Public pages in Welsh over HTTP: ``?lang=cy`` keeps the choice in a cookie, pages answer
in Welsh with ``<html lang="cy">``, items' own words stay as written, ``?lang=en`` goes
back, and a browser that asks for Welsh first gets it. Staff pages stay English.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from tests.clock import TODAY
from tests.e2e.conftest import Api
from yswd.adapters.http.language import COOKIE

TITLE = "Kitchen hours"
YOU_SAID = "The kitchen shuts at six, before the evening group ends."
WE_DID = "The kitchen now stays open until eight."
DECLINED = "Smoking shelter"
BECAUSE = "The hospital grounds are smoke-free by law."
INSTEAD = "We offer nicotine replacement on the ward."
HTML_LANG = re.compile(r'<html lang="([^"]+)"')
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def seed(api: Api) -> None:
    api.organisation()
    done = api.raise_item(title=TITLE, you_said=YOU_SAID, themes=["Food"])
    declined = api.raise_item(title=DECLINED, you_said="We want a smoking shelter.")
    for item, command, body in (
        (done, "complete", {"we_did": WE_DID}),
        (declined, "decline", {"because": BECAUSE, "instead": INSTEAD}),
    ):
        assert api.post(f"/api/v1/items/{item['id']}/publish", {}).status_code == 200
        assert api.post(f"/api/v1/items/{item['id']}/{command}", body).status_code == 200


def text(answer: Any) -> str:
    """The page as it reads (``'`` is an apostrophe)."""
    return html.unescape(answer.text)


def html_lang(answer: Any) -> str:
    found = HTML_LANG.search(answer.text)
    assert found, answer.text[:200]
    return found.group(1)


def test_lang_cy_keeps_welsh_in_a_cookie_and_items_stay_as_written(api: Api) -> None:
    seed(api)
    answer = api.client.get("/public/boards/cedar", params={"lang": "cy"})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=cy;")
    assert "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Accept-Language" in answer.headers["vary"] and "Cookie" in answer.headers["vary"]
    assert html_lang(answer) == "cy"
    page = text(answer)
    for welsh in (
        "Neidio i'r prif gynnwys",  # the skip link
        "Pob bwrdd",
        "Dywedoch chi, fe wnaethom ni",
        "Fe wnaethom ni",
        "Ni allem wneud hyn, oherwydd",
        "Wedi'i wneud",  # the status "Done"
        "2 Tachwedd 2026",  # the day the items were raised, in Welsh
    ):
        assert welsh in page, welsh
    for english in ("Skip to main content", "All boards", "We couldn't do this", "November"):
        assert english not in page, english
    # what people said and staff wrote is never translated
    for own_words in (TITLE, YOU_SAID, WE_DID, DECLINED, BECAUSE, INSTEAD, "Food"):
        assert own_words in page, own_words
    # the switch back: the same page, marked as English
    assert 'href="/public/boards/cedar?lang=en" hreflang="en-GB" lang="en-GB">English</a>' in page

    # later pages use the cookie, with no ?lang=
    later = api.client.get("/public/metrics/cedar")
    assert "set-cookie" not in later.headers
    assert html_lang(later) == "cy"
    assert "Ffigurau allweddol" in text(later) and "Key figures" not in text(later)
    assert "Pa mor gyflym rydym yn ymateb" in text(later)
    index = api.client.get("/public")
    assert html_lang(index) == "cy" and "Pob bwrdd" in text(index)


def test_lang_en_switches_back_to_english(api: Api) -> None:
    seed(api)
    api.client.get("/public", params={"lang": "cy"})
    answer = api.client.get("/public/boards/cedar", params={"lang": "en"})
    assert answer.headers["set-cookie"].startswith(f"{COOKIE}=en;")
    assert html_lang(answer) == "en-GB"
    assert "Skip to main content" in text(answer) and "We couldn't do this" in text(answer)
    assert 'hreflang="cy" lang="cy">Cymraeg</a>' in answer.text
    assert "Dywedoch chi" not in text(answer)
    assert html_lang(api.client.get("/public/metrics/cedar")) == "en-GB"


def test_english_is_the_default_and_accept_language_may_pick_welsh(api: Api) -> None:
    seed(api)
    plain = api.client.get("/public/boards/cedar")
    assert html_lang(plain) == "en-GB" and "set-cookie" not in plain.headers
    welsh_first = {"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.8"}
    asked = api.client.get("/public/boards/cedar", headers=welsh_first)
    assert html_lang(asked) == "cy" and "Fe wnaethom ni" in text(asked)
    assert "set-cookie" not in asked.headers  # only a visitor's own choice is kept
    english_first = {"Accept-Language": "en-GB,en;q=0.9,cy;q=0.5"}
    assert html_lang(api.client.get("/public/boards/cedar", headers=english_first)) == "en-GB"
    # a chosen language beats the browser's
    chosen = api.client.get("/public/boards/cedar", params={"lang": "en"}, headers=welsh_first)
    assert html_lang(chosen) == "en-GB"
    assert html_lang(api.client.get("/public", headers=welsh_first)) == "en-GB"  # the cookie


def test_welsh_metrics_dates_errors_and_not_found(api: Api) -> None:
    seed(api)
    api.client.cookies.set(COOKIE, "cy")
    window = api.client.get("/public/metrics/cedar", params={"from": "2026-11-01"})
    assert "a godwyd o 1 Tachwedd 2026 ymlaen" in text(window)
    assert "Siart bar: eitemau yn ôl statws" in text(window)
    bad = api.client.get("/public/metrics/cedar", params={"from": "soon"})
    assert bad.status_code == 422
    assert "Mae problem wedi codi" in text(bad) and "blwyddyn-mis-diwrnod" in text(bad)
    missing = api.client.get("/public/boards/nowhere")
    assert missing.status_code == 404 and html_lang(missing) == "cy"
    assert "Heb ddod o hyd i'r dudalen" in text(missing) and "nowhere" in text(missing)


def test_the_poster_and_the_gap_box_speak_welsh(api: Api) -> None:
    seed(api)
    box = {
        "id": "winter",
        "unit_id": "meadowbank",
        "forum_id": "cedar-cm",
        "question": "What would make winter on the ward better? <script>x</script>",
        "opens_on": (TODAY - timedelta(days=1)).isoformat(),
        "closes_on": (TODAY + timedelta(days=30)).isoformat(),
    }
    assert api.post("/api/v1/gap-boxes", box).status_code == 201
    api.client.cookies.set(COOKIE, "cy")
    poster = api.client.get("/public/boards/cedar/poster")
    assert poster.status_code == 200 and html_lang(poster) == "cy"
    assert "Dywedoch chi" in text(poster) and WE_DID in text(poster)
    gap_box = api.client.get("/public/gap-boxes/winter")
    assert gap_box.status_code == 200 and html_lang(gap_box) == "cy"
    assert box["question"] in text(gap_box)  # the question is the service's own words
    assert "Blwch bylchau" in text(gap_box) and "Gap box" not in text(gap_box)
    assert "<script>" not in gap_box.text  # words put into Welsh sentences are still escaped
    token = CSRF_TOKEN.search(gap_box.text)
    assert token is not None
    refused = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": " ", "csrf_token": token[1]}
    )
    assert refused.status_code == 422 and html_lang(refused) == "cy"
    assert "Mae problem wedi codi" in text(refused) and "Ysgrifennwch awgrym." in text(refused)
    turned = api.client.post(
        "/public/gap-boxes/winter",
        data={"suggestion": "More \u202eblankets", "csrf_token": token[1]},
    )
    assert turned.status_code == 422 and html_lang(turned) == "cy"
    assert "Ni chaiff awgrym gynnwys nodau anweledig" in text(turned)
    assert "must not contain" not in text(turned)
    sent = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": "More blankets.", "csrf_token": token[1]}
    )
    assert sent.status_code == 200 and "Diolch am eich awgrym" in text(sent)
    assert "More blankets." in text(sent)  # what the person wrote, as they wrote it
    stale = api.client.post("/public/gap-boxes/winter", data={"suggestion": "x", "csrf_token": "?"})
    assert stale.status_code == 403 and "Ni anfonwyd eich awgrym" in text(stale)


def test_staff_pages_and_public_data_stay_as_they_were(api: Api) -> None:
    seed(api)
    english = api.client.get("/public/api/v1/boards/cedar").content
    api.client.cookies.set(COOKIE, "cy")
    staff = api.client.get("/staff", headers={"Accept-Language": "cy"})
    assert html_lang(staff) == "en-GB" and "Cymraeg" not in staff.text
    data = api.client.get("/public/api/v1/boards/cedar", params={"lang": "cy"})
    assert data.content == english and "set-cookie" not in data.headers
    feed = api.client.get("/public/boards/cedar/feed.atom")
    assert "You said:" in feed.text  # the feed stays English
