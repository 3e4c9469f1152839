"""Request bodies of the HTTP contract. Validation happens here, at the edge."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


_ALLOWED = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
#: what ``text`` accepts, for the OpenAPI document: no control characters (tabs and
#: line breaks are fine) and at least one character that is not white space. The
#: validator below gives people a plain message; this tells programs in advance.
TEXT_PATTERN = rf"^{_ALLOWED}*[^\s\x85\x00-\x08\x0b\x0c\x0e-\x1f\x7f]{_ALLOWED}*$"


def text(max_length: int) -> object:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        AfterValidator(_no_control_characters),
        Field(json_schema_extra={"pattern": TEXT_PATTERN}),
    ]


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
Name = text(200)
Title = text(200)
LongText = text(4000)
Theme = text(60)


#: dates outside this window are typing mistakes, and would overflow date arithmetic
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)


def _iso_date_text(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    return value


def _plausible_date(value: date) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_text), AfterValidator(_plausible_date)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UnitIn(Body):
    id: Slug  # type: ignore[valid-type]
    name: Name  # type: ignore[valid-type]
    parent_id: Slug | None = None  # type: ignore[valid-type]


class ForumIn(Body):
    id: Slug  # type: ignore[valid-type]
    name: Name  # type: ignore[valid-type]
    unit_id: Slug  # type: ignore[valid-type]
    kind: ForumKind


class UserIn(Body):
    name: Name  # type: ignore[valid-type]
    role: Role
    scopes: list[Slug] = Field(default_factory=list, max_length=100)  # type: ignore[valid-type]


class ItemIn(Body):
    forum_id: Slug  # type: ignore[valid-type]
    channel: Channel
    raised_on: IsoDate
    title: Title  # type: ignore[valid-type]
    you_said: LongText  # type: ignore[valid-type]
    detail: LongText | None = None  # type: ignore[valid-type]
    contributor: Name | None = None  # type: ignore[valid-type]
    themes: list[Theme] = Field(default_factory=list, max_length=20)  # type: ignore[valid-type]


class PublishIn(Body):
    you_said: LongText | None = None  # type: ignore[valid-type]


class ReferIn(Body):
    """``to_unit_id`` as in the contract; ``to_forum_id`` (extra) may name a forum instead."""

    to_unit_id: Slug | None = None  # type: ignore[valid-type]
    to_forum_id: Slug | None = None  # type: ignore[valid-type]
    due_on: IsoDate | None = None
    note: LongText | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _needs_a_destination(self) -> ReferIn:
        if self.to_unit_id is None and self.to_forum_id is None:
            raise ValueError("send 'to_unit_id' or 'to_forum_id'")
        return self


class RespondIn(Body):
    response: LongText  # type: ignore[valid-type]


class CompleteIn(Body):
    we_did: LongText  # type: ignore[valid-type]


class DeclineIn(Body):
    because: LongText  # type: ignore[valid-type]
    instead: LongText | None = None  # type: ignore[valid-type]


class ProgressIn(Body):
    note: LongText  # type: ignore[valid-type]
    kind: Literal["progress", "lack_of_progress"] = "progress"


class RepeatOfIn(Body):
    item_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class VerifyIn(Body):
    confirmed: StrictBool
    note: LongText | None = None  # type: ignore[valid-type]


class ReopenIn(Body):
    reason: LongText  # type: ignore[valid-type]
