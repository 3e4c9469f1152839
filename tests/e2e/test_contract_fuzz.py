"""Property-based fuzzing of the whole OpenAPI document with schemathesis.

Every operation in ``/openapi.json`` gets schema-driven requests (valid and invalid)
against the real app over a real SQLite data folder: with the admin token, with the
tokens of a scoped manager and a scoped auditor, and (public operations only) without
any token. No request may be answered with a 5xx, schema-violating input must be
refused with a 4xx, and successes must match their documented schema. Some of the
generated requests use the ids of a real unit, forum, item and gap box, so the fuzz
reaches the domain and not only the 404 path. Generation is derandomized, so a run
is the same every time.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import negative_data_rejection, not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.clock import TODAY, ticking_clock
from yswd.adapters.http.app import create_app
from yswd.bootstrap import Container, build
from yswd.settings import Settings

ADMIN_TOKEN = "fuzz-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Bounded so the whole module stays around a minute on a loaded two-core machine.
FUZZ_SETTINGS = settings(
    max_examples=14,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# Path parameters that, when the fuzzer asks for it, are replaced by a real id.
KNOWN_IDS = {
    "unit_id": "cedar",
    "forum_id": "cedar-cm",
    "box_id": "open-box",
}


def seed(client: TestClient) -> dict[str, str]:
    """A small organisation with an item and an open gap box; returns the real ids."""

    def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = client.post(path, json=body, headers=AUTH)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    created("/api/v1/units", {"id": "trust", "name": "Trust", "parent_id": None})
    created("/api/v1/units", {"id": "cedar", "name": "Cedar ward", "parent_id": "trust"})
    created(
        "/api/v1/forums",
        {"id": "cedar-cm", "name": "Meeting", "unit_id": "cedar", "kind": "community_meeting"},
    )
    item = created(
        "/api/v1/items",
        {
            "forum_id": "cedar-cm",
            "channel": "community_meeting",
            "raised_on": "2026-11-02",
            "title": "Laundry",
            "you_said": "The washing machine is broken.",
            "contributor": "A person",
            "detail": "private",
        },
    )
    created(
        "/api/v1/gap-boxes",
        {
            "id": "open-box",
            "unit_id": "cedar",
            "forum_id": "cedar-cm",
            "question": "What should we change?",
            "opens_on": (TODAY - timedelta(days=1)).isoformat(),
            "closes_on": (TODAY + timedelta(days=30)).isoformat(),
        },
    )
    tokens = {
        role: str(
            created("/api/v1/users", {"name": role, "role": role, "scopes": ["cedar"]})["token"]
        )
        for role in ("manager", "auditor")
    }
    return {**KNOWN_IDS, "item_id": str(item["id"]), **{f"token:{r}": t for r, t in tokens.items()}}


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[Container, Any, dict[str, str]]]:
    # A real SQLite folder, on memory-backed /dev/shm where there is one (no fsync cost).
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(prefix="yswd-fuzz-", dir=shm if shm.is_dir() else None))
    container = build(
        Settings(data_dir=folder / "data", admin_token=ADMIN_TOKEN), clock=ticking_clock()
    )
    # schemathesis drives the app without a lifespan; the test owns the background work.
    app = create_app(container, manage_lifecycle=False)
    container.start()
    try:
        with TestClient(app) as client:
            known = seed(client)
        yield container, app, known
    finally:
        container.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def known_ids(fuzzed: tuple[Container, Any, dict[str, str]]) -> dict[str, str]:
    return fuzzed[2]


@pytest.fixture
def api_schema(fuzzed: tuple[Container, Any, dict[str, str]]) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed[1])


schema = schemathesis.pytest.from_fixture("api_schema")
PUBLIC = schema.include(path_regex=r"^/(public|healthz|readyz)")


def aim(case: Any, known: dict[str, str], use_known: bool) -> None:
    """Point the case's path parameters at real ids when asked to."""
    if not use_known or not case.path_parameters:
        return
    for name in list(case.path_parameters):
        if name in known:
            case.path_parameters[name] = known[name]


def bearer(known: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {known[f'token:{role}']}"}


def call_and_check(case: Any, headers: dict[str, str] | None = None) -> None:
    """No 5xx ever; schema-violating input is refused with a 4xx; a success matches its schema.

    Error bodies are not held to FastAPI's generated 422 schema: the contract only
    asks for a JSON body with a human-readable message, and the app's own 422s carry
    a plain ``detail`` string.
    """
    response = case.call(headers=headers)
    checks: list[Any] = [not_a_server_error]
    if response.status_code < 300:
        checks.append(response_schema_conformance)
    if response.status_code != 413:  # too large is a refusal schemathesis does not expect
        checks.append(negative_data_rejection)
    case.validate_response(response, checks=checks, headers=headers)


@schema.parametrize()
@schema.given(use_known=st.booleans())
@FUZZ_SETTINGS
def test_no_operation_answers_a_5xx_to_the_admin(
    case: Any, use_known: bool, known_ids: dict[str, str]
) -> None:
    aim(case, known_ids, use_known)
    call_and_check(case, AUTH)


@PUBLIC.parametrize()
@PUBLIC.given(use_known=st.booleans())
@FUZZ_SETTINGS
def test_no_public_operation_answers_a_5xx_without_a_token(
    case: Any, use_known: bool, known_ids: dict[str, str]
) -> None:
    aim(case, known_ids, use_known)
    call_and_check(case)


# Scoped staff reach the role and scope refusals (and the audited reads) instead.
SCOPED_SETTINGS = settings(FUZZ_SETTINGS, max_examples=5)


@schema.parametrize()
@schema.given(use_known=st.booleans())
@SCOPED_SETTINGS
def test_no_operation_answers_a_5xx_to_a_scoped_manager(
    case: Any, use_known: bool, known_ids: dict[str, str]
) -> None:
    aim(case, known_ids, use_known)
    call_and_check(case, bearer(known_ids, "manager"))


@schema.parametrize()
@schema.given(use_known=st.booleans())
@SCOPED_SETTINGS
def test_no_operation_answers_a_5xx_to_a_scoped_auditor(
    case: Any, use_known: bool, known_ids: dict[str, str]
) -> None:
    aim(case, known_ids, use_known)
    call_and_check(case, bearer(known_ids, "auditor"))


def test_the_openapi_document_lists_the_contracts_error_statuses(
    fuzzed: tuple[Container, Any, dict[str, str]],
) -> None:
    with TestClient(fuzzed[1]) as client:
        document = client.get("/openapi.json").json()
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = set(operation.get("responses", {}))
            expected: set[str] = set()
            if path.startswith("/api/v1") and path != "/api/v1/status":
                expected |= {"401", "403"}
            if "{" in path:
                expected.add("404")
            if method == "post" and path.startswith("/api/v1/items/{item_id}/"):
                expected.add("409")
            if not expected <= documented:
                missing.append((method.upper(), path, sorted(expected - documented)))
    assert missing == []
