"""The audit functions of old, each handing over to ``container.audit``.

The audit use cases are the ``Audit`` service in ``yswd.application.audit``,
built once by the composition root. The staff pages and some tests still call
these functions with the whole container; remove this module once they call
``container.audit`` instead. ``ContributorErased`` moved with the service; its
stored topic stays ``yswd.audit:ContributorErased`` (``yswd.aggregates.topics``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from yswd.aggregates.access import Principal
from yswd.application.audit import ContributorErased as ContributorErased
from yswd.application.audit import parse_instant as parse_instant

if TYPE_CHECKING:
    from yswd.bootstrap import Container


def history(
    container: Container, actor: Principal, item_id: str, as_of: datetime | None = None
) -> dict[str, Any]:
    return container.audit.history(actor, item_id, as_of)


def reads(
    container: Container,
    actor: Principal,
    *,
    user_id: str | None = None,
    item_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    return container.audit.reads(
        actor, user_id=user_id, item_id=item_id, limit=limit, offset=offset
    )


def verify(container: Container, actor: Principal) -> dict[str, Any]:
    return container.audit.verify(actor)


def export(container: Container, actor: Principal) -> Iterator[dict[str, Any]]:
    return container.audit.export(actor)


def forget(container: Container, actor: Principal, contributor: str) -> dict[str, Any]:
    return container.audit.forget(actor, contributor)


def checkpoint(container: Container, actor: Principal, key: Ed25519PrivateKey) -> dict[str, Any]:
    return container.audit.checkpoint(actor, key)


def verify_against(
    container: Container,
    actor: Principal,
    saved: dict[str, Any],
    trusted_public_key: str | None = None,
) -> dict[str, Any]:
    return container.audit.verify_against(actor, saved, trusted_public_key)
