"""Plain-English warnings over HTTP: in the answers that make text public, and on request."""

from __future__ import annotations

from tests.e2e.conftest import Api

LONG_RESPONSE = (
    "Part 7 section 138 of the Local Government and Public Involvement in Health Act 2007 "
    "requires authorities to take those steps they consider appropriate to involve "
    "representatives of local persons in the exercise of any of their functions."
)


def test_publishing_warns_about_jargon_and_the_contributors_name(api: Api) -> None:
    api.organisation()
    item = api.raise_item(contributor="Ada Marker", title="Involvement in CQUIN")
    path = f"/api/v1/items/{item['id']}"

    answer = api.post(
        f"{path}/publish", {"you_said": "Ada Marker asked why the ward misses its KPI."}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["published"] is True
    found = {(w["field"], w["kind"], w["excerpt"]) for w in body["warnings"]}
    assert ("title", "jargon", "CQUIN") in found
    assert ("you_said", "jargon", "KPI") in found
    assert ("you_said", "identifier", "Ada Marker") in found
    for warning in body["warnings"]:
        assert set(warning) == {"kind", "field", "message", "excerpt", "suggestion"}


def test_each_public_text_is_checked_on_the_way_out(api: Api) -> None:
    api.organisation()
    first = api.raise_item()
    path = f"/api/v1/items/{first['id']}"
    responded = api.post(f"{path}/respond", {"response": LONG_RESPONSE}).json()
    assert [(w["field"], w["kind"]) for w in responded["warnings"]] == [
        ("response", "reading_ease")
    ]
    assert "out of 100" in responded["warnings"][0]["message"]
    done = api.post(f"{path}/complete", {"we_did": "We fixed the washing machine."}).json()
    assert done["status"] == "done"
    assert done["warnings"] == []

    second = api.raise_item()
    declined = api.post(
        f"/api/v1/items/{second['id']}/decline",
        {"because": "The PCT said no.", "instead": "Ring 0161 212 5631 to talk about it."},
    ).json()
    assert declined["status"] == "couldnt_do"
    assert [(w["field"], w["kind"]) for w in declined["warnings"]] == [
        ("because", "jargon"),
        ("instead", "identifier"),
    ]
    assert "5631" not in declined["warnings"][1]["excerpt"][:-2]


def test_other_writes_carry_no_warnings_field(api: Api) -> None:
    api.organisation()
    item = api.raise_item(title="CQUIN")
    assert "warnings" not in item
    noted = api.post(f"/api/v1/items/{item['id']}/progress", {"note": "CQUIN talk"}).json()
    assert "warnings" not in noted


def test_a_refused_write_changes_nothing_and_warns_nothing(api: Api) -> None:
    api.organisation()
    item = api.raise_item()
    secretary = api.user("secretary", "cedar")
    refused = api.post(f"/api/v1/items/{item['id']}/respond", {"response": "x"}, secretary)
    assert refused.status_code == 403
    assert api.get(f"/api/v1/items/{item['id']}").json()["status"] == "raised"


def test_check_wording_on_request_for_any_staff_role(api: Api) -> None:
    api.organisation()
    for role in ("secretary", "manager", "moderator", "auditor"):
        token = api.user(role, "cedar")
        answer = api.post(
            "/api/v1/wording/check", {"text": "Involvement in CQUIN", "field": "you_said"}, token
        )
        assert answer.status_code == 200, answer.text
        (warning,) = answer.json()["warnings"]
        assert (warning["kind"], warning["field"], warning["excerpt"]) == (
            "jargon",
            "you_said",
            "CQUIN",
        )
        assert warning["suggestion"]
    clean = api.post("/api/v1/wording/check", {"text": "We fixed the washing machine."})
    assert clean.json() == {"warnings": []}


def test_check_wording_with_an_item_uses_its_contributor_and_scope(api: Api) -> None:
    api.organisation()
    item = api.raise_item(contributor="Bea Example")
    elsewhere = api.raise_item(forum_id="elsewhere-cm", contributor="Cy Other")
    moderator = api.user("moderator", "cedar")
    named = api.post(
        "/api/v1/wording/check",
        {"text": "Bea Example wants the garden open.", "item_id": item["id"]},
        moderator,
    )
    assert named.status_code == 200
    assert [w["kind"] for w in named.json()["warnings"]] == ["identifier"]
    assert named.json()["warnings"][0]["field"] == "text"
    out_of_scope = api.post(
        "/api/v1/wording/check", {"text": "Hello", "item_id": elsewhere["id"]}, moderator
    )
    assert out_of_scope.status_code == 403
    missing = api.post("/api/v1/wording/check", {"text": "Hello", "item_id": "nope"})
    assert missing.status_code == 404


def test_check_wording_refusals(api: Api) -> None:
    assert api.client.post("/api/v1/wording/check", json={"text": "x"}).status_code == 401
    assert api.post("/api/v1/wording/check", {}).status_code == 422
    assert api.post("/api/v1/wording/check", {"text": "x", "extra": 1}).status_code == 422
    assert api.post("/api/v1/wording/check", {"text": "x" * 4001}).status_code == 422
    assert api.post("/api/v1/wording/check", {"text": "x", "field": "no spaces"}).status_code == (
        422
    )
