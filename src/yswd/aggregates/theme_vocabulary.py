"""A region's theme vocabulary: the themes offered when an item is logged.

It starts from the My Shared Pathway outcome areas (seed 002) and the themes
wards raise most, and an admin edits it per region (a top-level unit). Themes
stay free text: the vocabulary is what is offered, not what is allowed, so a
board can see which outcome areas people raise (``projections.public_figures``).
One aggregate per region (``themes:<region id>``); until a region's vocabulary
is first edited it is ``DEFAULT_THEMES``.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import InvalidInput

#: the My Shared Pathway outcome areas (seed 002), in its words
OUTCOME_AREAS = (
    "Mental health recovery",
    "Harm-related behaviours",
    "Problems with substance misuse",
    "Nature of future plans",
    "Physical health status",
    "Life skills",
)
#: what ward community meetings raise most
WARD_THEMES = (
    "Food",
    "Leave",
    "Activities",
    "Visiting",
    "Estates",
    "Laundry",
    "Staffing",
    "Communication",
)
DEFAULT_THEMES = (*OUTCOME_AREAS, *WARD_THEMES)
MAX_THEMES = 100
MAX_THEME_LENGTH = 60


def theme_vocabulary_aggregate_id(region_id: str) -> str:
    return f"themes:{region_id}"


def clean_themes(themes: list[str]) -> list[str]:
    """Trimmed, blank lines dropped, each theme once (the first spelling kept)."""
    seen: dict[str, str] = {}
    for theme in themes:
        theme = " ".join(theme.split())
        if theme and theme.casefold() not in seen:
            seen[theme.casefold()] = theme
    found = list(seen.values())
    if len(found) > MAX_THEMES:
        raise InvalidInput(f"A vocabulary has at most {MAX_THEMES} themes.")
    if any(len(theme) > MAX_THEME_LENGTH for theme in found):
        raise InvalidInput(f"A theme is at most {MAX_THEME_LENGTH} characters long.")
    return found


class ThemeVocabulary(Aggregate):
    """The themes one region offers when items are logged."""

    if TYPE_CHECKING:  # state is assigned by events, not a generated __init__
        region_id: str
        themes: list[str]

    class Started(Aggregate.Created):
        region_id: str
        themes: list[str]

        def apply(self, aggregate: ThemeVocabulary) -> None:
            aggregate.region_id = self.region_id
            aggregate.themes = list(self.themes)

    class ThemesSet(Aggregate.Event):
        themes: list[str]

        def apply(self, aggregate: ThemeVocabulary) -> None:
            aggregate.themes = list(self.themes)

    @classmethod
    def start(cls, region_id: str, themes: list[str], actor: str, now: datetime) -> ThemeVocabulary:
        return cls._create(
            cls.Started,
            id=theme_vocabulary_aggregate_id(region_id),
            region_id=region_id,
            themes=clean_themes(themes),
            actor=actor,
            timestamp=now,
        )

    def set_themes(self, themes: list[str], actor: str, now: datetime) -> None:
        """Replace the vocabulary (no event when nothing changes)."""
        cleaned = clean_themes(themes)
        if cleaned != self.themes:
            self._record(self.ThemesSet, actor, now, themes=cleaned)
