"""Staff web pages over the real app: sign-in, CSRF, scope, and each role's journey."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.clock import days_ago
from tests.e2e.conftest import Api
from yswd.adapters.http.sessions import SESSION_COOKIE
from yswd.adapters.http.templating import uk_date

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Browser:
    """A cookie-keeping client that fills in the CSRF field like a browser would."""

    def __init__(self, api: Api) -> None:
        self.client = TestClient(api.client.app)

    def sign_in(self, token: str) -> Any:
        page = self.client.get("/staff/sign-in")
        return self.client.post(
            "/staff/sign-in",
            data={"token": token, "csrf_token": csrf_of(page.text), "next": "/staff"},
            follow_redirects=False,
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params or None)

    def submit(self, page_path: str, action: str, data: dict[str, str]) -> Any:
        """Load the page the form is on, then post the form with its CSRF token."""
        page = self.client.get(page_path)
        assert page.status_code == 200, page.text
        return self.client.post(
            action, data={"csrf_token": csrf_of(page.text), **data}, follow_redirects=False
        )


def test_not_signed_in_is_sent_to_sign_in(api: Api) -> None:
    answer = api.client.get("/staff/inbox", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/staff/sign-in?next=%2Fstaff%2Finbox")


def test_sign_in_sets_a_safe_session_cookie_and_sign_out_ends_it(api: Api) -> None:
    api.organisation()
    browser = Browser(api)
    wrong = browser.sign_in("not-a-token")
    assert wrong.status_code == 401
    assert "That access token is not right" in wrong.text

    answer = browser.sign_in(api.user("manager", "cedar"))
    assert answer.status_code == 303 and answer.headers["location"] == "/staff"
    cookie = answer.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http in tests; https sets Secure
    home = browser.get("/staff")
    assert "Inbox" in home.text and "Log a meeting" not in home.text

    out = browser.submit("/staff", "/staff/sign-out", {})
    assert out.status_code == 303
    assert browser.client.get("/staff", follow_redirects=False).status_code == 303


def test_sign_in_without_the_form_token_is_refused(api: Api) -> None:
    browser = Browser(api)
    answer = browser.client.post("/staff/sign-in", data={"token": "test-admin-token"})
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    browser = Browser(api)
    browser.sign_in(api.user("manager", "cedar"))
    for data in ({"response": "We are on it."}, {"response": "x", "csrf_token": "forged"}):
        answer = browser.client.post(f"/staff/items/{item['id']}/respond", data=data)
        assert answer.status_code == 403
        assert "This form has expired" in answer.text
    assert api.get(f"/api/v1/items/{item['id']}").json()["responses"] == []


def test_an_item_outside_the_users_scope_is_refused(api: Api) -> None:
    api.organisation()
    item = api.raise_item("elsewhere-cm")
    browser = Browser(api)
    browser.sign_in(api.user("manager", "cedar"))
    answer = browser.get(f"/staff/items/{item['id']}")
    assert answer.status_code == 403
    assert "outside your scope" in answer.text
    assert "The washing machine" not in answer.text
    assert browser.get("/staff/forums/elsewhere-cm").status_code == 403
    assert browser.get("/staff/moderation").status_code == 403  # a manager cannot publish
    mine = api.raise_item()
    publish = browser.submit(
        f"/staff/items/{mine['id']}", f"/staff/items/{mine['id']}/publish", {"you_said": "x"}
    )
    assert publish.status_code == 403
    assert api.get(f"/api/v1/items/{mine['id']}").json()["published"] is False


def test_meeting_log_shows_errors_per_row_and_saves_nothing_invalid(api: Api) -> None:
    api.organisation()
    browser = Browser(api)
    browser.sign_in(api.user("secretary", "cedar"))
    answer = browser.submit(
        "/staff/meetings/new",
        "/staff/meetings/new",
        {"forum_id": "willow-cm", "meeting_date": "not a date", "title_2": "Food"},
    )
    assert answer.status_code == 422
    assert "There is a problem" in answer.text
    assert "outside your scope" in answer.text
    assert "Enter the meeting date" in answer.text
    assert "Item 2: enter what people said" in answer.text
    assert 'value="Food"' in answer.text  # what was typed is kept
    assert api.get("/api/v1/items").json()["items"] == []


def test_domain_errors_are_shown_on_the_item_form(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    browser = Browser(api)
    browser.sign_in(api.user("manager", "cedar"))
    page = f"/staff/items/{item['id']}"
    missing_unit = browser.submit(page, f"{page}/refer", {"to_unit_id": "nowhere", "version": "1"})
    assert missing_unit.status_code == 422
    assert "There is no unit" in missing_unit.text
    moved = api.post(f"/api/v1/items/{item['id']}/respond", {"response": "Someone answered."})
    assert moved.status_code == 200, moved.text
    stale = browser.client.post(
        f"{page}/respond",
        data={"csrf_token": csrf_of(missing_unit.text), "response": "Late", "version": "1"},
        follow_redirects=False,
    )
    assert stale.status_code == 409
    assert "Someone else changed this item" in stale.text
    assert 'value="2"' in stale.text  # the form now carries the latest version


def test_secretary_moderator_and_manager_journeys(api: Api) -> None:
    api.organisation()
    secretary, moderator, manager = Browser(api), Browser(api), Browser(api)
    secretary.sign_in(api.user("secretary", "cedar"))
    moderator.sign_in(api.user("moderator", "cedar"))
    manager.sign_in(api.user("manager", "cedar"))

    # a secretary logs 3 items from one meeting; empty rows are skipped
    logged = secretary.submit(
        "/staff/meetings/new",
        "/staff/meetings/new",
        {
            "forum_id": "cedar-cm",
            "meeting_date": "2026-11-02",
            "title_1": "Laundry",
            "you_said_1": "Dave says the washing machine is broken.",
            "channel_1": "community_meeting",
            "themes_1": "laundry, facilities",
            "contributor_1": "Dave",
            "title_2": "Fresh fruit",
            "you_said_2": "We want fresh fruit at breakfast.",
            "channel_2": "diary_room",
            "title_4": "Garden",
            "you_said_4": "The garden is locked at weekends.",
        },
    )
    assert logged.status_code == 303
    assert logged.headers["location"] == "/staff/forums/cedar-cm?logged=3"
    forum = secretary.get("/staff/forums/cedar-cm", logged=3)
    assert "3 items saved" in forum.text
    for title in ("Laundry", "Fresh fruit", "Garden"):
        assert title in forum.text
    items = {doc["title"]: doc for doc in api.get("/api/v1/items").json()["items"]}
    assert items["Laundry"]["themes"] == ["laundry", "facilities"]
    assert items["Laundry"]["contributor"] == "Dave"
    assert items["Fresh fruit"]["channel"] == "diary_room"

    # a moderator sees them unpublished beside the raw wording, edits one, publishes all
    queue = moderator.get("/staff/moderation")
    assert "3 items waiting" in queue.text
    assert "Dave says the washing machine is broken." in queue.text
    blank = moderator.submit(
        "/staff/moderation",
        f"/staff/items/{items['Garden']['id']}/publish",
        {"you_said": " ", "version": "1", "back": "moderation"},
    )
    assert blank.status_code == 422 and "Enter the public wording" in blank.text
    assert "3 items waiting" in blank.text
    for title, doc in items.items():
        wording = "The washing machine is broken." if title == "Laundry" else doc["you_said"]
        answer = moderator.submit(
            "/staff/moderation",
            f"/staff/items/{doc['id']}/publish",
            {"you_said": wording, "version": str(doc["version"]), "back": "moderation"},
        )
        assert answer.status_code == 303, answer.text
    assert "There is nothing waiting to be published" in moderator.get("/staff/moderation").text
    laundry = api.get(f"/api/v1/items/{items['Laundry']['id']}").json()
    assert laundry["published"] is True
    assert laundry["you_said"] == "The washing machine is broken."

    # a manager sees them in the inbox, completes one and declines one
    inbox = manager.get("/staff/inbox")
    assert "3 open items" in inbox.text
    laundry_page = f"/staff/items/{items['Laundry']['id']}"
    assert f'href="{laundry_page}"' in inbox.text
    done = manager.submit(
        laundry_page, f"{laundry_page}/complete", {"we_did": "We bought a new washing machine."}
    )
    assert done.status_code == 303
    after = manager.get(done.headers["location"])
    assert "Mark as done saved." in after.text and "We bought a new washing machine." in after.text
    assert 'action="' + laundry_page + '/complete"' not in after.text  # closed: no more forms

    fruit_page = f"/staff/items/{items['Fresh fruit']['id']}"
    empty = manager.submit(fruit_page, f"{fruit_page}/decline", {"because": ""})
    assert empty.status_code == 422 and "Enter why we could not do it" in empty.text
    declined = manager.submit(
        fruit_page,
        f"{fruit_page}/decline",
        {"because": "The kitchen contract ends in March.", "instead": "We will ask the new one."},
    )
    assert declined.status_code == 303
    inbox = manager.get("/staff/inbox")
    assert "1 open item" in inbox.text and "Garden" in inbox.text

    # the secretary's forum page carries the feedback pack with both outcomes
    pack = secretary.get("/staff/forums/cedar-cm", since="2026-11-01")
    assert "We bought a new washing machine." in pack.text
    assert "The kitchen contract ends in March. Instead: We will ask the new one." in pack.text

    # an auditor sees every event with who made it, and the item as it was earlier
    auditor = Browser(api)
    auditor.sign_in(api.user("auditor"))
    timeline = auditor.get(laundry_page)
    assert timeline.status_code == 200
    # in plain words, with names
    for sentence in (
        "<strong>Raised at ",
        "<strong>Published on the public board by A moderator</strong>",
        "<strong>Marked as done by A manager</strong>",
    ):
        assert sentence in timeline.text
    assert "by A secretary (" in timeline.text and "by A moderator (" in timeline.text
    assert "by A manager (" in timeline.text
    assert "Mark as done</button>" not in timeline.text  # an auditor changes nothing
    history = api.get(f"/api/v1/items/{items['Laundry']['id']}/history").json()
    raised_at = history["events"][0]["recorded_at"]
    earlier = auditor.get(laundry_page, as_of=raised_at)
    assert "as it was at" in earlier.text and "Not published" in earlier.text
    assert "We bought a new washing machine." not in earlier.text
    bad = auditor.get(laundry_page, as_of="yesterday-ish")
    assert bad.status_code == 422 and "as_of must be an ISO 8601 instant" in bad.text

    # the public board shows both, when that endpoint exists
    board = api.client.get("/public/api/v1/boards/cedar")
    if board.status_code != 404:
        text = board.text
        assert "We bought a new washing machine." in text
        assert "The kitchen contract ends in March." in text
        assert "Dave" not in text


def test_inbox_puts_overdue_items_first_then_by_due_date(api: Api) -> None:
    api.organisation()
    answered = api.raise_item(title="Answered long ago", raised_on=days_ago(80))
    assert api.post(f"/api/v1/items/{answered['id']}/respond", {"response": "On it."}).is_success
    api.raise_item(title="Recent", raised_on=days_ago(3))
    api.raise_item(title="Forgotten", raised_on=days_ago(50))
    api.raise_item("elsewhere-cm", title="Not mine")
    browser = Browser(api)
    browser.sign_in(api.user("manager", "cedar"))
    inbox = browser.get("/staff/inbox").text
    assert "3 open items in your units, <strong>1 overdue</strong>" in inbox
    order = [inbox.index(title) for title in ("Forgotten", "Answered long ago", "Recent")]
    assert order == sorted(order)
    assert "Not mine" not in inbox
    # Forgotten: an answer was due 28 days after raising (shown as a UK date)
    assert uk_date(days_ago(50 - 28)) in inbox


def test_the_session_cookie_is_secure_over_https(api: Api) -> None:
    client = TestClient(api.client.app, base_url="https://testserver")
    page = client.get("/staff/sign-in")
    assert "Secure" in page.headers["set-cookie"]
    answer = client.post(
        "/staff/sign-in",
        data={"token": "test-admin-token", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_a_tampered_session_cookie_is_not_accepted(api: Api) -> None:
    browser = Browser(api)
    browser.sign_in("test-admin-token")
    session_id, _, signature = browser.client.cookies[SESSION_COOKIE].rpartition(".")
    forged = TestClient(api.client.app, cookies={SESSION_COOKIE: f"{session_id}.{'0' * 64}"})
    assert forged.get("/staff", follow_redirects=False).status_code == 303
    assert browser.get("/staff").status_code == 200 and signature


def test_check_wording_lists_warnings_keeps_the_text_and_saves_nothing(api: Api) -> None:
    api.organisation()
    item = api.raise_item(contributor="Dave Jones")
    manager = Browser(api)
    manager.sign_in(api.user("manager", "cedar"))
    page = f"/staff/items/{item['id']}"
    item_form = manager.get(page).text
    assert item_form.count(">Check wording<") == 3  # respond, complete and decline

    wordy = "Dave Jones asked; the MDT will action it ASAP."
    checked = manager.submit(
        page, f"{page}/respond", {"response": wordy, "intent": "check", "version": "1"}
    )
    assert checked.status_code == 200
    text = checked.text
    assert "Check the wording before it goes public" in text
    assert 'href="#respond-response"' in text  # the summary links to the field
    assert "the name of the person who raised this" in text
    assert "&#34;MDT&#34;" in text or '"MDT"' in text
    assert 'aria-describedby="respond-response-hint respond-response-warnings"' in text
    assert ">Dave Jones asked; the MDT will action it ASAP.</textarea>" in text  # text kept
    assert api.get(f"/api/v1/items/{item['id']}").json()["responses"] == []

    two_fields = manager.submit(
        page,
        f"{page}/decline",
        {"because": "The MDT said no.", "instead": "Ring Dave Jones.", "intent": "check"},
    )
    assert 'href="#decline-because"' in two_fields.text
    assert 'href="#decline-instead"' in two_fields.text

    fine = manager.submit(
        page, f"{page}/respond", {"response": "We have booked a repair.", "intent": "check"}
    )
    assert fine.status_code == 200 and "The wording looks fine." in fine.text
    empty = manager.submit(page, f"{page}/complete", {"we_did": " ", "intent": "check"})
    assert empty.status_code == 422 and "Enter the text you want to check" in empty.text

    sent = manager.submit(page, f"{page}/respond", {"response": "We have booked a repair."})
    assert sent.status_code == 303
    answers = api.get(f"/api/v1/items/{item['id']}").json()["responses"]
    assert [r["response"] for r in answers] == ["We have booked a repair."]

    forged = manager.client.post(f"{page}/respond", data={"response": "x", "intent": "check"})
    assert forged.status_code == 403  # the check is a form POST too: CSRF applies


def test_check_wording_on_the_moderation_queue(api: Api) -> None:
    api.organisation()
    item = api.raise_item(contributor="Dave Jones")
    moderator = Browser(api)
    moderator.sign_in(api.user("moderator", "cedar"))
    wording = "Dave Jones says the washing machine is broken. Call 07700 900123."
    checked = moderator.submit(
        "/staff/moderation",
        f"/staff/items/{item['id']}/publish",
        {"you_said": wording, "back": "moderation", "intent": "check"},
    )
    assert checked.status_code == 200
    assert f'href="#you_said-{item["id"]}"' in checked.text
    assert "phone number" in checked.text and "07700 900123" not in checked.text.replace(
        f">{wording}</textarea>", ""
    )  # the excerpt is masked; only the typed text carries it
    assert f">{wording}</textarea>" in checked.text
    assert api.get(f"/api/v1/items/{item['id']}").json()["published"] is False
    manager = Browser(api)
    manager.sign_in(api.user("manager", "cedar"))
    page = f"/staff/items/{item['id']}"
    not_theirs = manager.submit(page, f"{page}/publish", {"you_said": "x", "intent": "check"})
    assert not_theirs.status_code == 403  # a manager may not publish, so not check it either


def test_refer_offers_every_unit_by_name(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    manager = Browser(api)
    manager.sign_in(api.user("manager", "cedar"))
    page = f"/staff/items/{item['id']}"
    form = manager.get(page).text
    assert '<option value="willow">North West / Meadowbank / Willow ward</option>' in form
    assert "</a>, Cedar ward." in form  # the unit by name, in the summary
    referred = manager.submit(page, f"{page}/refer", {"to_unit_id": "willow", "version": "1"})
    assert referred.status_code == 303
    assert api.get(f"/api/v1/items/{item['id']}").json()["referred_to"] == "willow"
    unchosen = manager.submit(page, f"{page}/refer", {"to_unit_id": ""})
    assert unchosen.status_code == 422 and "Choose the unit to refer it to" in unchosen.text
