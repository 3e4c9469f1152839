"""Theme vocabularies: the themes offered when logging an item, one list per region.

A region is a top-level unit; every unit under it offers the region's list. An
admin covering the region edits it. Until then it is the default: the My Shared
Pathway outcome areas and the common ward themes.
"""

from __future__ import annotations

from typing import Any

from yswd.aggregates.access import Action, Principal
from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import Forbidden, NotFound
from yswd.aggregates.theme_vocabulary import (
    DEFAULT_THEMES,
    ThemeVocabulary,
    theme_vocabulary_aggregate_id,
)
from yswd.application.service import Yswd
from yswd.application.unit_of_work import Written

BUSY = "This region's themes are changing too often; try again."


class Themes:
    """The theme vocabulary use cases."""

    def __init__(self, app: Yswd) -> None:
        self.app = app
        self.uow = app.uow

    def region_of(self, unit_id: str) -> str:
        return self.app.unit(unit_id).path[0]

    def for_unit(self, unit_id: str) -> dict[str, Any]:
        """The vocabulary a unit offers: its region's."""
        region_id = self.region_of(unit_id)
        vocabulary = self._vocabulary(region_id)
        return {
            "region_id": region_id,
            "themes": list(vocabulary.themes if vocabulary else DEFAULT_THEMES),
            "edited": vocabulary is not None,
        }

    def set_themes(
        self, actor: Principal, region_id: str, themes: list[str]
    ) -> Written[dict[str, Any]]:
        actor.require(Action.MANAGE_THEMES)
        region = self.app.unit(region_id)
        if len(region.path) != 1:
            raise NotFound(f"'{region_id}' is not a region (a unit with no parent).")
        if not actor.covers(region.path):
            raise Forbidden(f"Region '{region_id}' is outside your scope.")

        def attempt() -> list[Aggregate]:
            now = self.uow.clock()
            vocabulary = self._vocabulary(region_id)
            if vocabulary is None:
                return [ThemeVocabulary.start(region_id, themes, actor.user_id, now)]
            vocabulary.set_themes(themes, actor.user_id, now)
            return [vocabulary]

        position = self.uow.save_with_retries(f"Region '{region_id}'", attempt, busy=BUSY)
        return Written(self.for_unit(region_id), position)

    def _vocabulary(self, region_id: str) -> ThemeVocabulary | None:
        try:
            vocabulary: ThemeVocabulary = self.uow.get(theme_vocabulary_aggregate_id(region_id), "")
        except NotFound:
            return None
        return vocabulary
