"""Public figures beyond the window's metrics: by month, by theme, involvement, self-assessments.

Every figure goes out with small numbers withheld (``projections.small_numbers``,
``YSWD_SMALL_NUMBER_THRESHOLD``) and names what it withheld in ``"suppressed"``.
The answers over items are kept, encoded, until an item changes, as the metrics are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from yswd.adapters.container import Container
from yswd.adapters.http.answers import MetricsOut
from yswd.adapters.http.api.self_assessments import SelfAssessmentsOut
from yswd.adapters.http.deps import ContainerDep, encoded_json
from yswd.adapters.http.etags import conditional
from yswd.adapters.http.labels import channel_label
from yswd.adapters.http.request_bodies import IsoDate
from yswd.aggregates.self_assessment import LEVELS, STAGES
from yswd.projections.public_board import STATUSES
from yswd.projections.public_figures import (
    involvement,
    monthly_metrics,
    public_metrics,
    theme_metrics,
)
from yswd.projections.response_times import MetricRow, MetricsQueries
from yswd.projections.small_numbers import HELD_BACK, protect_partitions, small_counts

router = APIRouter(tags=["public"])

# the window, as ``public.py`` declares it: strict YYYY-MM-DD, named "from" and "to"
FromDate = Annotated[IsoDate | None, Query(alias="from", description="raised on or after")]
ToDate = Annotated[IsoDate | None, Query(alias="to", description="raised on or before")]


class MetricFigures(MetricsOut):
    """The metrics fields; ``None`` where there is nothing to measure or too few to show."""

    suppressed: list[str]


class MonthFigures(MetricFigures):
    month: str


class MonthlyMetricsOut(BaseModel):
    """The metrics of each month of ``raised_on``, oldest first."""

    months: list[MonthFigures]
    suppressed: list[str]


class ThemeFigures(MetricFigures):
    theme: str


class ThemeMetricsOut(BaseModel):
    """The metrics of each theme, most raised first (an item may have several themes)."""

    themes: list[ThemeFigures]
    suppressed: list[str]


class InvolvementOut(BaseModel):
    """Whether it is "not the same few people" (seed 004), with small numbers withheld."""

    items: int | None
    distinct_voices: int | None
    top5_share_pct: float | None
    channels: dict[str, int | None]
    suppressed: list[str]


MinPosition = Annotated[
    int | None,
    Query(ge=0, description="wait (up to 5 s) until read models include this log position"),
]


@dataclass(frozen=True)
class Window:
    """Which items a public figure counts: a unit (and those below it), ``raised_on``
    from and to, once the read models have the caller's last write."""

    unit_id: str | None
    from_: date | None
    to: date | None
    min_position: int | None


async def window(
    unit_id: str | None = None,
    from_: FromDate = None,
    to: ToDate = None,
    min_position: MinPosition = None,
) -> Window:
    return Window(unit_id, from_, to, min_position)


WindowDep = Annotated[Window, Depends(window)]


def _answer(
    request: Request,
    container: Container,
    key: tuple[Any, ...],
    window: Window,
    figures: Callable[[list[MetricRow]], dict[str, Any]],
) -> Response:
    """``figures`` over the window's rows, kept encoded until an item changes."""
    container.wait_for_position(window.min_position)
    unit_id, from_, to = window.unit_id, window.from_, window.to
    if unit_id is not None:
        container.app.unit(unit_id)  # 404 for an unknown unit

    def compute() -> bytes:
        return orjson.dumps(
            figures(MetricsQueries(container.engine, container.unit_path).rows(unit_id, from_, to))
        )

    body = container.runner.answers.get((*key, unit_id, from_, to), compute, unit_id=unit_id)
    return conditional(request, encoded_json(body))


def _metrics_split(
    request: Request,
    container: Container,
    window: Window,
    name: str,
    split: Callable[[list[MetricRow], date, int], dict[str, Any]],
) -> Response:
    """The metrics of the window split by ``split`` (by month, by theme), as of today."""
    today = container.today()
    threshold = container.settings.small_number_threshold
    key = (f"metrics/{name}", today)
    return _answer(request, container, key, window, lambda rows: split(rows, today, threshold))


@router.get("/public/api/v1/metrics/monthly", response_model=MonthlyMetricsOut)
def get_monthly_metrics(request: Request, container: ContainerDep, window: WindowDep) -> Response:
    """The metrics by month of ``raised_on``, small numbers withheld."""
    return _metrics_split(request, container, window, "monthly", monthly_metrics)


@router.get("/public/api/v1/metrics/themes", response_model=ThemeMetricsOut)
def get_theme_metrics(request: Request, container: ContainerDep, window: WindowDep) -> Response:
    """The metrics by theme (outcome area), small numbers withheld."""
    return _metrics_split(request, container, window, "themes", theme_metrics)


@router.get("/public/api/v1/involvement", response_model=InvolvementOut)
def get_involvement(request: Request, container: ContainerDep, window: WindowDep) -> Response:
    """Distinct voices, the top-5 share and the channel mix of the window's items."""
    threshold = container.settings.small_number_threshold

    def figures(rows: list[MetricRow]) -> dict[str, Any]:
        return involvement(rows, container.voice_of, threshold)

    return _answer(request, container, ("involvement",), window, figures)


@router.get("/public/api/v1/units/{unit_id}/self-assessments", response_model=SelfAssessmentsOut)
def list_self_assessments(unit_id: str, container: ContainerDep) -> dict[str, Any]:
    """The unit's self-assessments against the eight stages, oldest first."""
    return {"assessments": container.self_assessments.for_unit(unit_id)}


def metrics_page_figures(
    container: Container, unit_id: str, from_: date | None, to: date | None
) -> tuple[dict[str, Any], dict[str, int | None]]:
    """What the unit's public metrics page shows, small numbers withheld, and the count
    of items in each status (``status_counts``).

    The figures are kept encoded in the answer cache, like the JSON answers, until an
    item raised under the unit changes: the page computes every one of them (the
    window's, by month, by theme, involvement) over the window's rows, about 4 s of
    CPU for a region on the 1M-event bench store, and was computed at every visit.
    The unit's self-assessments (another read model) are read at every visit.
    """
    today = container.today()
    threshold = container.settings.small_number_threshold

    def compute() -> bytes:
        rows = MetricsQueries(container.engine, container.unit_path).rows(unit_id, from_, to)
        figures = public_metrics(rows, today, threshold, held_back=True)
        counts = status_counts(rows, figures, threshold)  # withholds more of ``figures``
        return orjson.dumps(
            {
                "threshold": threshold,
                "figures": figures,
                "monthly": monthly_metrics(rows, today, threshold, held_back=True)["months"],
                "involvement": involvement(rows, container.voice_of, threshold, held_back=True),
                "by_theme": theme_metrics(rows, today, threshold, held_back=True)["themes"],
                "counts": counts,
            }
        )

    key = ("metrics-page", unit_id, from_, to, today)
    shown = orjson.loads(container.runner.answers.get(key, compute, unit_id=unit_id))
    counts = shown.pop("counts")
    shown.update(
        assessments=container.self_assessments.for_unit(unit_id),
        stage_names=STAGES,
        levels=LEVELS,
        channel_label=channel_label,
    )
    return shown, counts


#: on the metrics page the five statuses add up to the items raised, and the first
#: three to those still open: protect both, and the key figures' own partition
PAGE_PARTITIONS = (
    ("items_raised", STATUSES),
    ("open", ("raised", "referred", "responded")),
    ("items_raised", ("open", "done", "couldnt_do")),
)


def status_counts(
    rows: list[MetricRow], figures: dict[str, Any], threshold: int
) -> dict[str, int | None]:
    """Items in each status, small numbers withheld across every partition the page shows.

    ``figures`` (the page's key figures) loses its ``items_raised`` and ``open`` too
    when they have to go, and its ``held_back`` names the statuses withheld only so
    that no other can be worked out.
    """
    values: dict[str, int] = {name: sum(row.status == name for row in rows) for name in STATUSES}
    values["open"] = values["raised"] + values["referred"] + values["responded"]
    values["items_raised"] = len(rows)
    hidden = small_counts(values, threshold)
    protect_partitions(values, PAGE_PARTITIONS, hidden, threshold)
    for name in ("items_raised", "open"):
        if name in hidden and figures.get(name) is not None:
            figures[name] = None
            figures["suppressed"].append(name)
    figures[HELD_BACK] = [
        *figures.get(HELD_BACK, []),
        *(f"status.{name}" for name in hidden if values[name] >= threshold),
    ]
    return {name: None if name in hidden else values[name] for name in STATUSES}
