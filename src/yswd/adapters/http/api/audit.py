"""Audit and privacy: item histories, hash-chain verification, erasure, audited reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from yswd.adapters.http.deps import ContainerDep, PrincipalDep
from yswd.application.audit import parse_instant

router = APIRouter(tags=["audit"])


class ForgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contributor: str = Field(min_length=1, max_length=200)


@router.get("/api/v1/items/{item_id}/history")
def item_history(
    item_id: str,
    container: ContainerDep,
    principal: PrincipalDep,
    as_of: Annotated[str | None, Query(description="an ISO 8601 instant")] = None,
) -> dict[str, Any]:
    """Every event of the item up to ``as_of`` (auditor, admin), and its state then."""
    return container.audit.history(principal, item_id, parse_instant(as_of))


@router.get("/api/v1/audit/verify")
def verify_chain(container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Recompute the hash chain over every stored event; name the first bad one."""
    return container.audit.verify(principal)


@router.get("/api/v1/audit/reads")
def recorded_reads(
    container: ContainerDep,
    principal: PrincipalDep,
    user_id: Annotated[str | None, Query(max_length=200, description="one reader")] = None,
    item_id: Annotated[str | None, Query(max_length=200, description="one item")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> dict[str, Any]:
    """Who read identifiable data (contributor, detail, history), when, and what."""
    return container.audit.reads(
        principal, user_id=user_id, item_id=item_id, limit=limit, offset=offset
    )


@router.post("/api/v1/contributors/forget")
def forget_contributor(
    body: ForgetIn, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Crypto-shred a contributor's name and private details (admin)."""
    return container.audit.forget(principal, body.contributor)
