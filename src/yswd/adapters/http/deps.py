"""Request-scoped helpers shared by the routers: the container, the caller, headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from yswd.adapters.container import Container
from yswd.aggregates.access import Principal
from yswd.aggregates.errors import InvalidInput, Unauthenticated
from yswd.aggregates.item import Item
from yswd.aggregates.item_views import item_view, shown_to
from yswd.application.service import Yswd
from yswd.application.unit_of_work import IdempotencyKey, Written
from yswd.application.users import hash_token

POSITION_HEADER = "X-Yswd-Position"
T = TypeVar("T")


# The cheap dependencies are ``async``: FastAPI runs a plain ``def`` dependency in the
# thread pool, one hop per dependency per request, which showed in B2's profile.


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """The caller. A token seen in the last seconds is answered from memory, on the
    event loop; otherwise the store is read in the thread pool."""
    container = await get_container(request)
    if authorization is None:
        raise Unauthenticated("Send 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Use 'Authorization: Bearer <token>'.")
    token_hash = hash_token(token.strip())
    principal = container.app.cached_principal(token_hash)
    if principal is None:
        principal = await run_in_threadpool(container.app.authenticate_hash, token_hash)
    request.state.principal = principal
    return principal


async def expected_version(if_match: Annotated[str | None, Header()] = None) -> int | None:
    """If-Match carries the item version the caller saw: 3, "3" or W/"3" (``*``: any)."""
    if if_match is None or if_match.strip() == "*":
        return None
    raw = if_match.strip().removeprefix("W/").strip('"')
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInput("If-Match must be the item's version, a whole number.")
    return int(raw)


async def idempotency_key(
    idempotency_key: Annotated[str | None, Header()] = None,
) -> str | None:
    if idempotency_key is None:
        return None
    if not 1 <= len(idempotency_key) <= 255:
        raise InvalidInput("Idempotency-Key must be 1 to 255 characters.")
    return idempotency_key


def keyed(key: str | None, request: Request, payload: BaseModel) -> IdempotencyKey | None:
    """Bind an Idempotency-Key to this exact request (method, path and body)."""
    if key is None:
        return None
    material = f"{request.method} {request.url.path}\n{payload.model_dump_json()}"
    return IdempotencyKey(key, hashlib.sha256(material.encode()).hexdigest())


def mark_written(container: Container, response: Response, written: Written[Any]) -> None:
    """Headers for a write: its log position; embedded read models apply it before the
    next read (``ReadYourWritesMiddleware``)."""
    if written.position is not None:
        response.headers[POSITION_HEADER] = str(written.position)
        container.note_write(written.position)
    if written.replayed:
        response.headers["Idempotent-Replayed"] = "true"


def encoded_json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def json_response(body: Any) -> Response:
    """``body`` encoded by orjson, skipping FastAPI's own encoding, which took about
    9 ms of a 12 ms staff list of 50 items (B4). Only for plain JSON values."""
    return encoded_json(orjson.dumps(body))


def written_json(response: Response, body: Any, status_code: int = 200) -> Response:
    """``body`` as orjson JSON with the headers a handler set on ``response`` (FastAPI
    drops them when a handler returns its own Response). Only for plain JSON values."""
    answer = Response(orjson.dumps(body), status_code=status_code, media_type="application/json")
    answer.headers.raw.extend(response.headers.raw)
    return answer


def item_response(
    response: Response, item: Item, principal: Principal | None = None
) -> dict[str, Any]:
    """The staff view of ``item``; with ``principal``, as that caller may see it
    (managers and moderators never see who raised it)."""
    response.headers["ETag"] = f'"{item.version}"'
    view = item_view(item)
    return view if principal is None else shown_to(principal, view)


ContainerDep = Annotated[Container, Depends(get_container)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ExpectedVersion = Annotated[int | None, Depends(expected_version)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]


@dataclass(frozen=True)
class StaffWrite:
    """A staff request that writes: who asks, and the answer that must carry where the
    write landed (``mark_written``), in one dependency instead of three."""

    container: Container
    principal: Principal
    response: Response

    @property
    def app(self) -> Yswd:
        return self.container.app

    def saved(self, written: Written[T]) -> T:
        """What was written, with the answer marked for read-your-writes."""
        mark_written(self.container, self.response, written)
        return written.value


async def staff_write(
    response: Response, container: ContainerDep, principal: PrincipalDep
) -> StaffWrite:
    return StaffWrite(container, principal, response)


StaffWriteDep = Annotated[StaffWrite, Depends(staff_write)]
