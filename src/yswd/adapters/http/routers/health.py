"""Liveness and staff status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from yswd.adapters.http.deps import ContainerDep, PrincipalDep

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(container: ContainerDep) -> JSONResponse:
    try:
        head = container.runner.head()
    except Exception as error:  # the store is unreachable: say so, do not crash
        return JSONResponse(
            {"status": "unavailable", "detail": str(error)[:200]},
            status_code=503,
            headers={"Retry-After": "5"},
        )
    return JSONResponse({"status": "ok", "log_position": head})


@router.get("/api/v1/status")
def status(container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Each read model's position and lag behind the event log."""
    return {"projections": container.runner.lag()}
