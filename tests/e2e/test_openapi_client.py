"""An integrator's view: a client generated from the live ``/openapi.json`` drives yswd.

The set-up does what an integrator would: it fetches the document from the running
app, runs ``openapi-python-client generate`` on it into a temporary folder, and
imports the package it wrote. The test then walks an item through its lifecycle,
reads the board, the metrics, the CSV export and the Atom feed, all through the
generated functions and the typed attributes of the generated models (dates come
back as ``date``, figures as numbers), never through raw JSON.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.clock import ticking_clock
from tests.e2e.conftest import ADMIN_TOKEN
from yswd.adapters.http.app import create_app
from yswd.bootstrap import build
from yswd.settings import Settings

PACKAGE = "yswd_generated_client"
GENERATOR = shutil.which("openapi-python-client")
#: what an integrator tells the generator about yswd's non-JSON media types: the
#: generator reads text/* answers and sends bytes, but does not know these names
GENERATOR_CONFIG = {
    "package_name_override": PACKAGE,
    "content_type_overrides": {
        "application/atom+xml": "text/plain",
        "text/csv": "application/octet-stream",
        "text/markdown": "application/octet-stream",
        "audio/*": "application/octet-stream",
        "video/*": "application/octet-stream",
    },
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data_dir = tmp_path_factory.mktemp("client-data") / "yswd-data"
    container = build(Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN), clock=ticking_clock())
    application = create_app(container)
    with TestClient(application):  # runs the lifespan: read models, background work
        yield application
    container.close()


@pytest.fixture(scope="module")
def generated(app: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The client package written by openapi-python-client from the live document."""
    if GENERATOR is None:
        pytest.fail("openapi-python-client is not installed (it is in the test extras)")
    folder = tmp_path_factory.mktemp("generated")
    with TestClient(app) as client:
        document = client.get("/openapi.json")
    assert document.status_code == 200
    (folder / "openapi.json").write_bytes(document.content)
    (folder / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
    done = subprocess.run(
        [
            GENERATOR,
            "generate",
            "--path",
            str(folder / "openapi.json"),
            "--output-path",
            str(folder / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(folder / "config.json"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.fixture
def clients(app: Any, generated: ModuleType) -> Iterator[dict[str, Any]]:
    """Generated clients over the in-process app: the admin's, and the public's."""
    with (
        TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as staff,
        TestClient(app) as public,
    ):
        made = {
            "admin": generated.AuthenticatedClient(base_url="http://testserver", token=ADMIN_TOKEN),
            "public": generated.Client(base_url="http://testserver"),
        }
        made["admin"].set_httpx_client(staff)
        made["public"].set_httpx_client(public)
        yield made


def op(generated: ModuleType, tag: str, operation_id: str) -> Any:
    return module(generated, f"api.{tag}.{operation_id}")


def test_the_document_gives_short_operation_ids_and_bearer_auth(app: Any) -> None:
    with TestClient(app) as client:
        document = client.get("/openapi.json").json()
    ids = [o["operationId"] for ops in document["paths"].values() for o in ops.values()]
    assert len(ids) == len(set(ids))
    assert max(map(len, ids)) <= 40
    assert {"raise_item", "get_board", "get_metrics", "export_items_csv"} <= set(ids)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    health = document["paths"]["/healthz"]["get"]
    assert health["security"] == [] and "401" not in health["responses"]
    raise_item = document["paths"]["/api/v1/items"]["post"]
    assert raise_item["security"] == [{"bearer": []}]
    assert "authorization" not in {p["name"].lower() for p in raise_item.get("parameters", [])}
    assert {"X-Yswd-Position", "Location"} <= set(raise_item["responses"]["201"]["headers"])
    assert "Retry-After" in raise_item["responses"]["429"]["headers"]
    board = document["paths"]["/public/api/v1/boards/{unit_id}"]["get"]["responses"]["200"]
    assert "ETag" in board["headers"]
    for path, operations in document["paths"].items():
        assert ("head" in operations) == ("get" in operations), path
        if "head" in operations:
            head = operations["head"]
            assert head["operationId"] == operations["get"]["operationId"] + "_head"
            assert set(head["responses"]) == set(operations["get"]["responses"])
            assert not any("content" in answer for answer in head["responses"].values())
    board_head = document["paths"]["/public/api/v1/boards/{unit_id}"]["head"]["responses"]
    assert "ETag" in board_head["200"]["headers"]
    feed = document["paths"]["/public/boards/{unit_id}/feed.atom"]["get"]["responses"]["200"]
    assert list(feed["content"]) == ["application/atom+xml"]
    csv = document["paths"]["/api/v1/exports/items.csv"]["get"]["responses"]["200"]
    assert list(csv["content"]) == ["text/csv"]
    page = document["paths"]["/public/boards/{unit_id}"]["get"]["responses"]["404"]
    assert "text/html" in page["content"]


def test_an_integrator_drives_a_lifecycle_with_typed_answers(
    generated: ModuleType, clients: dict[str, Any]
) -> None:
    models = module(generated, "models")
    admin, public = clients["admin"], clients["public"]

    unit = op(generated, "organisation", "create_unit").sync(
        client=admin, body=models.UnitIn(id="cedar", name="Cedar ward", parent_id=None)
    )
    assert isinstance(unit, models.UnitOut) and unit.name == "Cedar ward"
    forum = op(generated, "organisation", "create_forum").sync(
        client=admin,
        body=models.ForumIn(
            id="cedar-cm",
            name="Cedar community meeting",
            unit_id="cedar",
            kind=models.ForumKind.COMMUNITY_MEETING,
        ),
    )
    assert isinstance(forum, models.ForumOut)
    manager = op(generated, "organisation", "create_user").sync(
        client=admin,
        body=models.UserIn(name="A manager", role=models.Role.MANAGER, scopes=["cedar"]),
    )
    assert isinstance(manager, models.UserOut) and manager.token

    raised = op(generated, "items", "raise_item").sync_detailed(
        client=admin,
        body=models.ItemIn(
            forum_id="cedar-cm",
            channel=models.Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title="Laundry",
            you_said="The washing machine has been broken for two weeks.",
        ),
    )
    assert raised.status_code == 201
    item = raised.parsed
    assert isinstance(item, models.ItemOut)
    assert item.status == "raised" and item.version >= 1
    assert item.raised_on == date(2026, 11, 2)  # a date, not a string
    assert isinstance(item.created_at, datetime)
    assert raised.headers["Location"] == f"/api/v1/items/{item.id}"
    assert int(raised.headers["X-Yswd-Position"]) > 0

    published = op(generated, "items", "publish_item").sync(
        item_id=item.id, client=admin, body=models.PublishIn()
    )
    assert isinstance(published, models.ItemOut) and published.published is True
    done = op(generated, "items", "complete_item").sync(
        item_id=item.id, client=admin, body=models.CompleteIn(we_did="We fixed it.")
    )
    assert isinstance(done, models.ItemOut)
    assert (done.status, done.we_did) == ("done", "We fixed it.")

    listed = op(generated, "items", "list_items").sync(client=admin)
    assert isinstance(listed, models.ItemListOut)
    assert [found.id for found in listed.items] == [item.id]
    assert listed.items[0].raised_on == date(2026, 11, 2)

    board = op(generated, "public", "get_board").sync(unit_id="cedar", client=public)
    assert isinstance(board, models.BoardOut)
    # HEAD is listed where GET is, so a client can ask for the ETag alone
    headers_only = op(generated, "public", "get_board_head").sync_detailed(
        unit_id="cedar", client=public
    )
    assert headers_only.status_code == 200 and headers_only.content == b""
    assert headers_only.headers["ETag"]
    assert board.unit.name == "Cedar ward"
    assert board.counts.done == 1
    (shown,) = board.items
    assert (shown.id, shown.status, shown.we_did) == (item.id, "done", "We fixed it.")
    assert shown.raised_on == date(2026, 11, 2)

    # four more published items: small numbers (under 5) are suppressed on public figures
    for title in ("Garden", "Food", "Visits", "Phones"):
        more = op(generated, "items", "raise_item").sync(
            client=admin,
            body=models.ItemIn(
                forum_id="cedar-cm",
                channel=models.Channel.COMMUNITY_MEETING,
                raised_on=date(2026, 11, 3),
                title=title,
                you_said=f"{title}: please could we talk about this.",
            ),
        )
        op(generated, "items", "publish_item").sync(
            item_id=more.id, client=admin, body=models.PublishIn()
        )
    metrics = op(generated, "public", "get_metrics").sync(client=public, unit_id="cedar")
    assert isinstance(metrics, models.MetricsOut)
    assert metrics.items_raised == 5
    assert metrics.couldnt_do == 0  # 0 stays 0
    assert isinstance(metrics.median_days_to_first_response, float | None)


def test_csv_and_feed_come_back_in_their_own_media_types(
    generated: ModuleType, clients: dict[str, Any]
) -> None:
    csv = op(generated, "feedback", "export_items_csv").sync_detailed(client=clients["admin"])
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode().splitlines()[0].startswith("id,")
    feed = op(generated, "public", "get_board_feed").sync_detailed(
        unit_id="cedar", client=clients["public"]
    )
    assert feed.status_code == 200
    assert b"<feed" in feed.content and b"We fixed it." in feed.content
    missing = op(generated, "public", "get_board_page").sync_detailed(
        unit_id="atlantis", client=clients["public"]
    )
    assert missing.status_code == 404  # an HTML page: no JSON decoding error


def test_refusals_parse_as_the_problem_schema(
    generated: ModuleType, clients: dict[str, Any]
) -> None:
    models = module(generated, "models")
    refused = op(generated, "items", "get_item").sync_detailed(
        item_id="no-such-item", client=clients["admin"]
    )
    assert refused.status_code == 404
    assert isinstance(refused.parsed, models.ErrorOut)
    assert refused.parsed.error == "NotFound" and refused.parsed.detail
    unauthenticated = op(generated, "items", "list_items").sync_detailed(client=clients["public"])
    assert unauthenticated.status_code == 401
    assert isinstance(unauthenticated.parsed, models.ErrorOut)
