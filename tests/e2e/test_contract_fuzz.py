"""Property-based fuzzing of the whole OpenAPI document with schemathesis, every check.

Every operation in ``/openapi.json`` gets schema-driven requests, positive (valid by
the document) and negative (invalid by it), against the real app over a real SQLite
data folder: with the admin token, with the tokens of a scoped manager, auditor,
secretary and moderator, and (public operations only) without any token. Every
built-in schemathesis check runs: no 5xx, invalid input refused with a 4xx, valid
input not refused with a 4xx that says it is invalid, every status, media type,
header and body as documented, 405 with ``Allow`` for undocumented methods, and
secured operations refusing a missing or bad token. Some of the generated requests
use the ids of a real unit, forum, item and gap box, so the fuzz reaches the domain
and not only the 404 path.

Generation is derandomized (a fixed seed), so a CI run is the same every time and
stays within a few minutes. A longer run, by hand::

    YSWD_FUZZ_EXAMPLES=200 python3 -m pytest -q tests/e2e/test_contract_fuzz.py

(``YSWD_FUZZ_EXAMPLES`` scales every role's examples per operation; 200 takes
about an hour on two cores).
"""

from __future__ import annotations

import os
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
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance

from tests.clock import TODAY, ticking_clock
from yswd.adapters.http.app import create_app
from yswd.bootstrap import Container, build
from yswd.settings import Settings

ADMIN_TOKEN = "fuzz-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

# Bounded so the whole module stays within a few minutes on a loaded two-core machine.
EXAMPLES = int(os.environ.get("YSWD_FUZZ_EXAMPLES", "6"))
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
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
        for role in ("manager", "auditor", "secretary", "moderator")
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
    loaded = schemathesis.openapi.from_asgi("/openapi.json", fuzzed[1])
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        # query parameters the document does not name are ignored, as HTTP APIs do;
        # that is not "accepting invalid data"
        allow_extra_parameters=False,
    )
    return loaded


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


#: operations whose bodies are checked for what they are, beyond any schema: for them a
#: schema-valid request may be refused (422 or 415), so "positive data accepted" does
#: not apply. Every other check still runs on them.
CHECKED_BY_CONTENT = {
    "upload_clip": "the file must be audio or video by its bytes (415 otherwise)",
    "import_minutes": "each row of the CSV or Markdown must be a valid item (422 otherwise)",
    "open311_requests_json": "GeoReport v2: the date window may not span more than 90 days",
    "open311_requests_xml": "GeoReport v2: the date window may not span more than 90 days",
    "get_metrics_page": "a form: a date it cannot read is shown back with a message (422)",
    # its stages and scores are in the schema; the day it runs on cannot be
    "record_self_assessment": "an assessment may not be dated after today (422)",
}


def call_and_check(case: Any, headers: dict[str, str] | None = None) -> None:
    """Every built-in check of schemathesis, on this case's answer.

    A body over the 64 KiB limit is refused with 413 before it is read, which
    schemathesis does not count as refusing invalid data; it is a refusal all the same.
    """
    response = case.call(headers=headers)
    excluded = []
    # HEAD (``<get's id>_head``) is answered as GET is, so it is checked as GET is
    operation_id = str(case.operation.definition.raw.get("operationId"))
    if operation_id.removesuffix("_head") in CHECKED_BY_CONTENT:
        excluded.append(positive_data_acceptance)
    if response.status_code == 413:
        excluded.append(negative_data_rejection)
    case.validate_response(response, headers=headers, excluded_checks=excluded)


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
SCOPED_SETTINGS = settings(FUZZ_SETTINGS, max_examples=max(2, EXAMPLES // 3))


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


@schema.parametrize()
@schema.given(use_known=st.booleans(), role=st.sampled_from(["secretary", "moderator"]))
@SCOPED_SETTINGS
def test_every_operation_conforms_for_a_scoped_secretary_or_moderator(
    case: Any, use_known: bool, role: str, known_ids: dict[str, str]
) -> None:
    aim(case, known_ids, use_known)
    call_and_check(case, bearer(known_ids, role))


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
