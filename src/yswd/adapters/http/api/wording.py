"""The plain-English check on its own: warnings about a text before it is made public."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from yswd.adapters.http.deps import ContainerDep, PrincipalDep
from yswd.aggregates.erasure import ERASED
from yswd.aggregates.plain_english import check_public_text, load_glossary
from yswd.aggregates.possible_disclosure import disclosure_warnings, load_disclosure_terms

router = APIRouter(prefix="/api/v1/wording", tags=["wording"])


class WordingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=4000)
    field: str = Field(default="text", min_length=1, max_length=40, pattern=r"^[a-z_]+$")
    item_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="check against this item's contributor's name (the item must be in scope)",
    )


@router.post("/check")
def check_wording(
    body: WordingIn, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Warnings (reading ease, jargon, possible identifiers) about ``text``. Any staff role."""
    contributor = None
    if body.item_id is not None:
        item = container.app.get_item(principal, body.item_id)  # scope-checked, audited
        # also for managers and moderators: the check keeps the name out of public text,
        # and says only that text names the contributor, never who that is
        contributor = item.contributor if item.contributor != ERASED else None
    warnings = check_public_text(
        body.field,
        body.text,
        contributor=contributor,
        glossary=load_glossary(container.settings.glossary_file),
        today=container.today(),
    )
    terms = load_disclosure_terms(container.settings.disclosure_terms_file)
    warnings.extend(disclosure_warnings({body.field: body.text}, terms))
    return {"warnings": [warning.as_dict() for warning in warnings]}
