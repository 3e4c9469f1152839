"""A unit's self-assessment of involvement in the eight stages of the commissioning cycle.

Seed 004's Appendix I ("Involvement in the commissioning cycle assessment tool")
asks a board to score itself from 1 to 5 at each of the cycle's eight stages, and
to do it again over time. All of one unit's assessments live in one aggregate
(``selfassessments:<unit id>``), oldest first, so the public list is one read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import InvalidInput

#: the eight stages, numbered and named as in the guide's assessment tool (Appendix I)
STAGES: dict[str, str] = {
    "1": "Assessing needs",
    "2": "Review current service provision",
    "3": "Specify and agree quality outcomes",
    "4": "Design services and pathways",
    "5": "Contract with providers. Shape structure and supply",
    "6": "Manage demand and ensure appropriate access to care",
    "7": "Clinical decision making",
    "8": "Manage quality performance and outcomes",
}

#: the guide's five levels, shortened from its own words
LEVELS: dict[int, str] = {
    1: "Never involve service users and carers at this stage",
    2: "Have involved them at this stage; hard to measure how successful it was",
    3: "Significant progress in some areas; beginning to see the rewards",
    4: "Involve them at most stages; can evidence that it is working",
    5: "Involve them at every stage; huge benefits, with evidence",
}


def self_assessments_aggregate_id(unit_id: str) -> str:
    return f"selfassessments:{unit_id}"


class SelfAssessments(Aggregate):
    """Every self-assessment of one unit, in the order they were recorded."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        unit_id: str
        assessments: list[dict[str, Any]]

    class Started(Aggregate.Created):
        unit_id: str

        def apply(self, aggregate: SelfAssessments) -> None:
            aggregate.unit_id = self.unit_id
            aggregate.assessments = []

    class Assessed(Aggregate.Event):
        assessment_id: str
        assessed_on: date
        stages: dict[str, int]
        notes: str | None

        def apply(self, aggregate: SelfAssessments) -> None:
            aggregate.assessments.append(
                {
                    "id": self.assessment_id,
                    "unit_id": aggregate.unit_id,
                    "assessed_on": self.assessed_on,
                    "stages": dict(self.stages),
                    "notes": self.notes,
                    "recorded_at": self.timestamp,
                    "recorded_by": self.actor,
                }
            )

    @classmethod
    def start(cls, unit_id: str, actor: str, now: datetime) -> SelfAssessments:
        """An empty record for a unit (saved together with its first assessment)."""
        return cls._create(
            cls.Started,
            id=self_assessments_aggregate_id(unit_id),
            unit_id=unit_id,
            actor=actor,
            timestamp=now,
        )

    def assess(
        self,
        assessment_id: str,
        *,
        assessed_on: date,
        stages: dict[str, int],
        notes: str | None,
        actor: str,
        now: datetime,
    ) -> None:
        """Record one assessment: a score from 1 to 5 for each of the eight stages."""
        if set(stages) != set(STAGES) or not all(1 <= score <= 5 for score in stages.values()):
            raise InvalidInput("An assessment scores each of the eight stages from 1 to 5.")
        self._record(
            self.Assessed,
            actor,
            now,
            assessment_id=assessment_id,
            assessed_on=assessed_on,
            stages={number: stages[number] for number in STAGES},
            notes=notes,
        )
