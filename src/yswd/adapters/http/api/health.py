"""Liveness, readiness and staff status.

- ``/healthz`` is the liveness probe: 200 while this process can serve HTTP. It
  does not touch the database, so an outage of PostgreSQL does not make an
  orchestrator restart every replica (requests get 503 meanwhile).
- ``/readyz`` is the readiness probe: 200 when the database (and NATS, when
  ``YSWD_NATS_URL`` is set) can be reached, else 503 naming what is down. Its
  answer is cached for a moment, so probes and load balancers cost little.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import text

from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep, PrincipalDep
from yswd.adapters.persistence import database_deadline

router = APIRouter(tags=["operations"])

#: how long one readiness answer is reused
READY_CACHE_SECONDS = 1.5
#: how long each check may take
CHECK_TIMEOUT_SECONDS = 2.0
RETRY_AFTER = "5"


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    """The address ``serve`` prints: people arriving there want the public index."""
    return RedirectResponse("/public", status_code=303)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@dataclass
class Readiness:
    """The last readiness answer of one process, reused for a moment."""

    checked_at: float = -1e9
    checks: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def current(self, container: Container) -> dict[str, str]:
        with self.lock:
            if time.monotonic() - self.checked_at > READY_CACHE_SECONDS:
                self.checks = run_checks(container)
                self.checked_at = time.monotonic()
            return dict(self.checks)


def run_checks(container: Container) -> dict[str, str]:
    checks = {"database": check_database(container)}
    if container.settings.nats_url:
        checks["nats"] = check_nats(container.settings.nats_url)
    return checks


def check_database(container: Container) -> str:
    """Both ways the service uses the database: the event store and the read models."""
    try:
        with database_deadline(CHECK_TIMEOUT_SECONDS):
            container.runner.head()
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # any failure means: not ready
        return f"down: {type(error).__name__}"
    return "ok"


def check_nats(url: str) -> str:
    """A TCP connection to the NATS server and its INFO greeting."""
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 4222), timeout=CHECK_TIMEOUT_SECONDS
        ) as sock:
            sock.settimeout(CHECK_TIMEOUT_SECONDS)
            greeting = sock.recv(7)
    except OSError as error:
        return f"down: {type(error).__name__}"
    return "ok" if greeting.startswith(b"INFO") else "down: no INFO greeting"


@router.get("/readyz")
def readyz(request: Request, container: ContainerDep) -> JSONResponse:
    state = getattr(request.app.state, "readiness", None)
    if state is None:
        state = request.app.state.readiness = Readiness()
    checks = state.current(container)
    down = sorted(name for name, result in checks.items() if result != "ok")
    if down:
        return JSONResponse(
            {"status": "unavailable", "down": down, "checks": checks},
            status_code=503,
            headers={"Retry-After": RETRY_AFTER},
        )
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/api/v1/status")
def status(container: ContainerDep, principal: PrincipalDep) -> dict[str, Any]:
    """Each read model's position and lag behind the event log, and the open safeguarding
    flags past their acknowledgement time."""
    return {
        "projections": container.runner.lag(),
        "dead_letters": container.runner.dead_letters(),
        "safeguarding_ack_overdue": container.safeguarding_ack_overdue(),
    }
