"""Self-assessments of involvement in the commissioning cycle (admins and managers in scope)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, BeforeValidator, Field, StrictInt

from yswd.adapters.http.deps import StaffWriteDep
from yswd.adapters.http.request_bodies import Body, IsoDate, LongText
from yswd.aggregates.self_assessment import STAGES

router = APIRouter(prefix="/api/v1/units/{unit_id}/self-assessments", tags=["self-assessment"])


def _whole_number(value: object) -> object:
    """JSON does not tell 4 from 4.0 (nor does the document's ``integer``): both are 4."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: a whole number from 1 to 5; a string, a bool or 2.5 is refused
Score = Annotated[StrictInt, Field(ge=1, le=5), BeforeValidator(_whole_number)]
#: the commissioning cycle's stages, numbered as in the guide (``STAGES`` names them)
Stage = Literal["1", "2", "3", "4", "5", "6", "7", "8"]
#: one score for every stage, and nothing else: eight distinct stages make them all
StageScores = Annotated[
    dict[Stage, Score],
    Field(
        min_length=len(STAGES),
        max_length=len(STAGES),
        description="A score from 1 to 5 for each stage of the commissioning cycle: "
        + "; ".join(f"{number} {name}" for number, name in STAGES.items())
        + ".",
    ),
]


class SelfAssessmentIn(Body):
    assessed_on: IsoDate
    stages: StageScores
    notes: LongText | None = None  # type: ignore[valid-type]


class SelfAssessmentOut(BaseModel):
    """One assessment: each stage's score, the guide's stage names, and their average."""

    id: str
    unit_id: str
    assessed_on: str
    stages: dict[str, int]
    stage_names: dict[str, str]
    average: float
    notes: str | None
    recorded_at: str


class SelfAssessmentsOut(BaseModel):
    """A unit's assessments, oldest first."""

    assessments: list[SelfAssessmentOut]


@router.post("", status_code=201, response_model=SelfAssessmentOut)
def record_self_assessment(
    unit_id: str, body: SelfAssessmentIn, staff: StaffWriteDep
) -> dict[str, object]:
    written = staff.container.self_assessments.record(
        staff.principal,
        unit_id,
        assessed_on=body.assessed_on,
        stages={stage: score for stage, score in body.stages.items()},
        notes=body.notes,
    )
    staff.response.headers["Location"] = f"/public/api/v1/units/{unit_id}/self-assessments"
    return staff.saved(written)
