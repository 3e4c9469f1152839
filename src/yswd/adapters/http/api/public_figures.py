"""Public figures beyond the window's metrics: by month, by theme, involvement, self-assessments.

Every figure goes out with small numbers withheld (``projections.small_numbers``,
``YSWD_SMALL_NUMBER_THRESHOLD``) and names what it withheld in ``"suppressed"``.
The answers over items are kept, encoded, until an item changes, as the metrics are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from yswd.adapters.http.api.self_assessments import SelfAssessmentsOut
from yswd.adapters.http.deps import ContainerDep, encoded_json
from yswd.adapters.http.etags import conditional
from yswd.adapters.http.labels import channel_label
from yswd.adapters.http.schemas import IsoDate
from yswd.aggregates.self_assessment import LEVELS, STAGES
from yswd.bootstrap import Container
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


class MetricFigures(BaseModel):
    """The metrics fields; ``None`` where there is nothing to measure or too few to show."""

    model_config = ConfigDict(extra="allow")

    items_raised: int | None
    open: int | None
    responded: int | None
    done: int | None
    couldnt_do: int | None
    median_days_to_first_response: float | None
    p90_days_to_first_response: float | None
    median_days_to_close: float | None
    responded_within_target_pct: float | None
    overdue: int | None
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


def _answer(
    request: Request,
    container: Container,
    key: tuple[Any, ...],
    window: tuple[str | None, date | None, date | None, int | None],
    figures: Callable[[list[MetricRow]], dict[str, Any]],
) -> Response:
    """``figures`` over the window's rows, kept encoded until an item changes."""
    unit_id, from_, to, min_position = window
    container.wait_for_position(min_position)
    if unit_id is not None:
        container.app.unit(unit_id)  # 404 for an unknown unit

    def compute() -> bytes:
        return orjson.dumps(figures(MetricsQueries(container.engine).rows(unit_id, from_, to)))

    body = container.runner.answers.get((*key, unit_id, from_, to), compute)
    return conditional(request, encoded_json(body))


@router.get("/public/api/v1/metrics/monthly", response_model=MonthlyMetricsOut)
def get_monthly_metrics(
    request: Request,
    container: ContainerDep,
    unit_id: str | None = None,
    from_: FromDate = None,
    to: ToDate = None,
    min_position: MinPosition = None,
) -> Response:
    """The metrics by month of ``raised_on``, small numbers withheld."""
    today = container.today()
    threshold = container.settings.small_number_threshold
    return _answer(
        request,
        container,
        ("metrics/monthly", today),
        (unit_id, from_, to, min_position),
        lambda rows: monthly_metrics(rows, today, threshold),
    )


@router.get("/public/api/v1/metrics/themes", response_model=ThemeMetricsOut)
def get_theme_metrics(
    request: Request,
    container: ContainerDep,
    unit_id: str | None = None,
    from_: FromDate = None,
    to: ToDate = None,
    min_position: MinPosition = None,
) -> Response:
    """The metrics by theme (outcome area), small numbers withheld."""
    today = container.today()
    threshold = container.settings.small_number_threshold
    return _answer(
        request,
        container,
        ("metrics/themes", today),
        (unit_id, from_, to, min_position),
        lambda rows: theme_metrics(rows, today, threshold),
    )


@router.get("/public/api/v1/involvement", response_model=InvolvementOut)
def get_involvement(
    request: Request,
    container: ContainerDep,
    unit_id: str | None = None,
    from_: FromDate = None,
    to: ToDate = None,
    min_position: MinPosition = None,
) -> Response:
    """Distinct voices, the top-5 share and the channel mix of the window's items."""
    threshold = container.settings.small_number_threshold
    return _answer(
        request,
        container,
        ("involvement",),
        (unit_id, from_, to, min_position),
        lambda rows: involvement(rows, container.voice_of, threshold),
    )


@router.get("/public/api/v1/units/{unit_id}/self-assessments", response_model=SelfAssessmentsOut)
def list_self_assessments(unit_id: str, container: ContainerDep) -> dict[str, Any]:
    """The unit's self-assessments against the eight stages, oldest first."""
    return {"assessments": container.self_assessments.for_unit(unit_id)}


def metrics_page_figures(
    container: Container, rows: list[MetricRow], unit_id: str
) -> dict[str, Any]:
    """What the unit's public metrics page shows beyond the key figures, small numbers withheld."""
    today = container.today()
    threshold = container.settings.small_number_threshold
    monthly = monthly_metrics(rows, today, threshold, held_back=True)
    return {
        "threshold": threshold,
        "figures": public_metrics(rows, today, threshold, held_back=True),
        "monthly": monthly["months"],
        "involvement": involvement(rows, container.voice_of, threshold, held_back=True),
        "by_theme": theme_metrics(rows, today, threshold, held_back=True)["themes"],
        "assessments": container.self_assessments.for_unit(unit_id),
        "stage_names": STAGES,
        "levels": LEVELS,
        "channel_label": channel_label,
    }


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
