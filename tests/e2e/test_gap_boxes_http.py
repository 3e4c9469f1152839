"""Gap boxes over HTTP: the staff API, the public JSON API and the no-JavaScript page."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from tests.clock import TODAY
from tests.e2e.conftest import Api

XSS = "<script>alert(1)</script>"
HIDDEN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def box_body(box_id: str = "winter", **overrides: Any) -> dict[str, Any]:
    return {
        "id": box_id,
        "unit_id": "meadowbank",
        "forum_id": "cedar-cm",
        "question": "What would make winter on the ward better?",
        "opens_on": (TODAY - timedelta(days=1)).isoformat(),
        "closes_on": (TODAY + timedelta(days=30)).isoformat(),
        **overrides,
    }


def open_box(api: Api, box_id: str = "winter", **overrides: Any) -> dict[str, Any]:
    answer = api.post("/api/v1/gap-boxes", box_body(box_id, **overrides))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def suggest(api: Api, box_id: str, suggestion: str) -> Any:
    return api.client.post(
        f"/public/api/v1/gap-boxes/{box_id}/suggestions", json={"suggestion": suggestion}
    )


def gap_box_items(api: Api) -> list[dict[str, Any]]:
    items = api.get("/api/v1/items").json()["items"]
    return [item for item in items if item["channel"] == "gap_box"]


# -- creating boxes ------------------------------------------------------------------


def test_a_moderator_in_scope_opens_a_box(api: Api) -> None:
    api.organisation()
    moderator = api.user("moderator", "meadowbank")
    answer = api.post("/api/v1/gap-boxes", box_body(), moderator)
    assert answer.status_code == 201, answer.text
    assert answer.json() | {"created_at": None} == {
        **box_body(),
        "open": True,
        "created_at": None,
    }
    public = api.client.get("/public/api/v1/gap-boxes/winter")
    assert public.status_code == 200
    assert public.json()["id"] == "winter"
    assert public.json()["question"] == "What would make winter on the ward better?"
    assert public.json()["open"] is True
    assert "forum_id" not in public.json() and "unit_id" not in public.json()


def test_who_may_open_a_box(api: Api) -> None:
    api.organisation()
    assert api.client.post("/api/v1/gap-boxes", json=box_body()).status_code == 401
    for token in (
        api.user("moderator", "elsewhere"),
        api.user("moderator", "cedar"),  # the box's unit is above this moderator's scope
        api.user("manager", "meadowbank"),
        api.user("secretary", "meadowbank"),
        api.user("auditor"),
    ):
        assert api.post("/api/v1/gap-boxes", box_body(), token).status_code == 403
    assert api.client.get("/public/api/v1/gap-boxes/winter").status_code == 404
    assert api.post("/api/v1/gap-boxes", box_body()).status_code == 201  # the admin


def test_invalid_boxes_are_refused_and_nothing_is_created(api: Api) -> None:
    api.organisation()
    later = (TODAY + timedelta(days=2)).isoformat()
    earlier = TODAY.isoformat()
    for overrides, status in (
        ({"id": "Winter!"}, 422),
        ({"id": "-winter"}, 422),
        ({"question": ""}, 422),
        ({"question": "x" * 1001}, 422),
        ({"opens_on": "23/11/2026"}, 422),
        ({"closes_on": "2026-02-30"}, 422),
        ({"opens_on": later, "closes_on": earlier}, 422),
        ({"forum_id": "nowhere"}, 404),
        ({"unit_id": "nowhere"}, 404),
        ({"unit_id": "willow"}, 422),  # cedar-cm is not a forum of willow
        ({"unit_id": "elsewhere"}, 422),
    ):
        answer = api.post("/api/v1/gap-boxes", box_body(**overrides))
        assert answer.status_code == status, (overrides, answer.text)
        assert "detail" in answer.json()
    assert api.client.get("/public/api/v1/gap-boxes/winter").status_code == 404
    assert api.post("/api/v1/gap-boxes", box_body(question="x" * 1000)).status_code == 201


def test_a_taken_id_is_a_conflict_and_an_idempotency_key_replays(api: Api) -> None:
    api.organisation()
    first = api.post("/api/v1/gap-boxes", box_body(), None, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    again = api.post("/api/v1/gap-boxes", box_body(), None, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    taken = api.post("/api/v1/gap-boxes", box_body(question="Something else?"))
    assert taken.status_code == 409
    public = api.client.get("/public/api/v1/gap-boxes/winter").json()
    assert public["question"] == "What would make winter on the ward better?"


# -- suggestions through the JSON API -------------------------------------------------------


def test_a_suggestion_becomes_an_unpublished_gap_box_item(api: Api) -> None:
    api.organisation()
    open_box(api)
    answer = suggest(api, "winter", "More blankets on the ward, please. " + XSS)
    assert answer.status_code == 201, answer.text
    assert answer.json()["received"] is True
    [item] = gap_box_items(api)
    assert item["id"] == answer.json()["id"]
    assert item["forum_id"] == "cedar-cm" and item["unit_id"] == "cedar"
    assert item["published"] is False and item["status"] == "raised"
    assert item["contributor"] is None
    assert item["you_said"] == "More blankets on the ward, please. " + XSS
    assert item["raised_on"] == TODAY.isoformat()
    assert item["title"].startswith("More blankets on the ward")
    # the staff of another trust do not see it
    elsewhere = api.user("manager", "elsewhere")
    assert api.get("/api/v1/items", elsewhere).json()["items"] == []


def test_a_burst_of_suggestions_to_one_box_is_all_stored_and_never_touches_the_box(
    api: Api,
) -> None:
    """The soak's burst: each suggestion used to append to the box and conflict with the rest."""
    api.organisation()
    open_box(api)
    container = api.client.app.state.container  # type: ignore[attr-defined]
    container.gap_boxes.limiter = None  # many members of the public, not one address
    box_version = container.gap_boxes.box("winter").version
    start = threading.Barrier(12)

    def leave(n: int) -> int:
        start.wait()
        return int(suggest(api, "winter", f"Suggestion number {n}").status_code)

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(leave, range(12)))
    assert statuses == [201] * 12
    assert len(gap_box_items(api)) == 12
    assert container.gap_boxes.box("winter").version == box_version


def test_bad_suggestions_and_unknown_boxes_are_refused(api: Api) -> None:
    api.organisation()
    open_box(api)
    assert suggest(api, "winter", "").status_code == 422
    assert suggest(api, "winter", "   ").status_code == 422
    assert suggest(api, "winter", "x" * 4001).status_code == 422
    assert (
        api.client.post("/public/api/v1/gap-boxes/winter/suggestions", json={}).status_code == 422
    )
    assert suggest(api, "nowhere", "Hello").status_code == 404
    assert api.client.get("/public/api/v1/gap-boxes/nowhere").status_code == 404
    assert gap_box_items(api) == []
    assert suggest(api, "winter", "x" * 4000).status_code == 201


def test_a_closed_box_answers_409(api: Api) -> None:
    api.organisation()
    open_box(
        api,
        "last-year",
        opens_on=(TODAY - timedelta(days=60)).isoformat(),
        closes_on=(TODAY - timedelta(days=1)).isoformat(),
    )
    open_box(
        api,
        "next-month",
        opens_on=(TODAY + timedelta(days=1)).isoformat(),
        closes_on=(TODAY + timedelta(days=30)).isoformat(),
    )
    for box_id in ("last-year", "next-month"):
        assert api.client.get(f"/public/api/v1/gap-boxes/{box_id}").json()["open"] is False
        answer = suggest(api, box_id, "Am I too late, or too early?")
        assert answer.status_code == 409, answer.text
    assert gap_box_items(api) == []


def test_a_flood_from_one_address_gets_429_with_retry_after(api: Api) -> None:
    api.organisation()
    open_box(api)
    for n in range(5):  # the default: five suggestions a minute
        assert suggest(api, "winter", f"Suggestion {n}").status_code == 201
    flooded = suggest(api, "winter", "One too many")
    assert flooded.status_code == 429
    retry_after = int(flooded.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert len(gap_box_items(api)) == 5
    # the page form is limited by the same count
    page = api.client.get("/public/gap-boxes/winter")
    token = HIDDEN_TOKEN.search(page.text)
    assert token is not None
    form = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": "Still here", "csrf_token": token[1]}
    )
    assert form.status_code == 429 and "Retry-After" in form.headers
    assert len(gap_box_items(api)) == 5


# -- the public page ------------------------------------------------------------------------


def test_the_page_shows_an_open_box_with_a_protected_form(api: Api) -> None:
    api.organisation()
    open_box(api, question=f"What should change? {XSS}")
    page = api.client.get("/public/gap-boxes/winter")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert XSS not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "This gap box is open" in page.text
    assert '<label class="nhsuk-label nhsuk-label--m" for="suggestion">' in page.text
    assert 'method="post" action="/public/gap-boxes/winter"' in page.text
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    token = HIDDEN_TOKEN.search(page.text)
    assert token is not None and token[1] == api.client.cookies.get("yswd_gap_box_csrf")
    assert api.client.get("/public/gap-boxes/nowhere").status_code == 404


def test_a_closed_box_page_says_so_and_has_no_form(api: Api) -> None:
    api.organisation()
    open_box(
        api,
        opens_on=(TODAY - timedelta(days=60)).isoformat(),
        closes_on=(TODAY - timedelta(days=1)).isoformat(),
    )
    page = api.client.get("/public/gap-boxes/winter")
    assert page.status_code == 200
    assert "This gap box is closed" in page.text
    assert "<form" not in page.text and "<textarea" not in page.text


def test_the_form_sends_a_suggestion_and_thanks_the_sender(api: Api) -> None:
    api.organisation()
    open_box(api)
    page = api.client.get("/public/gap-boxes/winter")
    token = HIDDEN_TOKEN.search(page.text)
    assert token is not None
    sent = api.client.post(
        "/public/gap-boxes/winter",
        data={"suggestion": f"Warmer showers {XSS}", "csrf_token": token[1]},
    )
    assert sent.status_code == 200, sent.text
    assert "Thank you for your suggestion" in sent.text
    assert XSS not in sent.text
    assert "Warmer showers &lt;script&gt;alert(1)&lt;/script&gt;" in sent.text
    [item] = gap_box_items(api)
    assert item["you_said"] == f"Warmer showers {XSS}" and item["published"] is False


def test_a_form_without_the_csrf_token_is_refused(api: Api) -> None:
    api.organisation()
    open_box(api)
    page = api.client.get("/public/gap-boxes/winter")
    token = HIDDEN_TOKEN.search(page.text)
    assert token is not None
    # the cookie without the field, the field with another cookie, and neither
    no_field = api.client.post("/public/gap-boxes/winter", data={"suggestion": "Hi"})
    assert no_field.status_code == 403
    assert "Your suggestion was not sent" in no_field.text
    api.client.cookies.set("yswd_gap_box_csrf", "x" * 43, path="/public/gap-boxes")
    wrong = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": "Hi", "csrf_token": token[1]}
    )
    assert wrong.status_code == 403
    api.client.cookies.clear()
    bare = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": "Hi", "csrf_token": token[1]}
    )
    assert bare.status_code == 403
    assert gap_box_items(api) == []


def test_an_empty_form_shows_the_error_and_keeps_what_was_typed(api: Api) -> None:
    api.organisation()
    open_box(api)
    page = api.client.get("/public/gap-boxes/winter")
    token = HIDDEN_TOKEN.search(page.text)
    assert token is not None
    empty = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": "  ", "csrf_token": token[1]}
    )
    assert empty.status_code == 422
    assert "There is a problem" in empty.text and 'href="#suggestion"' in empty.text
    assert 'aria-invalid="true"' in empty.text
    too_long = "y" * 4001 + XSS
    long_answer = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": too_long, "csrf_token": token[1]}
    )
    assert long_answer.status_code == 422
    assert XSS not in long_answer.text and "&lt;script&gt;" in long_answer.text
    assert gap_box_items(api) == []


def test_the_form_of_a_box_that_closed_meanwhile_answers_409(api: Api) -> None:
    api.organisation()
    open_box(
        api,
        opens_on=(TODAY - timedelta(days=9)).isoformat(),
        closes_on=(TODAY - timedelta(days=2)).isoformat(),
    )
    api.client.cookies.set("yswd_gap_box_csrf", "t" * 43, path="/public/gap-boxes")
    closed = api.client.post(
        "/public/gap-boxes/winter", data={"suggestion": "Hi", "csrf_token": "t" * 43}
    )
    assert closed.status_code == 409
    assert "This gap box is closed" in closed.text and "<form" not in closed.text
    assert gap_box_items(api) == []


def test_the_results_page_shows_what_was_published_and_what_was_done(api: Api) -> None:
    api.organisation()
    open_box(api)
    kept = suggest(api, "winter", f"A kettle on the ward {XSS}").json()["id"]
    suggest(api, "winter", "Ian in room 4 keeps shouting")  # never published
    assert api.post(f"/api/v1/items/{kept}/publish", {}).status_code == 200
    done = api.post(f"/api/v1/items/{kept}/complete", {"we_did": f"Bought one {XSS}"})
    assert done.status_code == 200, done.text

    results = api.client.get("/public/api/v1/gap-boxes/winter/results")
    assert results.status_code == 200
    assert [(i["id"], i["we_did"]) for i in results.json()["items"]] == [
        (kept, f"Bought one {XSS}")
    ]
    page = api.client.get("/public/gap-boxes/winter/results")
    assert page.status_code == 200
    assert "You said in our gap box" in page.text and "We did:" in page.text
    assert XSS not in page.text
    assert "Bought one &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "room 4" not in page.text
    assert api.client.get("/public/gap-boxes/nowhere/results").status_code == 404
    assert api.client.get("/public/api/v1/gap-boxes/nowhere/results").status_code == 404


def test_the_results_are_read_once_until_an_item_of_the_box_s_forum_changes(api: Api) -> None:
    api.organisation()
    open_box(api)
    first, second = (suggest(api, "winter", f"Idea {n}").json()["id"] for n in (1, 2))
    assert api.post(f"/api/v1/items/{first}/publish", {}).status_code == 200
    answers = api.client.app.state.container.runner.answers  # type: ignore[attr-defined]
    results = "/public/api/v1/gap-boxes/winter/results"
    assert [i["id"] for i in api.client.get(results).json()["items"]] == [first]
    hits = answers.hits
    assert [i["id"] for i in api.client.get(results).json()["items"]] == [first]
    assert answers.hits == hits + 1  # the second read came from memory
    assert api.post(f"/api/v1/items/{second}/publish", {}).status_code == 200
    assert [i["id"] for i in api.client.get(results).json()["items"]] == [first, second]


def test_a_published_suggestion_flagged_for_safeguarding_leaves_the_results_at_once(
    api: Api,
) -> None:
    api.organisation()
    open_box(api)
    ids = [suggest(api, "winter", f"Idea {n} for the ward").json()["id"] for n in range(3)]
    for item_id in ids:
        assert api.post(f"/api/v1/items/{item_id}/publish", {}).status_code == 200
    results = "/public/api/v1/gap-boxes/winter/results"
    assert [i["id"] for i in api.client.get(results).json()["items"]] == ids
    flagged = api.post(
        f"/api/v1/items/{ids[1]}/safeguarding",
        {"reason": "The person named someone who hurt them."},
    )
    assert flagged.status_code in (200, 201), flagged.text
    assert [i["id"] for i in api.client.get(results).json()["items"]] == [ids[0], ids[2]]
    assert "Idea 1" not in api.client.get("/public/gap-boxes/winter/results").text
