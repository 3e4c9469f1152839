"""Theme vocabularies: the themes offered when logging an item, edited per region by an admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from yswd.adapters.http.deps import ContainerDep, PrincipalDep, mark_written
from yswd.adapters.http.request_bodies import Body, Theme
from yswd.aggregates.access import Action

router = APIRouter(tags=["themes"])


class ThemesIn(Body):
    themes: list[Theme] = Field(max_length=100)  # type: ignore[valid-type]


class ThemesOut(BaseModel):
    """The themes a unit offers: its region's list (``edited`` false: the default)."""

    region_id: str
    themes: list[str]
    edited: bool


@router.get("/api/v1/units/{unit_id}/themes", response_model=ThemesOut)
def get_unit_themes(
    unit_id: str, container: ContainerDep, principal: PrincipalDep
) -> dict[str, Any]:
    principal.require(Action.READ_ITEMS)
    return container.themes.for_unit(unit_id)


@router.put("/api/v1/regions/{region_id}/themes", response_model=ThemesOut)
def set_region_themes(
    region_id: str,
    body: ThemesIn,
    response: Response,
    container: ContainerDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    written = container.themes.set_themes(principal, region_id, list(body.themes))
    mark_written(container, response, written)
    return written.value
