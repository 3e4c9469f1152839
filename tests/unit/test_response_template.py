"""Response templates: a unit's stock wording, inherited by the units below it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yswd.adapters.persistence import memory_env
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.errors import AlreadyExists, Conflict, Forbidden, NotFound
from yswd.aggregates.response_template import ResponseTemplates, TemplateKind
from yswd.aggregates.users import Role
from yswd.application.service import Yswd
from yswd.application.templates import Templates

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def manager(*scopes: str) -> Principal:
    return Principal("mgr-1", "A manager", Role.MANAGER, frozenset(scopes))


@pytest.fixture
def app() -> Yswd:
    app = Yswd(memory_env(), clock=lambda: NOW)
    app.create_unit(SYSTEM, "trust", "The trust", None)
    app.create_unit(SYSTEM, "meadowbank", "Meadowbank", "trust")
    app.create_unit(SYSTEM, "cedar", "Cedar ward", "meadowbank")
    app.create_unit(SYSTEM, "elsewhere", "Elsewhere", None)
    return app


@pytest.fixture
def templates(app: Yswd) -> Templates:
    return Templates(app)


def add(templates: Templates, unit_id: str, template_id: str, **fields: object) -> None:
    values: dict[str, object] = {
        "title": f"Template {template_id}",
        "text": "We have passed this to the estates team.",
        "kind": TemplateKind.RESPONSE,
        **fields,
    }
    templates.add(manager(unit_id), unit_id, template_id, **values)  # type: ignore[arg-type]


def test_template_ids_are_unique_within_a_unit() -> None:
    book = ResponseTemplates.start("cedar", "mgr", NOW)
    book.add("repairs", title="Repairs", text="...", kind=TemplateKind.WE_DID, actor="m", now=NOW)
    with pytest.raises(AlreadyExists):
        book.add(
            "repairs", title="Again", text="...", kind=TemplateKind.RESPONSE, actor="m", now=NOW
        )
    book.archive("repairs", "m", NOW)
    with pytest.raises(Conflict):
        book.archive("repairs", "m", NOW)
    with pytest.raises(NotFound):
        book.archive("nothing", "m", NOW)


def test_a_ward_sees_its_own_templates_first_then_those_above_it(templates: Templates) -> None:
    add(templates, "trust", "funding", title="Funding", kind=TemplateKind.BECAUSE)
    add(templates, "meadowbank", "estates", title="Estates")
    add(templates, "cedar", "laundry", title="Laundry", kind=TemplateKind.WE_DID)
    add(templates, "elsewhere", "other", title="Other")
    found = templates.for_unit(manager("cedar"), "cedar")
    assert [(t["id"], t["unit_id"], t["inherited"]) for t in found] == [
        ("laundry", "cedar", False),
        ("estates", "meadowbank", True),
        ("funding", "trust", True),
    ]
    assert [
        t["id"] for t in templates.for_unit(manager("cedar"), "cedar", TemplateKind.BECAUSE)
    ] == ["funding"]
    assert [t["id"] for t in templates.for_unit(manager("meadowbank"), "meadowbank")] == [
        "estates",
        "funding",
    ]


def test_archived_templates_are_hidden_unless_asked_for(templates: Templates) -> None:
    add(templates, "cedar", "laundry")
    archived = templates.archive(manager("cedar"), "cedar", "laundry").value
    assert archived["archived"] is True and archived["archived_at"] == NOW.isoformat()
    assert templates.for_unit(manager("cedar"), "cedar") == []
    shown = templates.for_unit(manager("cedar"), "cedar", include_archived=True)
    assert [t["id"] for t in shown] == ["laundry"]


def test_only_managers_in_scope_change_templates(templates: Templates) -> None:
    with pytest.raises(Forbidden):
        templates.add(
            manager("cedar"), "meadowbank", "x", title="X", text="Y", kind=TemplateKind.RESPONSE
        )
    secretary = Principal("sec-1", "A secretary", Role.SECRETARY, frozenset({"cedar"}))
    with pytest.raises(Forbidden):
        templates.add(secretary, "cedar", "x", title="X", text="Y", kind=TemplateKind.RESPONSE)
    with pytest.raises(Forbidden):
        templates.for_unit(manager("cedar"), "elsewhere")
    with pytest.raises(NotFound):
        templates.for_unit(manager("cedar"), "nowhere")
    with pytest.raises(NotFound):
        templates.archive(manager("cedar"), "cedar", "nothing")
    assert templates.for_unit(secretary, "cedar") == []  # staff in scope may read them
