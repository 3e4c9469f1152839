"""Self-assessments of involvement in the commissioning cycle (admins and managers in scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictInt, field_validator

from yswd.adapters.http.deps import ContainerDep, PrincipalDep, mark_written
from yswd.adapters.http.schemas import Body, IsoDate, LongText
from yswd.aggregates.self_assessment import STAGES

router = APIRouter(prefix="/api/v1/units/{unit_id}/self-assessments", tags=["self-assessment"])

Score = Annotated[StrictInt, Field(ge=1, le=5)]


class SelfAssessmentIn(Body):
    assessed_on: IsoDate
    #: a score from 1 to 5 for each stage "1" to "8" of the commissioning cycle
    stages: dict[str, Score]
    notes: LongText | None = None  # type: ignore[valid-type]

    @field_validator("stages")
    @classmethod
    def _every_stage(cls, stages: dict[str, int]) -> dict[str, int]:
        if set(stages) != set(STAGES):
            raise ValueError('must score each stage "1" to "8", and nothing else')
        return stages


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
    unit_id: str,
    body: SelfAssessmentIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
) -> dict[str, object]:
    written = container.self_assessments.record(
        principal,
        unit_id,
        assessed_on=body.assessed_on,
        stages=body.stages,
        notes=body.notes,
    )
    mark_written(container, response, written)
    response.headers["Location"] = f"/public/api/v1/units/{unit_id}/self-assessments"
    return written.value
