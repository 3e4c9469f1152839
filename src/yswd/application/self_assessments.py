"""Self-assessments: a unit scores its involvement at the eight stages of the commissioning cycle.

Admins and managers in scope record them; anyone may read a unit's list
(oldest first), which its public pages chart over time.
"""

from __future__ import annotations

from datetime import UTC, date
from typing import Any

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import InvalidInput, NotFound
from yswd.aggregates.self_assessment import (
    STAGES,
    SelfAssessments,
    self_assessments_aggregate_id,
)
from yswd.application.service import Yswd
from yswd.application.unit_of_work import Written

BUSY = "The self-assessments of this unit are changing too often; try again."


def assessment_view(entry: dict[str, Any]) -> dict[str, Any]:
    """One assessment as the API shows it: each stage with its guide's name and score."""
    return {
        "id": entry["id"],
        "unit_id": entry["unit_id"],
        "assessed_on": entry["assessed_on"].isoformat(),
        "stages": dict(entry["stages"]),
        "stage_names": dict(STAGES),
        "average": round(sum(entry["stages"].values()) / len(STAGES), 2),
        "notes": entry["notes"],
        "recorded_at": entry["recorded_at"].isoformat(),
    }


class SelfAssessmentRecords:
    """The self-assessment use cases."""

    def __init__(self, app: Yswd) -> None:
        self.app = app
        self.uow = app.uow

    def record(
        self,
        actor: Principal,
        unit_id: str,
        *,
        assessed_on: date,
        stages: dict[str, int],
        notes: str | None,
    ) -> Written[dict[str, Any]]:
        actor.require(Action.ASSESS_INVOLVEMENT)
        self.app.unit_in_scope(actor, unit_id)
        if assessed_on > self.uow.clock().astimezone(UTC).date():
            raise InvalidInput("An assessment cannot be dated after today.")
        assessment_id = self.uow.ids()
        records: list[SelfAssessments] = []

        def attempt() -> list[Aggregate]:
            now = self.uow.clock()
            record = self._record(unit_id) or SelfAssessments.start(unit_id, actor.user_id, now)
            record.assess(
                assessment_id,
                assessed_on=assessed_on,
                stages=stages,
                notes=notes,
                actor=actor.user_id,
                now=now,
            )
            records[:] = [record]
            return [record]

        position = self.uow.save_with_retries(f"Unit '{unit_id}'", attempt, busy=BUSY)
        return Written(assessment_view(records[0].assessments[-1]), position)

    def for_unit(self, unit_id: str) -> list[dict[str, Any]]:
        """The unit's assessments, oldest first (by date assessed, then as recorded)."""
        self.app.unit(unit_id)  # 404 for an unknown unit
        record = self._record(unit_id)
        if record is None:
            return []
        ordered = sorted(record.assessments, key=lambda entry: entry["assessed_on"])
        return [assessment_view(entry) for entry in ordered]

    def _record(self, unit_id: str) -> SelfAssessments | None:
        try:
            record: SelfAssessments = self.uow.get(self_assessments_aggregate_id(unit_id), "")
        except NotFound:
            return None
        return record
