"""Conditional GETs for public answers that integrators poll: boards, feeds, metrics, Open311.

The entity tag is a digest of the exact bytes sent, so two replicas that hold the
same read models give the same tag, and any change of the answer (a new item, a
suppressed figure, another page) gives another. A matching ``If-None-Match`` is
answered ``304 Not Modified`` with no body; feeds also carry ``Last-Modified``
and honour ``If-Modified-Since`` when no ``If-None-Match`` was sent (RFC 9110,
13.2.2).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response

#: the headers of an answer that a 304 repeats (RFC 9110, 15.4.5)
_KEPT_ON_304 = ("cache-control", "content-location", "date", "etag", "expires", "vary")


def entity_tag(body: bytes) -> str:
    """A strong validator for ``body``: the same bytes always give the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _opaque(tag: str) -> str:
    """``W/"x"`` and ``"x"`` compare alike for GET (the weak comparison)."""
    return tag.strip().removeprefix("W/")


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` (a list of tags, or ``*``) names ``tag``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(_opaque(part) == _opaque(tag) for part in if_none_match.split(","))


def http_date(instant: str | datetime) -> str:
    """An ISO 8601 instant as an HTTP date (``Wed, 02 Dec 2026 09:30:00 GMT``)."""
    moment = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _not_modified_since(request: Request, last_modified: str) -> bool:
    raw = request.headers.get("if-modified-since")
    if not raw or "if-none-match" in request.headers:
        return False
    try:
        since = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored, as RFC 9110 asks
    if since.tzinfo is None:
        return False
    return parsedate_to_datetime(last_modified) <= since


def conditional(
    request: Request, response: Response, *, last_modified: str | datetime | None = None
) -> Response:
    """``response`` with its ``ETag`` (and ``Last-Modified``), or a 304 when the caller
    already holds it. Only 200 answers get validators; refusals pass through as they are."""
    if response.status_code != 200:
        return response
    tag = entity_tag(bytes(response.body))
    response.headers["ETag"] = tag
    modified = http_date(last_modified) if last_modified is not None else None
    if modified is not None:
        response.headers["Last-Modified"] = modified
    fresh = matches(request.headers.get("if-none-match"), tag) or (
        modified is not None and _not_modified_since(request, modified)
    )
    if not fresh:
        return response
    kept = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_ON_304}
    if modified is not None:
        kept["Last-Modified"] = modified
    return Response(status_code=304, headers=kept)
