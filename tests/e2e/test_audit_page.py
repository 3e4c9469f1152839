"""The staff audit page over HTTP: who was shown the name of the person who raised an item,
and whether the stored record is intact.

Given Meadowbank's Cedar and Willow wards, where two managers broke glass with a written
reason: an auditor sees both reveals by name, an advocate only those of the wards they
cover, roles that may not read reveals get the refusal page, and the chain check says in
plain words whether anything stored was changed (and which event, once it was).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clock import ticking_clock
from tests.e2e.conftest import ADMIN_TOKEN, Api
from tests.e2e.test_staff_pages import Browser
from tests.integration.stored_rows import StoredRows
from yswd.adapters.http.app import create_app
from yswd.adapters.http.pages.audit import Revealers
from yswd.adapters.http.templating import uk_datetime
from yswd.bootstrap import Container, build
from yswd.settings import Settings

CEDAR_REASON = "Needed to arrange a one-to-one meeting about the complaint."
WILLOW_REASON = "The person asked for a call back and left no other way to reach them."
NAV_LINK = 'href="/staff/audit">Audit</a>'
#: the chain check's answer on an untouched store, with when it was made
INTACT = re.compile(r"Checked \d+ events on \d+ \w+ 20\d\d at \d\d:\d\d: nothing was altered")


class Service:
    """The app over HTTP, and the container behind it (to edit its stored rows)."""

    def __init__(self, api: Api, container: Container) -> None:
        self.api = api
        self.container = container


@pytest.fixture
def data_dir(shm_data_dir: Path) -> Path:
    return shm_data_dir


@pytest.fixture
def service(data_dir: Path) -> Iterator[Service]:
    clock = ticking_clock()
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=clock)
    with TestClient(create_app(container)) as client:
        yield Service(Api(client, clock), container)
    container.close()


def person(api: Api, name: str, role: str, *scopes: str) -> str:
    """A member of staff with a name of their own; their token."""
    answer = api.post("/api/v1/users", {"name": name, "role": role, "scopes": list(scopes)})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def reveal(api: Api, item: dict[str, Any], manager: str, reason: str) -> None:
    answer = api.post(f"/api/v1/items/{item['id']}/reveal", {"reason": reason}, manager)
    assert answer.status_code == 200, answer.text


class Wards:
    """Cedar's and Willow's items, each revealed once by its own ward's manager."""

    def __init__(self, api: Api) -> None:
        api.organisation()
        self.api = api
        self.cedar_manager = person(api, "Priya Shah", "manager", "cedar")
        self.willow_manager = person(api, "Tom Okafor", "manager", "willow")
        self.cedar = api.raise_item(title="Laundry", contributor="Dee Patient")
        self.willow = api.raise_item(
            forum_id="willow-cm", title="Garden access", contributor="Sam Patient"
        )
        reveal(api, self.cedar, self.cedar_manager, CEDAR_REASON)
        reveal(api, self.willow, self.willow_manager, WILLOW_REASON)

    def signed_in(self, token: str) -> Browser:
        return signed_in(self.api, token)


def signed_in(api: Api, token: str) -> Browser:
    browser = Browser(api)
    assert browser.sign_in(token).status_code == 303
    return browser


def page_text(answer: Any) -> str:
    """The page's HTML with entities turned back into characters."""
    return unescape(answer.text)


def test_an_auditor_sees_each_reveal_by_name_item_and_reason_newest_first(
    service: Service,
) -> None:
    wards = Wards(service.api)
    auditor = wards.signed_in(person(service.api, "Ann Auditor", "auditor"))

    answer = auditor.get("/staff/audit")
    assert answer.status_code == 200, answer.text
    text = page_text(answer)
    assert NAV_LINK in text
    assert "Priya Shah (manager)" in text and "Tom Okafor (manager)" in text
    assert f'<a href="/staff/items/{wards.cedar["id"]}">Laundry</a>' in text
    assert f'<a href="/staff/items/{wards.willow["id"]}">Garden access</a>' in text
    assert CEDAR_REASON in text and WILLOW_REASON in text
    assert text.index(WILLOW_REASON) < text.index(CEDAR_REASON)  # the newest first
    assert "2 times a name was shown" in text
    # when, as the other staff pages show an instant (the JSON record's "at")
    listed = service.api.get("/api/v1/audit/reveals", ADMIN_TOKEN).json()["reveals"]
    assert all(uk_datetime(row["at"]) in text for row in listed)
    assert "Dee Patient" not in text and "Sam Patient" not in text  # the names stay out
    # the chain check runs when asked (it reads the whole log), and says so plainly
    assert "Check the record now" in text and "Checked" not in text
    assert "yswd audit verify" in text
    checked = page_text(auditor.get("/staff/audit", check="yes"))
    assert INTACT.search(checked)
    assert "Check again" in checked and CEDAR_REASON in checked


def test_an_advocate_sees_only_the_reveals_of_their_scope_and_can_narrow_by_unit(
    service: Service,
) -> None:
    wards = Wards(service.api)
    cedar_advocate = wards.signed_in(person(service.api, "Ada Vocate", "advocate", "cedar"))
    text = page_text(cedar_advocate.get("/staff/audit"))
    assert NAV_LINK in text
    assert CEDAR_REASON in text and "Priya Shah (manager)" in text
    assert WILLOW_REASON not in text and "Garden access" not in text
    assert '<option value="willow"' not in text  # the filter offers their units only
    # the chain check is for auditors: an advocate is told who checks it
    assert "Checked" not in text and "Ask your auditor" in text
    asked = page_text(cedar_advocate.get("/staff/audit", check="yes"))
    assert asked.count("Checked") == 0 and "Check the record now" not in asked

    outside = cedar_advocate.get("/staff/audit", unit_id="willow")
    assert outside.status_code == 422
    assert "Choose a unit from the list" in outside.text and WILLOW_REASON not in outside.text

    both = wards.signed_in(person(service.api, "Bo Vocate", "advocate", "meadowbank"))
    everything = page_text(both.get("/staff/audit"))
    assert CEDAR_REASON in everything and WILLOW_REASON in everything
    willow = both.get("/staff/audit", unit_id="willow")
    assert willow.status_code == 200
    shown = page_text(willow)
    assert WILLOW_REASON in shown and CEDAR_REASON not in shown
    assert '<option value="willow" selected>' in shown
    assert "1 time a name was shown in Willow ward" in shown


def test_a_reveal_of_an_item_the_viewer_cannot_open_shows_no_title(service: Service) -> None:
    wards = Wards(service.api)
    flagged = service.api.post(
        f"/api/v1/items/{wards.cedar['id']}/safeguarding",
        {"reason": "Said something worrying about a member of staff."},
        wards.cedar_manager,
    )
    assert flagged.status_code == 200, flagged.text
    advocate = wards.signed_in(person(service.api, "Ada Vocate", "advocate", "cedar"))
    text = page_text(advocate.get("/staff/audit"))
    assert CEDAR_REASON in text  # the reveal is still on the record
    assert "An item you cannot open" in text
    assert f'href="/staff/items/{wards.cedar["id"]}"' not in text and "Laundry" not in text


def test_an_empty_record_says_so(service: Service) -> None:
    service.api.organisation()
    auditor = signed_in(service.api, person(service.api, "Ann Auditor", "auditor"))
    text = page_text(auditor.get("/staff/audit"))
    assert "No manager has been shown who raised an item in your units." in text
    assert "<table" not in text


@pytest.mark.parametrize("role", ["manager", "secretary", "moderator", "safeguarding_lead"])
def test_roles_that_may_not_read_reveals_get_the_refusal_page(service: Service, role: str) -> None:
    service.api.organisation()
    token = person(service.api, f"A {role}", role, "cedar")
    browser = signed_in(service.api, token)
    answer = browser.get("/staff/audit")
    assert answer.status_code == 403
    assert "You cannot see this page" in answer.text
    assert "Only auditors, advocates and administrators" in answer.text
    assert NAV_LINK not in browser.get("/staff").text
    # the JSON record refuses the same roles
    assert service.api.get("/api/v1/audit/reveals", token).status_code == 403


def test_a_signed_out_visitor_is_sent_to_sign_in(service: Service) -> None:
    answer = service.api.client.get("/staff/audit?unit_id=cedar", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/sign-in?next=%2Fstaff%2Faudit%3Funit_id%3Dcedar"


def test_an_altered_stored_event_is_reported_in_plain_words(service: Service) -> None:
    wards = Wards(service.api)
    auditor = wards.signed_in(person(service.api, "Ann Auditor", "auditor"))
    assert "nothing was altered" in auditor.get("/staff/audit", check="yes").text
    rows = StoredRows(service.container)
    position, _, _ = rows.rows()[3]
    state = rows.state(position)
    rows.set_state(position, state + b" ")  # someone holding the database edits one event

    answer = auditor.get("/staff/audit", check="yes")
    assert answer.status_code == 200
    text = page_text(answer)
    assert "The record has been changed" in text
    assert f"Event number {position} in the record does not match" in text
    assert "the stored event was altered" in text
    assert "3 events before it are intact" in text
    assert "nothing was altered" not in text
    assert service.api.get("/api/v1/audit/verify").json()["first_bad"]["position"] == position


def test_someone_who_is_not_a_user_reads_as_unknown(service: Service) -> None:
    service.api.organisation()
    token = person(service.api, "Priya Shah", "manager", "cedar")
    user_id = service.api.get("/api/v1/me", token).json()["id"]
    revealers = Revealers(service.container)
    assert revealers(user_id) == {"name": "Priya Shah", "role": "Manager"}
    assert revealers("not-a-user") == {"name": "Unknown user", "role": None}
