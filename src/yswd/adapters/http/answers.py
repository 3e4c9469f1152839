"""What answers carry out: the JSON answers of the HTTP contract, as models.

These models describe the answers in the OpenAPI document (``yswd.adapters.http.
openapi``), so generated clients get named, typed classes; their class names are the
document's component names, a public contract, and must not change. They are never
used to filter or re-encode an answer: the routes send what they always sent, and
extra fields (added by later versions, or by a role) stay allowed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    """Base of the documented answers: any field beyond those listed is allowed."""

    model_config = ConfigDict(extra="allow")


Instant = datetime


class HealthOut(Answer):
    status: str


class StatusOut(Answer):
    projections: list[dict[str, Any]] | dict[str, Any]
    dead_letters: list[dict[str, Any]] | int


class UnitOut(Answer):
    id: str
    name: str
    parent_id: str | None


class ForumOut(Answer):
    id: str
    name: str
    unit_id: str
    kind: str
    contact_email: str | None = None


class UserOut(Answer):
    """A user; ``token`` only in the answer that made it."""

    id: str
    name: str
    role: str
    scopes: list[str]
    email: str | None = None
    token: str | None = None


class TokenOut(Answer):
    id: str
    token: str


class RevokedOut(Answer):
    id: str
    revoked: int | bool


class MeOut(Answer):
    id: str
    name: str
    role: str
    scopes: list[str]


class PlainEnglishWarning(Answer):
    kind: str


class ItemOut(Answer):
    """The staff view of an item (the contract's representation)."""

    id: str
    forum_id: str
    unit_id: str
    channel: str
    raised_on: date
    title: str
    you_said: str
    detail: str | None
    contributor: str | None
    #: someone is recorded as having raised it, held back from managers and moderators
    contributor_held: bool | None = None
    themes: list[str]
    status: str
    version: int
    published: bool
    referred_to: str | None
    due_on: date | None
    responses: list[dict[str, Any]]
    progress: list[dict[str, Any]]
    we_did: str | None
    because: str | None
    instead: str | None
    verified: bool
    created_at: Instant
    updated_at: Instant
    warnings: list[PlainEnglishWarning] | None = None


class ItemListOut(Answer):
    items: list[ItemOut]
    limit: int | None = None
    offset: int | None = None


class PublicResponseOut(Answer):
    response: str
    recorded_at: Instant


class BoardItemOut(Answer):
    """A published item as the public sees it: approved wording and outcomes only."""

    id: str
    title: str
    you_said: str
    status: str
    raised_on: date
    responses: list[PublicResponseOut]
    we_did: str | None
    because: str | None
    instead: str | None
    verified: bool
    updated_at: Instant
    themes: list[str] | None = None
    times_raised: int | None = None


class BoardUnitOut(Answer):
    id: str
    name: str


class BoardCountsOut(Answer):
    raised: int | None
    referred: int | None
    responded: int | None
    done: int | None
    couldnt_do: int | None


class BoardOut(Answer):
    unit: BoardUnitOut
    counts: BoardCountsOut
    items: list[BoardItemOut]
    page: int | None = None
    limit: int | None = None
    total: int | None = None


class MetricsOut(Answer):
    """Response-time figures; ``null`` where there is nothing to measure (or it is suppressed)."""

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
    suppressed: list[str] | None = None


class HistoryEventOut(Answer):
    version: int
    type: str
    recorded_at: Instant
    actor: str | None
    data: dict[str, Any]
    hash: str | None


class HistoryOut(Answer):
    """An item's events; ``damaged: true`` when some of them are missing from the store
    (``state`` is then the item as it stood before the first missing one)."""

    item_id: str
    as_of: Instant | None
    state: dict[str, Any] | None
    events: list[HistoryEventOut]
    damaged: bool | None = None


class AuditVerifyOut(Answer):
    ok: bool
    events_checked: int | None = None
    first_bad: Any = None


class ReadsOut(Answer):
    reads: list[dict[str, Any]]
    total: int | None = None
    limit: int | None = None
    offset: int | None = None


class ForgetOut(Answer):
    contributor_erased: bool | None = None
    items_affected: int | None = None


class GapBoxOut(Answer):
    id: str


class PublicGapBoxOut(Answer):
    id: str
    question: str
    open: bool


class ClipListOut(Answer):
    item_id: str
    clips: list[dict[str, Any]]


class ClipOut(Answer):
    id: str | None = None


class TemplateListOut(Answer):
    templates: list[dict[str, Any]] | None = None


class TemplateOut(Answer):
    id: str | None = None


class SimilarOut(Answer):
    item_id: str | None = None


class BulkOut(Answer):
    changed: bool
    results: list[dict[str, Any]] | dict[str, Any]


class FeedbackPackOut(Answer):
    items: list[dict[str, Any]] | None = None


class AgendaOut(Answer):
    forum_id: str | None = None


class MinutesOut(Answer):
    dry_run: bool | None = None


class WordingOut(Answer):
    warnings: list[PlainEnglishWarning] | None = None


class SuggestionOut(Answer):
    """The thanks for a suggestion; the item made from it is not shown."""


class GapBoxResultsOut(Answer):
    id: str | None = None


class ReadyOut(Answer):
    status: str
    checks: dict[str, Any] | list[Any] | None = None


class Open311EndpointOut(Answer):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Open311DiscoveryOut(Answer):
    """GeoReport v2 discovery: where the endpoint is and which formats it speaks."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[Open311EndpointOut]


class Open311ServiceOut(Answer):
    """A GeoReport v2 service: one of the channels through which people raise things."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class Open311RequestOut(Answer):
    """A GeoReport v2 service request: one published item, with no personal data."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str | None
    requested_datetime: Instant
    updated_datetime: Instant
    expected_datetime: Instant | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Open311ErrorOut(Answer):
    """One GeoReport v2 error: Open311 refusals are a list of these (``<errors>`` in XML)."""

    code: int
    description: str
