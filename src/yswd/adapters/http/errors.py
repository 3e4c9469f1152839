"""Maps domain refusals to HTTP status codes, in this one place."""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from yswd.adapters.http.api.open311 import georeport_errors, is_georeport
from yswd.adapters.http.methods import allowed_methods
from yswd.aggregates.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)

log = logging.getLogger(__name__)

STATUS_FOR: tuple[tuple[type[DomainError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (RateLimited, 429),
    (InvalidInput, 422),
)


class ValidationIssue(BaseModel):
    """One reason a request was invalid: where (``loc``), what kind, and a message."""

    type: str
    loc: list[str | int]
    msg: str


class ErrorOut(BaseModel):
    """Every refusal: a message for people (or, for invalid input, one per problem), and
    the kind of error for programs. Some refusals add fields (a bulk command's
    per-item ``results``)."""

    model_config = ConfigDict(extra="allow", title="ErrorOut")

    detail: str | list[ValidationIssue]
    error: str | None = None


def _documented(statuses: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorOut, "description": text} for status, text in statuses.items()}


_REFUSALS = {
    400: "Malformed request.",
    404: "No such id.",
    409: "Not allowed from the current state, a version conflict, or an id already taken.",
    413: "Body too large.",
    422: "Invalid input; nothing was changed.",
    429: "Too many requests; see Retry-After.",
    503: "The database cannot be reached; see Retry-After.",
}
#: the refusals documented in OpenAPI for staff routes (the contract's status codes)
STAFF_ERRORS = _documented(
    {401: "Missing or bad token.", 403: "Role or scope does not allow it.", **_REFUSALS}
)
#: the refusals of public routes, which take no token
PUBLIC_ERRORS = _documented(_REFUSALS)


def status_for(error: DomainError) -> int:
    for error_type, status in STATUS_FOR:
        if isinstance(error, error_type):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PersistenceError)
    @app.exception_handler(DBAPIError)
    @app.exception_handler(SQLAlchemyTimeout)
    @app.exception_handler(DisconnectionError)
    async def store_unavailable(request: Request, error: Exception) -> Response:
        # IntegrityError is handled inside the application layer; reaching here
        # means the store could not be used at all: down or unreachable (an
        # outage), or every pooled connection busy past the wait (overload).
        # Only the error's type is logged: its text may quote the values sent.
        if isinstance(error, SQLAlchemyTimeout) or getattr(error, "overloaded", False):
            # every pooled connection was busy: the database is up, this process is
            # overloaded, and an operator must not go looking for a dead database
            log.warning("store busy: %s", type(error).__name__)
            message = "The service is very busy. Please try again in a moment."
            retry_after = "2"
        else:
            log.warning("store unavailable: %s", type(error).__name__)
            message = "The service cannot reach its database. Please try again shortly."
            retry_after = "5"
        return refusal(request, 503, message, headers={"Retry-After": retry_after})

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, error: DomainError) -> Response:
        status = status_for(error)
        headers: dict[str, str] = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.retry_after)
        return refusal(request, status, error.message, type(error).__name__, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        return refusal(request, 422, validation_details(error.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names only the first matching route's methods
            headers["Allow"] = allowed_methods(request.scope)
        return refusal(request, error.status_code, error.detail, headers=headers)


def refusal(
    request: Request,
    status: int,
    detail: str | list[dict[str, Any]],
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Every refusal's body: ``ErrorOut``, or GeoReport v2's errors under ``/open311/v2``."""
    path = request.scope["path"]
    if is_georeport(path):
        described = [detail] if isinstance(detail, str) else [_described(i) for i in detail]
        return georeport_errors(path, status, described, headers)
    body: dict[str, Any] = {"detail": detail}
    if error is not None:
        body["error"] = error
    return JSONResponse(body, status_code=status, headers=headers)


def _described(issue: dict[str, Any]) -> str:
    """One validation issue in words: ``page: Input should be greater than or equal to 1``."""
    where = [str(part) for part in issue["loc"] if part not in ("query", "path", "body")]
    return f"{'.'.join(where)}: {issue['msg']}" if where else str(issue["msg"])


def validation_details(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's error list, without echoing the input back.

    The input may be large, personal, or not representable in JSON at all (NaN,
    Infinity), which would turn a 422 into a 500.
    """
    details = []
    for entry in errors:
        detail: dict[str, Any] = {
            "type": str(entry.get("type", "invalid")),
            "loc": [part if isinstance(part, int) else str(part) for part in entry.get("loc", ())],
            "msg": str(entry.get("msg", "invalid value")),
        }
        details.append(detail)
    return details
