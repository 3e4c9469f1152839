"""The staff pages of the newer channels, over the real app (cookies and CSRF, no JavaScript).

Repeated issues, diary-room clips, response templates, referral to a forum, lack-of-progress
notes, a forum's agenda, the minutes import and bulk publishing: each form refuses a post
without the session's CSRF token (403) and a user outside its scope (403), changes nothing
then, and shows what people typed escaped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import ADMIN_TOKEN, Api
from tests.e2e.test_staff_pages import Browser, csrf_of
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings

XSS = "<script>alert(1)</script>"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"DIARY-ROOM-BYTES" * 500
EXPIRED = "This form has expired"


def item(api: Api, title: str, you_said: str, forum: str = "cedar-cm") -> dict[str, Any]:
    return dict(api.raise_item(forum, title=title, you_said=you_said))


def signed_in(api: Api, role: str, *scopes: str) -> Browser:
    browser = Browser(api)
    assert browser.sign_in(api.user(role, *scopes)).status_code == 303
    return browser


def version_of(api: Api, item_id: str) -> str:
    return str(api.get(f"/api/v1/items/{item_id}").json()["version"])


# -- repeated issues ------------------------------------------------------------------------


def test_similar_items_are_offered_and_a_repeat_is_linked(api: Api) -> None:
    api.organisation()
    first = item(api, "Broken washing machine", "The washing machine on the ward is broken.")
    second = item(api, "Washing machine broken again", "The washing machine is broken again.")
    item(api, "Garden", "We would like to use the garden in the evening.")
    browser = signed_in(api, "secretary", "cedar")

    page = browser.get(f"/staff/items/{second['id']}")
    assert page.status_code == 200
    assert "Similar items" in page.text
    assert "Broken washing machine" in page.text
    assert re.search(r"(Very close match|Close match|Some words in common)", page.text)
    assert "Garden" not in page.text.split("Similar items")[1].split("This is a repeat")[0]

    # no CSRF token: refused, nothing linked
    forged = browser.client.post(
        f"/staff/items/{second['id']}/repeat", data={"original_id": first["id"]}
    )
    assert forged.status_code == 403 and EXPIRED in forged.text
    assert api.get(f"/api/v1/items/{second['id']}").json()["repeat_of"] is None

    done = browser.submit(
        f"/staff/items/{second['id']}",
        f"/staff/items/{second['id']}/repeat",
        {"original_id": first["id"], "version": version_of(api, second["id"])},
    )
    assert done.status_code == 303, done.text
    assert api.get(f"/api/v1/items/{second['id']}").json()["repeat_of"] == first["id"]
    original = browser.get(f"/staff/items/{first['id']}")
    assert "2 times" in original.text
    assert f'href="/staff/items/{second["id"]}"' in original.text
    repeat = browser.get(f"/staff/items/{second['id']}")
    assert "Repeat of" in repeat.text and f'href="/staff/items/{first["id"]}"' in repeat.text
    assert "Repeat link saved." in browser.get(f"/staff/items/{second['id']}?done=Repeat+link").text


def test_repeat_links_are_refused_out_of_scope_and_for_moderators(api: Api) -> None:
    api.organisation()
    first = item(api, "Broken washing machine", "The washing machine on the ward is broken.")
    second = item(api, "Washing machine broken again", "The washing machine is broken again.")
    elsewhere = item(api, "Broken washing machine", "Broken washing machine.", "willow-cm")

    moderator = signed_in(api, "moderator", "cedar")
    page = moderator.get(f"/staff/items/{second['id']}")
    assert page.status_code == 200 and "This is a repeat of" not in page.text
    refused = moderator.submit(
        f"/staff/items/{second['id']}",
        f"/staff/items/{second['id']}/repeat",
        {"original_id": first["id"]},
    )
    assert refused.status_code == 403

    willow = signed_in(api, "secretary", "willow")
    outside = willow.submit(
        f"/staff/items/{elsewhere['id']}",
        f"/staff/items/{second['id']}/repeat",
        {"original_id": elsewhere["id"]},
    )
    assert outside.status_code == 403
    # linking to an item outside one's scope is refused too
    cedar = signed_in(api, "secretary", "cedar")
    across = cedar.submit(
        f"/staff/items/{second['id']}",
        f"/staff/items/{second['id']}/repeat",
        {"original_id": elsewhere["id"]},
    )
    assert across.status_code == 403
    assert api.get(f"/api/v1/items/{second['id']}").json()["repeat_of"] is None


# -- diary-room clips -----------------------------------------------------------------------


def upload(browser: Browser, item_id: str, csrf: str | None, consent: str = "internal_only") -> Any:
    data = {"consent": consent}
    if csrf is not None:
        data["csrf_token"] = csrf
    return browser.client.post(
        f"/staff/items/{item_id}/clips",
        data=data,
        files={"file": ("diary.mp4", MP4, "video/mp4")},
        follow_redirects=False,
    )


def clips_of(api: Api, item_id: str) -> list[dict[str, Any]]:
    return list(api.get(f"/api/v1/items/{item_id}/clips").json()["clips"])


def test_a_clip_is_uploaded_played_transcribed_and_withdrawn_on_the_item_page(api: Api) -> None:
    api.organisation()
    raised = item(api, "Night noise", "It is too noisy at night.")
    path = f"/staff/items/{raised['id']}"
    browser = signed_in(api, "secretary", "cedar")
    page = browser.get(path)
    assert "Diary-room clips" in page.text and 'enctype="multipart/form-data"' in page.text

    assert upload(browser, raised["id"], None).status_code == 403
    assert upload(browser, raised["id"], "forged").status_code == 403
    assert clips_of(api, raised["id"]) == []

    answer = upload(browser, raised["id"], csrf_of(page.text))
    assert answer.status_code == 303, answer.text
    (clip,) = clips_of(api, raised["id"])
    page = browser.get(path)
    media = f"/staff/clips/{clip['id']}/media"
    assert f'<video controls preload="none" class="clip__player" src="{media}"' in page.text
    assert "Staff only" in page.text

    # the staff page's player works with the session cookie (the API route wants a token)
    played = browser.client.get(media)
    assert played.status_code == 200 and played.content == MP4
    assert played.headers["content-type"] == "video/mp4"
    part = browser.client.get(media, headers={"Range": "bytes=0-11"})
    assert part.status_code == 206 and part.content == MP4[:12]
    assert api.client.get(media, follow_redirects=False).status_code == 303  # not signed in

    # a transcript, with markup in it, is shown escaped
    assert (
        browser.client.post(
            f"/staff/clips/{clip['id']}/transcript", data={"transcript": XSS}
        ).status_code
        == 403
    )
    saved = browser.submit(
        path,
        f"/staff/clips/{clip['id']}/transcript",
        {"transcript": f"Too loud {XSS}", "version": str(clip["version"])},
    )
    assert saved.status_code == 303, saved.text
    page = browser.get(path)
    assert XSS not in page.text and "Too loud &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert clips_of(api, raised["id"])[0]["transcript_published"] is False

    # withdrawing needs the tick, and then deletes the recording
    unticked = browser.submit(path, f"/staff/clips/{clip['id']}/consent", {"consent": "withdrawn"})
    assert unticked.status_code == 422 and "Tick the box" in unticked.text
    assert browser.client.get(media).status_code == 200
    assert (
        browser.client.post(
            f"/staff/clips/{clip['id']}/consent", data={"consent": "withdrawn", "confirm": "yes"}
        ).status_code
        == 403
    )
    withdrawn = browser.submit(
        path, f"/staff/clips/{clip['id']}/consent", {"consent": "withdrawn", "confirm": "yes"}
    )
    assert withdrawn.status_code == 303, withdrawn.text
    assert clips_of(api, raised["id"])[0]["consent"] == "withdrawn"
    assert browser.client.get(media).status_code == 404
    assert "The recording was deleted." in browser.get(path).text


def test_a_moderator_publishes_a_transcript_and_a_manager_changes_consent(api: Api) -> None:
    api.organisation()
    raised = item(api, "Night noise", "It is too noisy at night.")
    path = f"/staff/items/{raised['id']}"
    secretary = signed_in(api, "secretary", "cedar")
    assert upload(secretary, raised["id"], csrf_of(secretary.get(path).text)).status_code == 303
    (clip,) = clips_of(api, raised["id"])
    secretary.submit(path, f"/staff/clips/{clip['id']}/transcript", {"transcript": "Too loud."})

    moderator = signed_in(api, "moderator", "cedar")
    page = moderator.get(path)
    assert "Publish the saved transcript" in page.text
    assert "Upload clip" not in page.text and "Save consent" not in page.text
    published = moderator.submit(
        path, f"/staff/clips/{clip['id']}/transcript", {"intent": "publish"}
    )
    assert published.status_code == 303, published.text
    assert clips_of(api, raised["id"])[0]["transcript_published"] is True
    # a moderator cannot change consent or upload
    assert (
        moderator.submit(
            path, f"/staff/clips/{clip['id']}/consent", {"consent": "may_publish"}
        ).status_code
        == 403
    )
    assert upload(moderator, raised["id"], csrf_of(page.text)).status_code == 403

    manager = signed_in(api, "manager", "cedar")
    changed = manager.submit(path, f"/staff/clips/{clip['id']}/consent", {"consent": "may_publish"})
    assert changed.status_code == 303
    assert clips_of(api, raised["id"])[0]["consent"] == "may_publish"


def test_clip_forms_are_refused_out_of_scope(api: Api) -> None:
    api.organisation()
    raised = item(api, "Night noise", "It is too noisy at night.")
    own = item(api, "Willow item", "Something on willow.", "willow-cm")
    cedar = signed_in(api, "secretary", "cedar")
    cedar_page = f"/staff/items/{raised['id']}"
    assert upload(cedar, raised["id"], csrf_of(cedar.get(cedar_page).text)).status_code == 303
    (clip,) = clips_of(api, raised["id"])

    willow = signed_in(api, "secretary", "willow")
    csrf = csrf_of(willow.get(f"/staff/items/{own['id']}").text)
    assert upload(willow, raised["id"], csrf).status_code == 403
    assert willow.client.get(f"/staff/clips/{clip['id']}/media").status_code == 403
    for action, data in (
        ("consent", {"consent": "withdrawn", "confirm": "yes"}),
        ("transcript", {"transcript": "Not mine"}),
    ):
        answer = willow.client.post(
            f"/staff/clips/{clip['id']}/{action}", data={"csrf_token": csrf, **data}
        )
        assert answer.status_code == 403
    (after,) = clips_of(api, raised["id"])
    assert after["consent"] == "internal_only" and after["transcript"] is None
    assert len(clips_of(api, raised["id"])) == 1


def test_a_file_that_is_not_a_recording_is_refused_on_the_page(api: Api) -> None:
    api.organisation()
    raised = item(api, "Night noise", "It is too noisy at night.")
    browser = signed_in(api, "secretary", "cedar")
    csrf = csrf_of(browser.get(f"/staff/items/{raised['id']}").text)
    answer = browser.client.post(
        f"/staff/items/{raised['id']}/clips",
        data={"csrf_token": csrf, "consent": "internal_only"},
        files={"file": ("notes.txt", b"just some text, not audio", "text/plain")},
    )
    assert answer.status_code == 415
    assert "not a recording we can keep" in answer.text
    assert clips_of(api, raised["id"]) == []


# -- response templates -------------------------------------------------------------------


def test_a_manager_adds_a_template_and_uses_it_without_javascript(api: Api) -> None:
    api.organisation()
    raised = item(api, "Laundry", "The washing machine is broken.")
    manager = signed_in(api, "manager", "cedar")
    page = manager.get("/staff/templates", unit="cedar")
    assert page.status_code == 200 and "has no templates yet" in page.text

    form = {
        "unit_id": "cedar",
        "template_id": "repair-ordered",
        "title": f"Repair {XSS}",
        "kind": "response",
        "text": "We have ordered the repair and will tell you when it is done.",
    }
    assert manager.client.post("/staff/templates", data=form).status_code == 403
    added = manager.submit("/staff/templates?unit=cedar", "/staff/templates", form)
    assert added.status_code == 303, added.text
    listed = manager.get("/staff/templates", unit="cedar", done="added")
    assert "Template added." in listed.text
    assert XSS not in listed.text and "Repair &lt;script&gt;" in listed.text

    path = f"/staff/items/{raised['id']}"
    page = manager.get(path)
    assert 'name="template_id"' in page.text and "Use template" in page.text
    filled = manager.submit(
        path,
        f"/staff/items/{raised['id']}/respond",
        {"intent": "template", "template_id": "repair-ordered", "response": ""},
    )
    assert filled.status_code == 200
    assert ">We have ordered the repair and will tell you when it is done.</textarea>" in (
        filled.text
    )
    assert "nothing is saved yet" in filled.text
    assert api.get(f"/api/v1/items/{raised['id']}").json()["responses"] == []

    none = manager.submit(
        path, f"/staff/items/{raised['id']}/respond", {"intent": "template", "template_id": "x"}
    )
    assert none.status_code == 422 and "Choose a template from the list" in none.text

    archived = manager.submit(
        "/staff/templates?unit=cedar", "/staff/templates/cedar/repair-ordered/archive", {}
    )
    assert archived.status_code == 303
    assert "Use template" not in manager.get(path).text


def test_template_pages_are_refused_without_the_role_scope_or_token(api: Api) -> None:
    api.organisation()
    admin_form = {
        "unit_id": "willow",
        "template_id": "welcome",
        "title": "Welcome",
        "kind": "we_did",
        "text": "We did it.",
    }
    admin = signed_in(api, "admin")
    assert (
        admin.submit("/staff/templates?unit=willow", "/staff/templates", admin_form).status_code
        == 303
    )

    secretary = signed_in(api, "secretary", "cedar")
    assert secretary.get("/staff/templates").status_code == 403
    manager = signed_in(api, "manager", "cedar")
    outside = manager.submit("/staff/templates?unit=cedar", "/staff/templates", admin_form)
    assert outside.status_code == 403
    archive = manager.submit(
        "/staff/templates?unit=cedar", "/staff/templates/willow/welcome/archive", {}
    )
    assert archive.status_code == 403
    assert manager.client.post("/staff/templates/willow/welcome/archive").status_code == 403
    listed = api.get("/api/v1/units/willow/templates").json()["templates"]
    assert [entry["id"] for entry in listed] == ["welcome"]
    shown = manager.get("/staff/templates", unit="willow")
    assert "outside your scope" in shown.text and "We did it." not in shown.text


# -- refer to a forum, lack of progress -------------------------------------------------------


def boards(api: Api) -> None:
    for forum in (
        {
            "id": "dev-board",
            "name": "Development Board",
            "unit_id": "meadowbank",
            "kind": "development_board",
        },
        {
            "id": "partnership-board",
            "name": "Partnership Board",
            "unit_id": "north-west",
            "kind": "partnership_board",
        },
    ):
        assert api.post("/api/v1/forums", forum).status_code == 201


def test_a_manager_refers_to_a_forum_and_a_secretary_notes_lack_of_progress(api: Api) -> None:
    api.organisation()
    boards(api)
    raised = item(api, "Bus to the hospital", "There is no bus on Sundays.")
    path = f"/staff/items/{raised['id']}"
    manager = signed_in(api, "manager", "meadowbank")
    page = manager.get(path)
    assert '<option value="partnership-board">Partnership Board</option>' in page.text
    refer = {"to_forum_id": "partnership-board", "note": f"For the board {XSS}"}
    assert manager.client.post(f"{path}/refer", data=refer).status_code == 403
    answer = manager.submit(path, f"{path}/refer", refer)
    assert answer.status_code == 303, answer.text
    body = api.get(f"/api/v1/items/{raised['id']}").json()
    assert body["referred_to_forum"] == "partnership-board"
    assert body["referred_to"] == "north-west"
    assert XSS not in manager.get(path).text

    secretary = signed_in(api, "secretary", "cedar")
    page = secretary.get(path)
    assert 'value="lack_of_progress"' in page.text
    note = {"kind": "lack_of_progress", "note": "Waiting for the bus company."}
    assert secretary.client.post(f"{path}/progress", data=note).status_code == 403
    noted = secretary.submit(path, f"{path}/progress", note)
    assert noted.status_code == 303, noted.text
    progress = api.get(f"/api/v1/items/{raised['id']}").json()["progress"]
    assert progress[-1]["kind"] == "lack_of_progress"
    bad = secretary.submit(path, f"{path}/progress", {"kind": "gossip", "note": "x"})
    assert bad.status_code == 422 and "Choose what kind of note" in bad.text

    outside = signed_in(api, "manager", "willow")
    refused = outside.submit("/staff", f"{path}/refer", {"to_forum_id": "dev-board"})
    assert refused.status_code == 403
    assert api.get(f"/api/v1/items/{raised['id']}").json()["referred_to_forum"] == (
        "partnership-board"
    )


# -- agenda and minutes ------------------------------------------------------------------------

GOOD_CSV = (
    "title,you_said,themes\n"
    f'Garden,"We want the garden open {XSS}",outdoors\n'
    "Food,Dinner is often cold,food\n"
)
BAD_CSV = GOOD_CSV + ",no title here,\nLate,Something,,\n"


def test_the_forum_page_links_to_an_agenda_that_works_with_the_session(api: Api) -> None:
    api.organisation()
    item(api, f"Parking {XSS}", "There is nowhere to park.")
    secretary = signed_in(api, "secretary", "cedar")
    forum = secretary.get("/staff/forums/cedar-cm")
    assert 'href="/staff/forums/cedar-cm/agenda"' in forum.text
    assert 'href="/staff/forums/cedar-cm/minutes"' in forum.text
    agenda = secretary.get("/staff/forums/cedar-cm/agenda")
    assert agenda.status_code == 200
    assert "Agenda: Cedar community meeting" in agenda.text
    assert "Parking &lt;script&gt;" in agenda.text and XSS not in agenda.text
    assert secretary.get("/staff/forums/elsewhere-cm/agenda").status_code == 403
    assert secretary.get("/staff/forums/no-such/agenda").status_code == 404


def test_minutes_are_checked_row_by_row_then_saved_all_at_once(api: Api) -> None:
    api.organisation()
    secretary = signed_in(api, "secretary", "cedar")
    page = "/staff/forums/cedar-cm/minutes"
    assert secretary.get(page).status_code == 200
    form = {"format": "csv", "minutes": BAD_CSV, "intent": "check"}

    assert secretary.client.post(page, data=form).status_code == 403
    checked = secretary.submit(page, page, form)
    assert checked.status_code == 422
    assert "Rows with problems" in checked.text and '>Row</th>' in checked.text
    assert "Problem:" in checked.text
    saved_bad = secretary.submit(page, page, {**form, "intent": "save"})
    assert saved_bad.status_code == 422
    assert api.get("/api/v1/items", forum_id="cedar-cm").json()["items"] == []

    fine = secretary.submit(page, page, {**form, "minutes": GOOD_CSV})
    assert fine.status_code == 200 and "Every row is fine" in fine.text
    assert XSS not in fine.text and "We want the garden open &lt;script&gt;" in fine.text
    assert api.get("/api/v1/items", forum_id="cedar-cm").json()["items"] == []

    saved = secretary.submit(page, page, {**form, "minutes": GOOD_CSV, "intent": "save"})
    assert saved.status_code == 200 and "2 items saved" in saved.text
    titles = sorted(
        i["title"] for i in api.get("/api/v1/items", forum_id="cedar-cm").json()["items"]
    )
    assert titles == ["Food", "Garden"]
    again = secretary.submit(page, page, {**form, "minutes": GOOD_CSV, "intent": "save"})
    assert "already imported" in again.text
    assert len(api.get("/api/v1/items", forum_id="cedar-cm").json()["items"]) == 2


def test_minutes_from_an_uploaded_markdown_file(api: Api) -> None:
    api.organisation()
    secretary = signed_in(api, "secretary", "cedar")
    page = "/staff/forums/cedar-cm/minutes"
    csrf = csrf_of(secretary.get(page).text)
    answer = secretary.client.post(
        page,
        data={"csrf_token": csrf, "format": "markdown", "intent": "save", "minutes": ""},
        files={"file": ("minutes.md", b"# Meeting\n- Garden: open it later\n", "text/markdown")},
    )
    assert answer.status_code == 200, answer.text
    assert "1 item saved" in answer.text
    assert [i["title"] for i in api.get("/api/v1/items", forum_id="cedar-cm").json()["items"]] == [
        "Garden"
    ]


def test_minutes_are_refused_out_of_scope_and_for_roles_that_cannot_raise(api: Api) -> None:
    api.organisation()
    secretary = signed_in(api, "secretary", "cedar")
    csrf = csrf_of(secretary.get("/staff/forums/cedar-cm/minutes").text)
    assert secretary.get("/staff/forums/willow-cm/minutes").status_code == 403
    outside = secretary.client.post(
        "/staff/forums/willow-cm/minutes",
        data={"csrf_token": csrf, "format": "csv", "minutes": GOOD_CSV, "intent": "save"},
    )
    assert outside.status_code == 403
    manager = signed_in(api, "manager", "cedar")
    assert manager.get("/staff/forums/cedar-cm/minutes").status_code == 403
    assert api.get("/api/v1/items", forum_id="willow-cm").json()["items"] == []


# -- bulk publish ---------------------------------------------------------------------------


def test_a_moderator_publishes_several_items_at_once(api: Api) -> None:
    api.organisation()
    first = item(api, "Laundry", "The washing machine is broken.")
    second = item(api, f"Garden {XSS}", "Open the garden later.")
    moderator = signed_in(api, "moderator", "cedar")
    queue = moderator.get("/staff/moderation")
    assert 'form="bulk-publish"' in queue.text and "Publish selected" in queue.text
    assert XSS not in queue.text

    ids = {"item_ids": [first["id"], second["id"]]}
    forged = moderator.client.post("/staff/moderation/publish", data=ids)
    assert forged.status_code == 403
    assert api.get(f"/api/v1/items/{first['id']}").json()["published"] is False

    csrf = csrf_of(queue.text)
    answer = moderator.client.post(
        "/staff/moderation/publish",
        data={"csrf_token": csrf, **ids},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert "2 items published" in moderator.get(answer.headers["location"]).text
    for raised in (first, second):
        assert api.get(f"/api/v1/items/{raised['id']}").json()["published"] is True

    empty = moderator.client.post("/staff/moderation/publish", data={"csrf_token": csrf})
    assert empty.status_code == 422 and "Tick at least one item" in empty.text


def test_a_refused_bulk_publish_shows_each_item_and_changes_nothing(api: Api) -> None:
    api.organisation()
    mine = item(api, "Laundry", "The washing machine is broken.")
    theirs = item(api, "Willow thing", "Something on willow.", "willow-cm")
    moderator = signed_in(api, "moderator", "cedar")
    csrf = csrf_of(moderator.get("/staff/moderation").text)
    answer = moderator.client.post(
        "/staff/moderation/publish",
        data={"csrf_token": csrf, "item_ids": [mine["id"], theirs["id"]]},
    )
    assert answer.status_code == 409
    assert "Nothing was published" in answer.text
    assert "Could be published." in answer.text and "Refused:" in answer.text
    assert "outside your scope" in answer.text
    assert api.get(f"/api/v1/items/{mine['id']}").json()["published"] is False
    assert api.get(f"/api/v1/items/{theirs['id']}").json()["published"] is False

    manager = signed_in(api, "manager", "cedar")
    csrf = csrf_of(manager.get("/staff").text)
    refused = manager.client.post(
        "/staff/moderation/publish", data={"csrf_token": csrf, "item_ids": mine["id"]}
    )
    assert refused.status_code == 403
    assert api.get(f"/api/v1/items/{mine['id']}").json()["published"] is False


@pytest.mark.parametrize("path", ["/staff/templates", "/staff/forums/cedar-cm/minutes"])
def test_new_pages_send_visitors_to_sign_in(api: Api, path: str) -> None:
    answer = api.client.get(path, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/sign-in")


def test_an_oversized_clip_on_the_page_is_413_and_nothing_is_kept(tmp_path: Path) -> None:
    container = build(
        Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, max_clip_bytes=4096)
    )
    try:
        with TestClient(create_app(container)) as client:
            api = Api(client)
            api.organisation()
            raised = item(api, "Night noise", "It is too noisy at night.")
            browser = signed_in(api, "secretary", "cedar")
            csrf = csrf_of(browser.get(f"/staff/items/{raised['id']}").text)
            answer = browser.client.post(
                f"/staff/items/{raised['id']}/clips",
                data={"csrf_token": csrf, "consent": "internal_only"},
                files={"file": ("diary.mp4", MP4 + b"x" * 8000, "video/mp4")},
            )
            assert answer.status_code == 413
            assert "A clip may be at most" in answer.text
            assert clips_of(api, raised["id"]) == []
    finally:
        container.close()
