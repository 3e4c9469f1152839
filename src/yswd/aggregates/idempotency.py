"""Durable record of a create request's first answer, keyed by Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate


class IdempotentRequest(Aggregate):
    """Which resource a keyed request created, and a fingerprint of its body.

    It is saved atomically with the resource it created, so a retried request
    either finds it (and gets the first answer) or creates both.
    """

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        fingerprint: str
        resource_kind: str
        resource_id: str
        resource_version: int

    class Recorded(Aggregate.Created):
        fingerprint: str
        resource_kind: str
        resource_id: str
        resource_version: int

        def apply(self, aggregate: IdempotentRequest) -> None:
            aggregate.fingerprint = self.fingerprint
            aggregate.resource_kind = self.resource_kind
            aggregate.resource_id = self.resource_id
            aggregate.resource_version = self.resource_version

    @classmethod
    def record(
        cls,
        key_id: str,
        fingerprint: str,
        resource_kind: str,
        resource_id: str,
        resource_version: int,
        actor: str,
        now: datetime,
    ) -> IdempotentRequest:
        return cls._create(
            cls.Recorded,
            id=f"idem:{key_id}",
            fingerprint=fingerprint,
            resource_kind=resource_kind,
            resource_id=resource_id,
            resource_version=resource_version,
            actor=actor,
            timestamp=now,
        )
