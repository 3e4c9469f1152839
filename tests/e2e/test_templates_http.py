"""Response templates over HTTP: managers keep stock wording per unit."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api

XSS = "<script>alert(1)</script>"


def template(template_id: str = "estates", **overrides: Any) -> dict[str, Any]:
    return {
        "id": template_id,
        "title": "Passed to estates",
        "text": "We have asked the estates team to fix this, and will tell you when it is done.",
        "kind": "response",
        **overrides,
    }


def test_a_manager_adds_templates_that_the_wards_below_inherit(api: Api) -> None:
    api.organisation()
    manager = api.user("manager", "meadowbank")
    added = api.post("/api/v1/units/meadowbank/templates", template(), manager)
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["id"] == "estates" and body["unit_id"] == "meadowbank"
    assert body["kind"] == "response" and body["archived"] is False
    ward = api.post(
        "/api/v1/units/cedar/templates",
        template("laundry", title="Laundry fixed", kind="we_did"),
        manager,
    )
    assert ward.status_code == 201, ward.text

    cedar_manager = api.user("manager", "cedar")
    listed = api.get("/api/v1/units/cedar/templates", cedar_manager)
    assert listed.status_code == 200
    assert [(t["id"], t["inherited"]) for t in listed.json()["templates"]] == [
        ("laundry", False),
        ("estates", True),
    ]
    only = api.get("/api/v1/units/cedar/templates", cedar_manager, kind="we_did")
    assert [t["id"] for t in only.json()["templates"]] == ["laundry"]
    willow = api.get("/api/v1/units/willow/templates", manager).json()["templates"]
    assert [t["id"] for t in willow] == ["estates"]


def test_archiving_hides_a_template(api: Api) -> None:
    api.organisation()
    api.post("/api/v1/units/cedar/templates", template())
    archived = api.post("/api/v1/units/cedar/templates/estates/archive", None)
    assert archived.status_code == 200, archived.text
    assert archived.json()["archived"] is True
    assert api.get("/api/v1/units/cedar/templates").json()["templates"] == []
    everything = api.get("/api/v1/units/cedar/templates", include_archived="true").json()
    assert [t["id"] for t in everything["templates"]] == ["estates"]
    assert api.post("/api/v1/units/cedar/templates/estates/archive", None).status_code == 409
    assert api.post("/api/v1/units/cedar/templates/nothing/archive", None).status_code == 404


def test_who_may_keep_templates(api: Api) -> None:
    api.organisation()
    path = "/api/v1/units/cedar/templates"
    assert api.client.post(path, json=template()).status_code == 401
    for token in (
        api.user("manager", "elsewhere"),  # outside the scope
        api.user("manager", "willow"),
        api.user("secretary", "cedar"),
        api.user("moderator", "cedar"),
        api.user("auditor"),
    ):
        assert api.post(path, template(), token).status_code == 403
    assert api.get(path, api.user("manager", "elsewhere")).status_code == 403
    assert api.get(path, api.user("secretary", "cedar")).status_code == 200
    assert api.get("/api/v1/units/nowhere/templates").status_code == 404
    assert api.get(path).json()["templates"] == []


def test_bad_templates_are_refused_and_nothing_is_stored(api: Api) -> None:
    api.organisation()
    path = "/api/v1/units/cedar/templates"
    for overrides in (
        {"id": "Not A Slug"},
        {"title": ""},
        {"title": "x" * 201},
        {"text": ""},
        {"text": "x" * 4001},
        {"kind": "anything"},
        {"text": "a\x00b"},
    ):
        answer = api.post(path, template(**overrides))
        assert answer.status_code == 422, overrides
    assert api.post("/api/v1/units/nowhere/templates", template()).status_code == 404
    assert api.get(path).json()["templates"] == []
    assert api.post(path, template()).status_code == 201
    assert api.post(path, template(title="Another")).status_code == 409


def test_template_text_is_returned_as_written(api: Api) -> None:
    api.organisation()
    api.post("/api/v1/units/cedar/templates", template(text=f"Fixed {XSS}"))
    shown = api.get("/api/v1/units/cedar/templates")
    assert shown.headers["content-type"].startswith("application/json")
    assert shown.json()["templates"][0]["text"] == f"Fixed {XSS}"
