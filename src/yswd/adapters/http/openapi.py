"""The OpenAPI document as integrators need it: typed, secured, with real media types.

FastAPI writes the document from the routes; this module finishes it in one
place, so the routes keep sending exactly what they always sent:

- short operation ids (the handler's name, or a clearer one from ``RENAMED``);
- bearer authentication in ``securitySchemes``; operations that take no token
  say so (``security: []``) and do not list 401 or 403;
- each JSON answer a named component (``ANSWERS``, from ``answers``), which is
  documentation only: no answer is filtered through a model;
- the real media types of CSV, Atom, HTML, XML and media answers;
- the response headers (``X-Yswd-Position``, ``ETag``, ``Last-Modified``,
  ``Location``, ``Retry-After``) where they are sent;
- the limits of ``If-Match`` and ``Idempotency-Key``, as the server checks them;
- errors as ``ErrorOut``, the body every refusal has, except Open311's, which are
  GeoReport v2's own list of ``code`` and ``description``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from yswd.adapters.http import answers
from yswd.adapters.http.errors import ErrorOut

SCHEME = "bearer"
_REF = "#/components/schemas/{model}"

#: handler names that would make unclear operation ids
RENAMED = {
    "board_json": "get_board",
    "metrics_json": "get_metrics",
    "board_page": "get_board_page",
    "board_feed": "get_board_feed",
    "board_poster": "get_board_poster",
    "metrics_page": "get_metrics_page",
    "index_page": "get_public_index",
    "status": "get_status",
    "publish": "publish_item",
    "refer": "refer_item",
    "respond": "respond_to_item",
    "complete": "complete_item",
    "decline": "decline_item",
    "progress": "add_progress",
    "verify": "verify_item",
    "reopen": "reopen_item",
    "similar": "similar_items",
    "repeat_of": "mark_repeat_of",
    "suggest": "suggest_in_gap_box",
    "item_history": "get_item_history",
    "verify_chain": "verify_audit_chain",
    "recorded_reads": "list_audited_reads",
    "get_public_gap_box": "get_public_gap_box",
    "get_public_results": "get_gap_box_results",
    "export_items": "export_items_csv",
}

#: operation id -> the model of its JSON success answer
ANSWERS: dict[str, type[BaseModel]] = {
    "healthz": answers.HealthOut,
    "readyz": answers.ReadyOut,
    "get_status": answers.StatusOut,
    "create_unit": answers.UnitOut,
    "get_unit": answers.UnitOut,
    "create_forum": answers.ForumOut,
    "get_forum": answers.ForumOut,
    "create_user": answers.UserOut,
    "set_user_email": answers.UserOut,
    "change_user_role": answers.UserOut,
    "issue_token": answers.TokenOut,
    "revoke_tokens": answers.RevokedOut,
    "who_am_i": answers.MeOut,
    "bulk_publish": answers.BulkOut,
    "bulk_refer": answers.BulkOut,
    "raise_item": answers.ItemOut,
    "list_items": answers.ItemListOut,
    "get_item": answers.ItemOut,
    "publish_item": answers.ItemOut,
    "refer_item": answers.ItemOut,
    "respond_to_item": answers.ItemOut,
    "complete_item": answers.ItemOut,
    "decline_item": answers.ItemOut,
    "add_progress": answers.ItemOut,
    "verify_item": answers.ItemOut,
    "reopen_item": answers.ItemOut,
    "mark_repeat_of": answers.ItemOut,
    "similar_items": answers.SimilarOut,
    "upload_clip": answers.ClipOut,
    "list_clips": answers.ClipListOut,
    "get_clip": answers.ClipOut,
    "record_consent": answers.ClipOut,
    "add_transcript": answers.ClipOut,
    "publish_transcript": answers.ClipOut,
    "add_summary": answers.ClipOut,
    "public_clips": answers.ClipListOut,
    "add_template": answers.TemplateOut,
    "list_templates": answers.TemplateListOut,
    "archive_template": answers.TemplateOut,
    "forum_feedback": answers.FeedbackPackOut,
    "forum_agenda": answers.AgendaOut,
    "import_minutes": answers.MinutesOut,
    "get_item_history": answers.HistoryOut,
    "verify_audit_chain": answers.AuditVerifyOut,
    "list_audited_reads": answers.ReadsOut,
    "forget_contributor": answers.ForgetOut,
    "create_gap_box": answers.GapBoxOut,
    "get_public_gap_box": answers.PublicGapBoxOut,
    "suggest_in_gap_box": answers.SuggestionOut,
    "get_gap_box_results": answers.GapBoxResultsOut,
    "check_wording": answers.WordingOut,
    "get_board": answers.BoardOut,
    "get_metrics": answers.MetricsOut,
    "open311_discovery_json": answers.Open311DiscoveryOut,
}
#: operation id -> the model of each element of its JSON array answer
LIST_ANSWERS: dict[str, type[BaseModel]] = {
    "open311_services_json": answers.Open311ServiceOut,
    "open311_requests_json": answers.Open311RequestOut,
    "open311_request_json": answers.Open311RequestOut,
}

_TEXT = {"schema": {"type": "string"}}
_BINARY = {"schema": {"type": "string", "format": "binary"}}
#: operation id -> the media types of its success answer, where it is not (only) JSON
MEDIA_TYPES: dict[str, dict[str, Any]] = {
    "export_items_csv": {"text/csv": _TEXT},
    "get_board_feed": {"application/atom+xml": _TEXT},
    "play_clip": {"audio/*": _BINARY, "video/*": _BINARY},
    "public_media": {"audio/*": _BINARY, "video/*": _BINARY},
    "forum_feedback": {"text/html": _TEXT},  # with format=html; JSON otherwise
    "forum_agenda": {"text/html": _TEXT},
}

_HEADER_TEXT = {"type": "string"}
_POSITION = {
    "description": "The event log position of this write; pass it as ?min_position= to reads.",
    "schema": {"type": "integer", "minimum": 0},
}
_ETAG = {"description": "The answer's entity tag, for If-None-Match.", "schema": _HEADER_TEXT}
_ITEM_ETAG = {"description": "The item's version, for If-Match.", "schema": _HEADER_TEXT}
_LAST_MODIFIED = {
    "description": "When the feed last changed (an HTTP date).",
    "schema": _HEADER_TEXT,
}
_LOCATION = {"description": "Where the new resource lives.", "schema": _HEADER_TEXT}
_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0},
}
#: operation ids answered with ETag and a 304 to a matching If-None-Match
CONDITIONAL = {
    "get_board",
    "get_metrics",
    "get_board_feed",
    *(
        f"open311_{name}_{fmt}"
        for name in ("discovery", "services", "requests", "request")
        for fmt in ("json", "xml")
    ),
}
#: the operation ids of GeoReport v2, whose refusals are in its own error format
OPEN311 = "open311_"
#: operation ids whose answer carries the item's (or clip's) version as ETag
VERSIONED = {op for op, model in ANSWERS.items() if model is answers.ItemOut} | {
    "get_clip",
    "upload_clip",
    "record_consent",
    "add_transcript",
    "publish_transcript",
    "add_summary",
}
#: operation ids whose 201 names the new resource in Location
LOCATED = {"raise_item", "upload_clip", "add_template"}
#: operation ids that refuse a body of another kind with 415
UPLOADS = {"import_minutes", "upload_clip"}

#: what ``If-Match`` and ``Idempotency-Key`` accept (``deps.expected_version``,
#: ``deps.idempotency_key``), so generated requests within them are not refused
_IF_MATCH = {
    "type": "string",
    "pattern": r'^(\*|(W/)?"?[0-9]{1,12}"?)$',
    "maxLength": 16,
    "description": 'The item version you saw (3, "3" or W/"3"); 409 if it has moved on.',
}
_IDEMPOTENCY_KEY = {
    "type": "string",
    "pattern": r"^[!-~]([ -~]{0,253}[!-~])?$",
    "minLength": 1,
    "maxLength": 255,
    "description": "Repeat a creation safely: the same key gives the first answer again.",
}
_HEADER_LIMITS = {"if-match": _IF_MATCH, "idempotency-key": _IDEMPOTENCY_KEY}
#: query parameters read by the handler itself, and what it accepts
_QUERY_FORMATS = {
    "as_of": {"type": "string", "format": "date-time", "description": "an ISO 8601 instant"},
}


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: short ids from the handlers' names."""
    return RENAMED.get(route.name, route.name)


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json``) return the finished document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def finish(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    components["securitySchemes"] = {
        SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A yswd API token: `Authorization: Bearer <token>`.",
        }
    }
    models: list[type[BaseModel]] = [
        *dict.fromkeys([*ANSWERS.values(), *LIST_ANSWERS.values()]),
        ErrorOut,
        answers.Open311ErrorOut,
    ]
    _, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template=_REF
    )
    found = components.setdefault("schemas", {})
    for name, schema in definitions.get("$defs", {}).items():
        found.setdefault(name, schema)
    seen: set[str] = set()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _unique_id(operation, path, seen)
            _finish_operation(operation, method)
            _name_the_answer(operation, found)
    for operations in document.get("paths", {}).values():
        if "get" in operations and "head" not in operations:
            operations["head"] = head_of(operations["get"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in found and f'/{unused}"' not in json.dumps(document["paths"]):
            del found[unused]
    return document


def head_of(get: dict[str, Any]) -> dict[str, Any]:
    """``HEAD`` as the server answers it wherever ``GET`` works (``methods.HeadAsGet``):
    the same parameters, statuses and headers, and no body."""
    head = copy.deepcopy(get)
    head["operationId"] = f"{get['operationId']}_head"
    head["summary"] = f"{get.get('summary', get['operationId'])} (headers only)"
    head.pop("description", None)
    for answer in head.get("responses", {}).values():
        answer.pop("content", None)
    return head


def _unique_id(operation: dict[str, Any], path: str, seen: set[str]) -> None:
    wanted = operation["operationId"]
    if wanted in seen:
        prefix = path.strip("/").split("/", 1)[0].replace("-", "_")
        wanted = f"{prefix}_{wanted}"
        number = 2
        while wanted in seen:
            wanted = f"{prefix}_{operation['operationId']}_{number}"
            number += 1
        operation["operationId"] = wanted
    seen.add(wanted)


def _finish_operation(operation: dict[str, Any], method: str) -> None:
    op = operation["operationId"]
    parameters = operation.get("parameters", [])
    secured = any(p["in"] == "header" and p["name"] == "authorization" for p in parameters)
    kept = []
    for parameter in parameters:
        name = parameter["name"].lower()
        if parameter["in"] == "header" and name == "authorization":
            continue
        if parameter["in"] == "header" and name in _HEADER_LIMITS:
            parameter["schema"] = dict(_HEADER_LIMITS[name])
        if parameter["in"] == "query" and name in _QUERY_FORMATS:
            parameter["schema"] = dict(_QUERY_FORMATS[name])
        kept.append(parameter)
    if parameters:
        operation["parameters"] = kept
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if secured:
        operation["security"] = [{SCHEME: []}]
    else:
        operation["security"] = []
        responses.pop("401", None)
        responses.pop("403", None)
    success = next((code for code in ("200", "201", "202") if code in responses), None)
    page_like = False
    if success is not None:
        answer = responses[success]
        content = answer.setdefault("content", {})
        if op in ANSWERS:
            content["application/json"] = {"schema": _ref(ANSWERS[op])}
        if op in LIST_ANSWERS:
            content["application/json"] = {
                "schema": {"type": "array", "items": _ref(LIST_ANSWERS[op])}
            }
        if op in MEDIA_TYPES:
            if op not in ANSWERS:
                content.pop("application/json", None)
            content.update(MEDIA_TYPES[op])
        # pages and feeds answer an unknown id (or a bad form) with a page
        page_like = "application/json" not in content and bool(
            {"text/html", "application/atom+xml"} & set(content)
        )
        headers = answer.setdefault("headers", {})
        if method == "post":
            headers["X-Yswd-Position"] = _POSITION
        if op in CONDITIONAL:
            headers["ETag"] = _ETAG
        if op in VERSIONED:
            headers["ETag"] = _ITEM_ETAG
        if op == "get_board_feed":
            headers["Last-Modified"] = _LAST_MODIFIED
        if op in LOCATED:
            headers["Location"] = _LOCATION
        if not headers:
            del answer["headers"]
    if op in CONDITIONAL:
        responses["304"] = {"description": "Not modified: your copy (If-None-Match) is current."}
    if page_like and method == "post":
        # a form posted without its form token (or a stale one) is refused with a page
        responses["403"] = {
            "description": "The form's token is missing or stale.",
            "content": {"text/html": _TEXT},
        }
    if op in UPLOADS:
        responses["415"] = _error("The body is not of a kind this accepts.")
    for code, answer in responses.items():
        if code in ("429", "503"):
            answer.setdefault("headers", {})["Retry-After"] = _RETRY_AFTER
        if code.startswith(("4", "5")):
            answer["content"] = {"application/json": {"schema": _ref(ErrorOut)}}
            if page_like and code in ("403", "404", "422"):
                # a page (a bad query parameter is still refused in JSON)
                answer["content"] = {"text/html": _TEXT, **answer["content"]}
            if op.startswith(OPEN311):
                answer["content"] = _open311_errors(op)


def _open311_errors(op: str) -> dict[str, Any]:
    """GeoReport v2's refusals: ``[{"code", "description"}]``, or ``<errors>`` in XML."""
    if op.endswith("_xml"):
        return {"text/xml": _TEXT}
    errors = {"type": "array", "items": _ref(answers.Open311ErrorOut), "minItems": 1}
    return {"application/json": {"schema": errors}}


def _name_the_answer(operation: dict[str, Any], found: dict[str, Any]) -> None:
    """A JSON answer no model describes yet still gets a named component (an open
    object), so generated clients get a class for it and later models can refine it."""
    for code, answer in operation.get("responses", {}).items():
        if not code.startswith("2"):
            continue
        media = answer.get("content", {}).get("application/json")
        schema = media.get("schema", {}) if media is not None else {}
        if media is None or "$ref" in schema or "$ref" in schema.get("items", {}):
            continue
        name = "".join(part.title() for part in operation["operationId"].split("_")) + "Out"
        schema = {k: v for k, v in schema.items() if k != "title"}
        found.setdefault(name, {"title": name, **(schema or {"type": "object"})})
        media["schema"] = {"$ref": _REF.format(model=name)}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref(ErrorOut)}},
    }
