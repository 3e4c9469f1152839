"""What requests carry in: the JSON bodies of the HTTP contract and the text and date
rules their fields follow.

Bad input is refused here, at the edge, with a clear 422 naming the field, before
anything reaches the application layer, so a use case never sees a control
character, an empty title or a date in the year 20000. Each rule is written twice,
on purpose: a validator that gives people a plain message, and a pattern in the
OpenAPI document that tells programs in advance. Bodies ignore fields they do not
know, so clients written against a later version of the contract keep working.
"""

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
from yswd.aggregates.text_rules import CONTROL_CLASS, INVISIBLE_CLASS, refused_characters
from yswd.aggregates.users import Role
from yswd.application.items import MIN_REVEAL_REASON

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _no_control_characters(value: str) -> str:
    refused = refused_characters(value)
    if refused is not None:
        raise ValueError(f"must not contain {refused}")
    return value


_REFUSED = CONTROL_CLASS + INVISIBLE_CLASS
_ALLOWED = rf"[^{_REFUSED}]"
#: what ``text`` accepts, for the OpenAPI document: no control characters (tabs and
#: line breaks are fine), no invisible or direction-changing ones, and at least one
#: character that is not white space. The validator below gives people a plain
#: message; this tells programs in advance.
TEXT_PATTERN = rf"^{_ALLOWED}*[^\s\x85{_REFUSED}]{_ALLOWED}*$"


_SPACE = rf"[^\S{_REFUSED}]"
_EDGE = rf"[^\s\x85{_REFUSED}]"


def text_pattern(min_length: int) -> str:
    """``TEXT_PATTERN`` for text that, trimmed of white space, is ``min_length`` or longer.

    Text is trimmed before it is measured, so the document must say that the
    characters from the first to the last that is not white space number at least
    ``min_length``; a ``minLength`` alone would count the white space around them.
    """
    if min_length <= 1:
        return TEXT_PATTERN
    return rf"^{_SPACE}*{_EDGE}{_ALLOWED}{{{min_length - 2},}}{_EDGE}{_SPACE}*$"


def text(max_length: int, min_length: int = 1) -> object:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_control_characters),
        Field(json_schema_extra={"pattern": text_pattern(min_length)}),
    ]


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
#: a work email: one ``@``, a dotted domain, no spaces or control characters
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f.]+(\.[^@\s\x00-\x1f\x7f.]+)+$"
_EMAIL = re.compile(EMAIL_PATTERN)


def is_email(value: str) -> bool:
    """Whether ``value`` looks like an email address, by the rule the JSON bodies use
    (what the staff pages' forms check too)."""
    return len(value) <= 254 and _EMAIL.match(value) is not None


Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL_PATTERN),
    AfterValidator(_no_control_characters),
]
Name = text(200)
Title = text(200)
LongText = text(4000)
#: a reveal's reason, which auditors and the advocate read: trimmed, 20 characters or more
RevealReason = text(4000, min_length=MIN_REVEAL_REASON)
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


#: what ``IsoDate`` accepts, for the OpenAPI document: YYYY-MM-DD from 1900 to 2999
ISO_DATE_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date_text),
    AfterValidator(_plausible_date),
    Field(json_schema_extra={"pattern": ISO_DATE_PATTERN}),
]


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
    #: who is told by email when the forum's items move (optional)
    contact_email: Email | None = None


class ForumContactIn(Body):
    """The forum's contact email; ``null`` removes it."""

    contact_email: Email | None


class DigestIn(Body):
    """Email the forum's feedback pack since this date to its contact."""

    since: date


class UserIn(Body):
    name: Name  # type: ignore[valid-type]
    role: Role
    scopes: list[Slug] = Field(default_factory=list, max_length=100)  # type: ignore[valid-type]
    #: the work email the organisation's sign-in matches (unique, any case)
    email: Email | None = None


class UserRoleIn(Body):
    """A user's new role; their staff sessions end."""

    role: Role


class UserEmailIn(Body):
    """A user's work email; ``null`` removes it."""

    email: Email | None


class ItemIn(Body):
    forum_id: Slug  # type: ignore[valid-type]
    channel: Channel
    raised_on: IsoDate
    title: Title  # type: ignore[valid-type]
    you_said: LongText  # type: ignore[valid-type]
    detail: LongText | None = None  # type: ignore[valid-type]
    contributor: Name | None = None  # type: ignore[valid-type]
    themes: list[Theme] = Field(default_factory=list, max_length=20)  # type: ignore[valid-type]
    #: a possible safeguarding concern: flagged as it is raised (issue 16)
    safeguarding: StrictBool = False


class PublishIn(Body):
    you_said: LongText | None = None  # type: ignore[valid-type]


class ReferIn(Body):
    """``to_unit_id`` as in the contract; ``to_forum_id`` (extra) may name a forum instead."""

    model_config = ConfigDict(
        extra="ignore",
        # the validator below, for the OpenAPI document: one of the two, not null
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string"}}}
                for name in ("to_unit_id", "to_forum_id")
            ]
        },
    )

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
