"""The request rules the OpenAPI document states agree with what the models accept.

A generated client (or schemathesis) trusts the document: a reason the pattern allows
must be one the model takes, and the stages it lists must be the guide's.
"""

from __future__ import annotations

import re
from typing import get_args

import pytest
from pydantic import ValidationError

from yswd.adapters.http.api.safeguarding import RevealIn
from yswd.adapters.http.api.self_assessments import SelfAssessmentIn, Stage
from yswd.aggregates.self_assessment import STAGES

REASON = "The advocate asked us to contact them about the follow-up."


@pytest.mark.parametrize(
    "reason",
    [
        REASON,
        "x" * 20,
        "  " + "x" * 20 + "\n",
        "a" + " " * 18 + "b",
        "x" * 19,
        "  " + "x" * 19 + "  ",
        " a" * 10,
        "\t" * 30,
        "x" * 19 + "\u200b",
    ],
)
def test_the_reveal_reasons_pattern_says_what_the_model_accepts(reason: str) -> None:
    schema = RevealIn.model_json_schema()["properties"]["reason"]
    assert schema["minLength"] == 20
    documented = re.match(schema["pattern"], reason) is not None
    try:
        RevealIn(reason=reason)
        accepted = True
    except ValidationError:
        accepted = False
    assert documented == accepted


def test_the_documented_stages_are_the_guides_eight() -> None:
    assert get_args(Stage) == tuple(STAGES)
    stages = SelfAssessmentIn.model_json_schema()["properties"]["stages"]
    assert stages["propertyNames"]["enum"] == list(STAGES)
    assert stages["minProperties"] == stages["maxProperties"] == len(STAGES)
    assert all(name in stages["description"] for name in STAGES.values())


def test_a_score_is_a_whole_number_from_1_to_5() -> None:
    every = {stage: 4 for stage in STAGES}
    assert SelfAssessmentIn(assessed_on="2026-10-01", stages={**every, "3": 5.0}).stages["3"] == 5
    for score in (0, 6, 2.5, "3", True, None):
        with pytest.raises(ValidationError):
            SelfAssessmentIn(assessed_on="2026-10-01", stages={**every, "3": score})
