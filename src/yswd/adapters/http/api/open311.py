"""Open311 GeoReport v2, read only: the public board for systems that speak the standard.

FixMyStreet and many councils' systems read GeoReport v2. Each resource has a
``.json`` and an ``.xml`` form with the same fields. The mapping is the
contract's: the item id is ``service_request_id``, the channel is the
``service_code``, the unit's name is ``agency_responsible``, the public you
said is the ``description``, and what came back (we did, because, or the
latest response) is ``status_notes``. Only published items in their public
view are served (``Open311Queries``); nothing personal, and no location (yswd
records none), so the geographic fields are empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from xml.etree import ElementTree

import orjson
from fastapi import APIRouter, Query, Request, Response

from yswd import __version__
from yswd.adapters.container import Container
from yswd.adapters.http.deps import ContainerDep
from yswd.adapters.http.etags import conditional
from yswd.adapters.http.labels import CHANNEL_LABELS
from yswd.aggregates.errors import InvalidInput, NotFound
from yswd.aggregates.item import Channel
from yswd.projections.open311 import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    Open311Queries,
    ServiceRequest,
)

router = APIRouter(tags=["open311"])

PREFIX = "/open311/v2"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
XML = "text/xml; charset=utf-8"
#: GeoReport's default and largest answer, and its longest date window
MAX_REQUESTS = 1000
MAX_WINDOW = timedelta(days=90)

#: the fields of a service and of a service request, in the specification's order
SERVICE_FIELDS = (
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
)
REQUEST_FIELDS = (
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
#: the fields of one GeoReport error
ERROR_FIELDS = ("code", "description")

JurisdictionId = Annotated[
    str | None,
    Query(max_length=64, description="a unit id: its items and its descendants' (all without)"),
]
ListParam = Annotated[str | None, Query(max_length=2000)]
DateParam = Annotated[
    str | None,
    Query(max_length=40, description="a date (YYYY-MM-DD) or W3C date and time with time zone"),
]
PageParam = Annotated[int, Query(ge=1, le=100_000, description="page number, from 1")]
PageSize = Annotated[int, Query(ge=1, le=MAX_REQUESTS, description="requests per page")]


# -- the fields ---------------------------------------------------------------------


def _instant(day: str | None) -> str | None:
    """A ``YYYY-MM-DD`` as GeoReport's date and time: that day's start, in UTC."""
    return f"{day}T00:00:00+00:00" if day else None


def _status_notes(public: dict[str, Any]) -> str | None:
    if public["status"] == "done" and public.get("we_did"):
        return str(public["we_did"])
    if public["status"] == "couldnt_do" and public.get("because"):
        return str(public["because"])
    responses = public.get("responses") or []
    return str(responses[-1]["response"]) if responses else None


def service_request(found: ServiceRequest) -> dict[str, Any]:
    public = found.public
    return {
        "service_request_id": public["id"],
        "status": "closed" if public["status"] in CLOSED_STATUSES else "open",
        "status_notes": _status_notes(public),
        "service_name": CHANNEL_LABELS[Channel(found.channel)],
        "service_code": found.channel,
        "description": public["you_said"],
        "agency_responsible": found.unit_name,
        "service_notice": None,
        "requested_datetime": _instant(public["raised_on"]),
        "updated_datetime": public["updated_at"],
        "expected_datetime": _instant(found.target_on),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def services() -> list[dict[str, Any]]:
    return [
        {
            "service_code": channel.value,
            "service_name": label,
            "description": f"What people raised through: {label.lower()}.",
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": "You Said, We Did",
        }
        for channel, label in CHANNEL_LABELS.items()
    ]


# -- the two forms ------------------------------------------------------------------


def _xml_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml(root: str, child: str, rows: Iterable[dict[str, Any]], fields: tuple[str, ...]) -> bytes:
    top = ElementTree.Element(root)
    for row in rows:
        element = ElementTree.SubElement(top, child)
        for field in fields:
            ElementTree.SubElement(element, field).text = _xml_text(row[field])
    return bytes(ElementTree.tostring(top, encoding="utf-8", xml_declaration=True))


def is_georeport(path: str) -> bool:
    return path.startswith(f"{PREFIX}/")


def georeport_errors(
    path: str, status: int, descriptions: Iterable[str], headers: dict[str, str] | None = None
) -> Response:
    """A refusal as GeoReport v2 clients read it: a list of ``code`` and ``description``.

    The list is JSON, or ``<errors><error>...`` for a path in the ``.xml`` form, so a
    client that asked for one form never has to parse the other.
    """
    rows = [{"code": status, "description": text} for text in descriptions]
    if path.endswith(".xml"):
        body, media_type = _xml("errors", "error", rows, ERROR_FIELDS), XML
    else:
        body, media_type = orjson.dumps(rows), "application/json"
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _answer(request: Request, body: bytes, media_type: str) -> Response:
    return conditional(request, Response(body, media_type=media_type))


def _list_answer(
    request: Request,
    fmt: str,
    root: str,
    child: str,
    rows: list[dict[str, Any]],
    fields: tuple[str, ...],
) -> Response:
    if fmt == "xml":
        return _answer(request, _xml(root, child, rows, fields), XML)
    return _answer(request, orjson.dumps(rows), "application/json")


# -- the filters ----------------------------------------------------------------------


def _names(raw: str | None, allowed: Iterable[str], what: str) -> tuple[str, ...]:
    """A comma-separated list, as GeoReport sends several values in one parameter."""
    if raw is None:
        return ()
    names = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = sorted(set(names) - set(allowed))
    if unknown or not names:
        choices = ", ".join(allowed)
        raise InvalidInput(f"{what} must be one or more of {choices}, separated by commas.")
    return names


def _day(raw: str | None, name: str) -> date | None:
    """``YYYY-MM-DD``, or a W3C date and time with its time zone (its UTC date)."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or len(text) < 16:
        raise InvalidInput(
            f"{name} must be a date (2026-11-02) or a date and time with its time zone "
            "(2026-11-02T09:30:00Z)."
        )
    return moment.astimezone(UTC).date()


def _window(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """GeoReport's window: the 90 days up to ``end`` (today without either end)."""
    if start is None and end is None:
        end = today
    if start is None:
        assert end is not None
        start = end - MAX_WINDOW
    if end is None:
        end = start + MAX_WINDOW
    if end < start:
        raise InvalidInput("end_date must not be before start_date.")
    if end - start > MAX_WINDOW:
        raise InvalidInput("start_date and end_date may be at most 90 days apart.")
    return start, end


def _jurisdiction(container: Container, unit_id: str | None) -> None:
    if unit_id is not None:
        container.app.unit(unit_id)  # unknown → 404


# -- the routes -----------------------------------------------------------------------


def _discovery(fmt: str) -> Callable[..., Response]:
    def discovery(request: Request, container: ContainerDep) -> Response:
        base = getattr(container.settings, "public_url", None) or ""
        endpoint = {
            "specification": SPECIFICATION,
            "url": f"{str(base).rstrip('/')}{PREFIX}",
            "changeset": __version__,
            "type": "production",
            "formats": ["application/json", "text/xml"],
        }
        body = {
            "changeset": __version__,
            "contact": "The service's You Said, We Did team.",
            "key_service": "No key is needed: this service is read only and public.",
            "endpoints": [endpoint],
        }
        if fmt == "json":
            return _answer(request, orjson.dumps(body), "application/json")
        top = ElementTree.Element("discovery")
        for field in ("changeset", "contact", "key_service"):
            ElementTree.SubElement(top, field).text = str(body[field])
        endpoints = ElementTree.SubElement(ElementTree.SubElement(top, "endpoints"), "endpoint")
        for field in ("specification", "url", "changeset", "type"):
            ElementTree.SubElement(endpoints, field).text = str(endpoint[field])
        formats = ElementTree.SubElement(endpoints, "formats")
        for media_type in endpoint["formats"]:
            ElementTree.SubElement(formats, "format").text = str(media_type)
        xml = bytes(ElementTree.tostring(top, encoding="utf-8", xml_declaration=True))
        return _answer(request, xml, XML)

    return discovery


def _services(fmt: str) -> Callable[..., Response]:
    def list_services(
        request: Request, container: ContainerDep, jurisdiction_id: JurisdictionId = None
    ) -> Response:
        _jurisdiction(container, jurisdiction_id)
        return _list_answer(request, fmt, "services", "service", services(), SERVICE_FIELDS)

    return list_services


def _requests(fmt: str) -> Callable[..., Response]:
    def list_requests(
        request: Request,
        container: ContainerDep,
        jurisdiction_id: JurisdictionId = None,
        service_request_id: ListParam = None,
        service_code: ListParam = None,
        status: ListParam = None,
        start_date: DateParam = None,
        end_date: DateParam = None,
        page: PageParam = 1,
        page_size: PageSize = MAX_REQUESTS,
    ) -> Response:
        _jurisdiction(container, jurisdiction_id)
        states = _names(status, ("open", "closed"), "status")
        statuses = tuple(
            s for state in states for s in (OPEN_STATUSES if state == "open" else CLOSED_STATUSES)
        )
        channels = _names(service_code, [c.value for c in Channel], "service_code")
        ids: tuple[str, ...] = ()
        if service_request_id is not None:
            ids = tuple(p.strip() for p in service_request_id.split(",") if p.strip())
        start, end = _day(start_date, "start_date"), _day(end_date, "end_date")
        if ids and start is None and end is None:
            window: tuple[date | None, date | None] = (None, None)  # ids need no window
        else:
            window = _window(start, end, container.today())
        queries = Open311Queries(container.engine, container.unit_path)
        wanted = queries.wanted(
            jurisdiction_id,
            statuses=statuses,
            channels=channels,
            ids=ids,
            raised_from=window[0],
            raised_to=window[1],
        )
        found = queries.requests(wanted, limit=page_size, offset=(page - 1) * page_size)
        rows = [service_request(r) for r in found.requests]
        response = _list_answer(request, fmt, "service_requests", "request", rows, REQUEST_FIELDS)
        if response.status_code == 200:
            response.headers["X-Total-Count"] = str(found.total)
        return response

    return list_requests


def _one_request(fmt: str) -> Callable[..., Response]:
    def get_request(
        request_id: str,
        request: Request,
        container: ContainerDep,
        jurisdiction_id: JurisdictionId = None,
    ) -> Response:
        _jurisdiction(container, jurisdiction_id)
        found = Open311Queries(container.engine, container.unit_path).request(request_id)
        if found is None:
            raise NotFound(f"No published service request {request_id!r}.")
        rows = [service_request(found)]
        return _list_answer(request, fmt, "service_requests", "request", rows, REQUEST_FIELDS)

    return get_request


def _register() -> None:
    for fmt in ("json", "xml"):
        media_type = "application/json" if fmt == "json" else "text/xml"
        for path, make, name, summary in (
            ("discovery", _discovery, "open311_discovery", "What this endpoint offers"),
            ("services", _services, "open311_services", "The channels, as services"),
            ("requests", _requests, "open311_requests", "Published items, as service requests"),
            ("requests/{request_id}", _one_request, "open311_request", "One published item"),
        ):
            router.add_api_route(
                f"{PREFIX}/{path}.{fmt}",
                make(fmt),
                methods=["GET"],
                name=f"{name}_{fmt}",
                summary=f"{summary} ({fmt.upper()})",
                response_class=Response,
                responses={200: {"content": {media_type: {}}, "description": "OK"}},
            )


_register()
