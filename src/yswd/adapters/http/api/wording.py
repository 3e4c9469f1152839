"""The plain-English check on its own: warnings about a text before it is made public."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from yswd.adapters.crypto import ERASED
from yswd.adapters.http.deps import ContainerDep, PrincipalDep
from yswd.aggregates.plain_english import check_public_text, load_glossary

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
        contributor = item.contributor if item.contributor != ERASED else None
    warnings = check_public_text(
        body.field,
        body.text,
        contributor=contributor,
        glossary=load_glossary(container.settings.glossary_file),
        today=container.today(),
    )
    return {"warnings": [warning.as_dict() for warning in warnings]}
