"""The public side: boards and metrics as JSON, and the pages, feed and poster built on them.

No token is needed here and nothing personal is shown: items leave the read
model through ``public_view`` only, and only once a moderator has published them.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from yswd.adapters.container import Container
from yswd.adapters.http.api.public_figures import metrics_page_figures
from yswd.adapters.http.deps import ContainerDep, encoded_json
from yswd.adapters.http.etags import conditional
from yswd.adapters.http.labels import PUBLIC_STATUS_LABELS
from yswd.adapters.http.poster import (
    SIZES,
    PosterFit,
    fit,
    qr_svg,
)
from yswd.adapters.http.public_urls import board_feed_id, public_base, public_link
from yswd.adapters.http.request_bodies import IsoDate
from yswd.adapters.http.templating import templates, uk_date
from yswd.aggregates.errors import NotFound
from yswd.aggregates.organisation import Unit
from yswd.projections.gap_box_list import open_gap_boxes
from yswd.projections.item_places import has_child_units, item_units
from yswd.projections.organisation import unit_tree
from yswd.projections.public_board import STATUSES, BoardPage, PublicBoardQueries
from yswd.projections.public_figures import public_metrics
from yswd.projections.response_times import MetricsQueries
from yswd.projections.staff_directory import list_forums

router = APIRouter(tags=["public"])

STATUS_PATTERN = "^(" + "|".join(STATUSES) + ")$"
#: the most outcomes a poster considers; what fits of them is printed
POSTER_CANDIDATES = 12
POSTER_OUTCOMES = ("done", "couldnt_do", "responded")
#: the most forums and gap boxes a poster's "How to tell us" names
POSTER_FORUMS = 2
POSTER_GAP_BOXES = 1
FEED_ITEMS = 50

Page = Annotated[int, Query(ge=1, le=100_000, description="page number, from 1")]
Limit = Annotated[int, Query(ge=1, le=100, description="items per page")]
StatusFilter = Annotated[str | None, Query(pattern=STATUS_PATTERN)]
ThemeFilter = Annotated[str | None, Query(min_length=1, max_length=100)]
MinPosition = Annotated[
    int | None,
    Query(ge=0, description="wait (up to 5 s) until read models include this log position"),
]
# strict YYYY-MM-DD: a bare number (``?to=0``) is refused, not read as 1970-01-01
FromDate = Annotated[IsoDate | None, Query(alias="from", description="raised on or after")]
ToDate = Annotated[IsoDate | None, Query(alias="to", description="raised on or before")]


def _board(container: Container, unit_id: str, **kwargs: Any) -> BoardPage:
    return PublicBoardQueries(container.engine, container.unit_path).board(unit_id, **kwargs)


# -- JSON -------------------------------------------------------------------------


@router.get("/public/api/v1/boards/{unit_id}", response_model=dict[str, Any])
def board_json(
    unit_id: str,
    request: Request,
    container: ContainerDep,
    page: Page = 1,
    limit: Limit = 20,
    status: StatusFilter = None,
    theme: ThemeFilter = None,
    min_position: MinPosition = None,
) -> Response:
    """Published items of the unit and its descendants, newest activity first."""
    container.wait_for_position(min_position)
    unit = container.app.unit(unit_id)

    def answer() -> dict[str, Any]:
        board = _board(
            container,
            unit_id,
            statuses=(status,) if status else (),
            theme=theme,
            limit=limit,
            offset=(page - 1) * limit,
        )
        return {
            "unit": {"id": unit_id, "name": unit.name},
            "counts": board.counts,
            "items": board.items,
            "page": page,
            "limit": limit,
            "total": board.total,
        }

    # kept, encoded, until an item changes: every visitor of a board asks the same question
    key = ("board", unit_id, page, limit, status, theme)
    body = container.runner.answers.get(key, lambda: orjson.dumps(answer()), unit_id=unit_id)
    return conditional(request, encoded_json(body))


@router.get("/public/api/v1/metrics", response_model=dict[str, Any])
def metrics_json(
    request: Request,
    container: ContainerDep,
    unit_id: str | None = None,
    from_: FromDate = None,
    to: ToDate = None,
    min_position: MinPosition = None,
) -> Response:
    """Response-time figures over published items raised in the window (inclusive)."""
    container.wait_for_position(min_position)
    if unit_id is not None:
        container.app.unit(unit_id)
    today = container.today()

    def answer() -> bytes:
        rows = MetricsQueries(container.engine, container.unit_path).rows(unit_id, from_, to)
        # small numbers withheld (YSWD_SMALL_NUMBER_THRESHOLD), named in "suppressed"
        return orjson.dumps(public_metrics(rows, today, container.settings.small_number_threshold))

    key = ("metrics", unit_id, from_, to, today)
    body = container.runner.answers.get(key, answer, unit_id=unit_id)
    return conditional(request, encoded_json(body))


# -- pages ------------------------------------------------------------------------


def long_date(value: str | date | None) -> str:
    """'2026-11-02' or an instant → '2 November 2026'."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
    return uk_date(value)  # in the page's language: "2 Tachwedd 2026" on a Welsh page


def _render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    context = {
        "status_labels": PUBLIC_STATUS_LABELS,
        "long_date": long_date,
        **context,
    }
    return templates().TemplateResponse(request, name, context, status_code=status_code)


def _not_found(request: Request, unit_id: str) -> HTMLResponse:
    return _render(request, "public/not_found.html", {"unit_id": unit_id}, status_code=404)


def _unit_or_none(container: Container, unit_id: str) -> Unit | None:
    try:
        return container.app.unit(unit_id)
    except NotFound:
        return None


def _trail(container: Container, unit: Unit) -> list[dict[str, str]]:
    return [{"id": part, "name": container.app.unit(part).name} for part in unit.path[:-1]]


@router.get("/public", response_class=HTMLResponse)
def index_page(request: Request, container: ContainerDep) -> HTMLResponse:
    """Every part of the organisation, as a tree of links to boards and figures."""
    return _render(
        request,
        "public/index.html",
        {
            "tree": unit_tree(container.engine),
            "gap_boxes": open_gap_boxes(container.engine, container.today()),
        },
    )


@router.get("/public/boards/{unit_id}", response_class=HTMLResponse)
def board_page(
    unit_id: str,
    request: Request,
    container: ContainerDep,
    page: Page = 1,
    limit: Limit = 20,
    status: Annotated[str | None, Query(max_length=20)] = None,
    theme: Annotated[str | None, Query(max_length=100)] = None,
    min_position: MinPosition = None,
) -> HTMLResponse:
    container.wait_for_position(min_position)
    unit = _unit_or_none(container, unit_id)
    if unit is None:
        return _not_found(request, unit_id)
    # the filter form sends empty values for "all"; unknown values are ignored
    status = status if status in STATUSES else None
    theme = theme or None
    board = _board(
        container,
        unit_id,
        with_themes=True,
        statuses=(status,) if status else (),
        theme=theme,
        limit=limit,
        offset=(page - 1) * limit,
    )
    pages = max(1, math.ceil(board.total / limit))
    area = has_child_units(container.engine, unit_id)

    def page_url(number: int) -> str:
        query = {"status": status, "theme": theme, "page": number}
        if limit != 20:
            query["limit"] = limit
        return f"/public/boards/{unit_id}?" + urlencode(
            {k: v for k, v in query.items() if v is not None}
        )

    return _render(
        request,
        "public/board.html",
        {
            "unit": {"id": unit_id, "name": unit.name},
            "trail": _trail(container, unit),
            "board": board,
            "status": status,
            "theme": theme,
            "page": page,
            "pages": pages,
            "previous_url": page_url(page - 1) if page > 1 else None,
            "next_url": page_url(page + 1) if page < pages else None,
            "statuses": STATUSES,
            # an area's board mixes wards: each card names its own
            "places": item_units(container.engine, (i["id"] for i in board.items)) if area else {},
            "gap_boxes": open_gap_boxes(container.engine, container.today(), near=unit.path),
        },
    )


def _date_or_error(text: str | None, label: str) -> tuple[date | None, str | None]:
    if not text:
        return None, None
    try:
        return date.fromisoformat(text), None
    except ValueError:
        return None, f"Enter the {label} date as year-month-day, for example 2026-01-31."


@router.get("/public/metrics/{unit_id}", response_class=HTMLResponse)
def metrics_page(
    unit_id: str,
    request: Request,
    container: ContainerDep,
    from_: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    to: Annotated[str | None, Query(max_length=40)] = None,
    min_position: MinPosition = None,
) -> HTMLResponse:
    container.wait_for_position(min_position)
    unit = _unit_or_none(container, unit_id)
    if unit is None:
        return _not_found(request, unit_id)
    from_date, from_error = _date_or_error(from_, "from")
    to_date, to_error = _date_or_error(to, "up to")
    shown, counts = metrics_page_figures(container, unit_id, from_date, to_date)
    breakdown = [
        {"status": name, "label": PUBLIC_STATUS_LABELS[name], "count": counts[name]}
        for name in STATUSES
    ]
    error = from_error or to_error
    return _render(
        request,
        "public/metrics.html",
        {
            "unit": {"id": unit_id, "name": unit.name},
            "trail": _trail(container, unit),
            **shown,
            "breakdown": breakdown,
            "largest": max((count or 0 for count in counts.values()), default=0),
            "from_date": from_date,
            "to_date": to_date,
            "from_text": from_ or "",
            "to_text": to or "",
            "error": error,
            "target_days": container.settings.target_days,
        },
        status_code=422 if error else 200,
    )


@router.get("/public/boards/{unit_id}/feed.atom")
def board_feed(unit_id: str, request: Request, container: ContainerDep) -> Response:
    """The board's latest activity as an Atom feed."""
    unit = _unit_or_none(container, unit_id)
    if unit is None:
        return _not_found(request, unit_id)
    board = _board(container, unit_id, limit=FEED_ITEMS)
    settings = container.settings
    updated = board.items[0]["updated_at"] if board.items else "1970-01-01T00:00:00+00:00"
    response = templates().TemplateResponse(
        request,
        "public/feed.atom.xml",
        {
            "unit": {"id": unit_id, "name": unit.name},
            "items": board.items,
            "base": public_base(settings),  # never the request's Host
            "feed_id": board_feed_id(settings, unit_id),
            "updated": updated,
            "status_labels": PUBLIC_STATUS_LABELS,
        },
        media_type="application/atom+xml",
    )
    response.headers["content-type"] = "application/atom+xml; charset=utf-8"
    return conditional(request, response, last_modified=updated)


def _poster_entries(container: Container, unit: Unit, size_name: str) -> PosterFit:
    """The newest outcomes that fit the poster at this size, and how many are left over."""
    board = _board(container, unit.unit_id, statuses=POSTER_OUTCOMES, limit=POSTER_CANDIDATES)
    places = (
        item_units(container.engine, (item["id"] for item in board.items))
        if has_child_units(container.engine, unit.unit_id)
        else {}
    )
    names = {item_id: place["name"] for item_id, place in places.items()}
    return fit(board.items, SIZES[size_name], board.total, unit.name, names)


def _how_to_tell_us(container: Container, unit: Unit) -> dict[str, Any]:
    """The forums of the unit and of the units above it (nearest first), and its open boxes."""
    nearest = {unit_id: rank for rank, unit_id in enumerate(reversed(unit.path))}
    forums = sorted(
        (forum for forum in list_forums(container.engine) if forum["unit_id"] in nearest),
        key=lambda forum: (nearest[forum["unit_id"]], forum["name"]),
    )
    boxes = open_gap_boxes(container.engine, container.today(), near=unit.path)
    settings = container.settings
    return {
        "forums": forums[:POSTER_FORUMS],
        "gap_boxes": [
            {**box, "address": _printed(public_link(settings, f"/public/gap-boxes/{box['id']}"))}
            for box in boxes[:POSTER_GAP_BOXES]
        ],
    }


def _printed(address: str) -> str:
    """An address as a poster prints it: without ``https://``, which nobody types."""
    return address.removeprefix("https://")


@router.get("/public/boards/{unit_id}/poster", response_class=HTMLResponse)
def board_poster(
    unit_id: str,
    request: Request,
    container: ContainerDep,
    size: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """A printable poster of the latest outcomes, for a ward notice board: always one A4 page.

    ``?size=large`` is the large-print poster. The address printed on it, and in
    its QR code, is the short ``/b/{unit_id}`` under ``YSWD_PUBLIC_URL``; without
    a public URL there is no address to print, so there is no QR code either.
    """
    unit = _unit_or_none(container, unit_id)
    if unit is None:
        return _not_found(request, unit_id)
    size_name = size if size in SIZES else "normal"
    chosen = _poster_entries(container, unit, size_name)
    base = public_base(container.settings)
    short = f"{base}/b/{unit_id}" if base else None
    return _render(
        request,
        "public/poster.html",
        {
            "unit": {"id": unit_id, "name": unit.name},
            "size": size_name,
            "entries": chosen.entries,
            "more": chosen.more,
            "short_address": _printed(short) if short else None,
            "qr": Markup(qr_svg(short, f"QR code for {_printed(short)}")) if short else None,
            **_how_to_tell_us(container, unit),
            "today": container.today(),
        },
    )


@router.get("/b/{unit_id}", include_in_schema=False)
def short_board_address(unit_id: str, request: Request, container: ContainerDep) -> Response:
    """The short address a poster prints (and its QR code holds): on to the unit's board."""
    if _unit_or_none(container, unit_id) is None:
        return _not_found(request, unit_id)
    return RedirectResponse(f"/public/boards/{unit_id}", status_code=303)
