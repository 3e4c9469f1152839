"""Stable stored names: the topic of every class whose events are, or ever were, stored.

Each stored event names its class by a topic string, and each aggregate's first
event names the aggregate's class (``originator_topic``). eventsourcing 9.5 builds
a topic from the module path (``module:QualName``) unless the class has a ``TOPIC``
attribute (``eventsourcing.utils.construct_topic``), and ``resolve_topic`` looks a
topic up in the table ``register_topic`` fills before it tries to import a module.

So this table is the contract, not the module layout. ``pin`` gives each class the
string it has always been stored under as its ``TOPIC`` and registers it: a class
may then move to another module (or be renamed) and new events are still stored
under the same string, and old ones still resolve to it. Move classes freely;
never change a string here (``tests/unit/test_stored_names.py`` lists them all).

A class must be pinned once it has a ``TOPIC``: eventsourcing then checks, on every
event it records, that the event class has a registered topic of its own. The
``TOPIC`` is set after the class is made, not in its body: 9.5's metaclass would
otherwise demand one on the ``Created`` and ``Event`` classes it derives for every
aggregate, which are never stored.

Read models select the events they decode by these topics (``event_topics``) and
the NATS relay names subjects by ``EVENT_NAMES``, so neither depends on where a
class is defined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# eventsourcing.domain imports register_topic from eventsourcing.utils and uses it for
# explicit topics itself; the domain imports only eventsourcing.domain (see
# tests/unit/test_architecture.py), which does not re-export it by name for mypy
from eventsourcing.domain import register_topic  # type: ignore[attr-defined]

from yswd.aggregates.base import Aggregate
from yswd.aggregates.clip import Clip
from yswd.aggregates.disclosure import Disclosure
from yswd.aggregates.erasure import ContributorErased
from yswd.aggregates.gap_box import GapBox
from yswd.aggregates.idempotency import IdempotentRequest
from yswd.aggregates.item import Item
from yswd.aggregates.minutes_import import MinutesImport
from yswd.aggregates.organisation import Forum, Unit
from yswd.aggregates.response_template import ResponseTemplates
from yswd.aggregates.self_assessment import SelfAssessments
from yswd.aggregates.theme_vocabulary import ThemeVocabulary
from yswd.aggregates.users import StaffEmail, Token, User

#: stored topic -> aggregate class (the ``originator_topic`` of its first event)
AGGREGATES: dict[str, type[Aggregate]] = {
    "yswd.aggregates.item:Item": Item,
    "yswd.aggregates.organisation:Unit": Unit,
    "yswd.aggregates.organisation:Forum": Forum,
    "yswd.aggregates.users:User": User,
    "yswd.aggregates.users:Token": Token,
    "yswd.aggregates.users:StaffEmail": StaffEmail,
    "yswd.aggregates.disclosure:Disclosure": Disclosure,
    "yswd.aggregates.idempotency:IdempotentRequest": IdempotentRequest,
    "yswd.aggregates.clip:Clip": Clip,
    "yswd.aggregates.gap_box:GapBox": GapBox,
    "yswd.aggregates.minutes_import:MinutesImport": MinutesImport,
    "yswd.aggregates.response_template:ResponseTemplates": ResponseTemplates,
    "yswd.aggregates.self_assessment:SelfAssessments": SelfAssessments,
    "yswd.aggregates.theme_vocabulary:ThemeVocabulary": ThemeVocabulary,
}

#: stored topic -> (aggregate class, event class, the event's stable name). The name is
#: the last token of its NATS subject (``yswd.events.<aggregate id prefix>.<name>``)
EVENTS: dict[str, tuple[type[Aggregate], type[Any], str]] = {
    "yswd.aggregates.item:Item.Raised": (Item, Item.Raised, "item_raised"),
    "yswd.aggregates.item:Item.Published": (Item, Item.Published, "item_published"),
    "yswd.aggregates.item:Item.Referred": (Item, Item.Referred, "item_referred"),
    "yswd.aggregates.item:Item.ResponsePosted": (Item, Item.ResponsePosted, "response_posted"),
    "yswd.aggregates.item:Item.ProgressNoted": (Item, Item.ProgressNoted, "progress_noted"),
    "yswd.aggregates.item:Item.LackOfProgressNoted": (
        Item,
        Item.LackOfProgressNoted,
        "lack_of_progress_noted",
    ),
    "yswd.aggregates.item:Item.RepeatLinked": (Item, Item.RepeatLinked, "repeat_linked"),
    "yswd.aggregates.item:Item.RepeatRecorded": (Item, Item.RepeatRecorded, "repeat_recorded"),
    "yswd.aggregates.item:Item.Completed": (Item, Item.Completed, "item_completed"),
    "yswd.aggregates.item:Item.Declined": (Item, Item.Declined, "item_declined"),
    "yswd.aggregates.item:Item.ChangeVerified": (Item, Item.ChangeVerified, "change_verified"),
    "yswd.aggregates.item:Item.ChangeNotConfirmed": (
        Item,
        Item.ChangeNotConfirmed,
        "change_not_confirmed",
    ),
    "yswd.aggregates.item:Item.Reopened": (Item, Item.Reopened, "item_reopened"),
    "yswd.aggregates.item:Item.SafeguardingFlagged": (
        Item,
        Item.SafeguardingFlagged,
        "safeguarding_flagged",
    ),
    "yswd.aggregates.item:Item.SafeguardingAcknowledged": (
        Item,
        Item.SafeguardingAcknowledged,
        "safeguarding_acknowledged",
    ),
    "yswd.aggregates.item:Item.SafeguardingClosed": (
        Item,
        Item.SafeguardingClosed,
        "safeguarding_closed",
    ),
    "yswd.aggregates.item:Item.ContributorRevealed": (
        Item,
        Item.ContributorRevealed,
        "contributor_revealed",
    ),
    "yswd.aggregates.organisation:Unit.Created": (Unit, Unit.Created, "unit_created"),
    "yswd.aggregates.organisation:Forum.Created": (Forum, Forum.Created, "forum_created"),
    "yswd.aggregates.organisation:Forum.ContactSet": (
        Forum,
        Forum.ContactSet,
        "forum_contact_set",
    ),
    "yswd.aggregates.organisation:Forum.DigestRequested": (
        Forum,
        Forum.DigestRequested,
        "forum_digest_requested",
    ),
    "yswd.aggregates.users:User.Created": (User, User.Created, "user_created"),
    "yswd.aggregates.users:User.TokenIssued": (User, User.TokenIssued, "user_token_issued"),
    "yswd.aggregates.users:User.TokensRevoked": (
        User,
        User.TokensRevoked,
        "user_tokens_revoked",
    ),
    "yswd.aggregates.users:Token.Issued": (Token, Token.Issued, "token_issued"),
    "yswd.aggregates.users:User.EmailSet": (User, User.EmailSet, "user_email_set"),
    "yswd.aggregates.users:User.RoleChanged": (User, User.RoleChanged, "user_role_changed"),
    "yswd.aggregates.users:StaffEmail.Claimed": (
        StaffEmail,
        StaffEmail.Claimed,
        "staff_email_claimed",
    ),
    "yswd.aggregates.users:StaffEmail.Released": (
        StaffEmail,
        StaffEmail.Released,
        "staff_email_released",
    ),
    "yswd.aggregates.users:StaffEmail.ClaimedAgain": (
        StaffEmail,
        StaffEmail.ClaimedAgain,
        "staff_email_claimed_again",
    ),
    "yswd.aggregates.disclosure:Disclosure.IdentifiableDataRead": (
        Disclosure,
        Disclosure.IdentifiableDataRead,
        "identifiable_data_read",
    ),
    "yswd.aggregates.idempotency:IdempotentRequest.Recorded": (
        IdempotentRequest,
        IdempotentRequest.Recorded,
        "idempotent_request_recorded",
    ),
    "yswd.aggregates.clip:Clip.Attached": (Clip, Clip.Attached, "clip_attached"),
    "yswd.aggregates.clip:Clip.ConsentRecorded": (
        Clip,
        Clip.ConsentRecorded,
        "clip_consent_recorded",
    ),
    "yswd.aggregates.clip:Clip.TranscriptAdded": (
        Clip,
        Clip.TranscriptAdded,
        "clip_transcript_added",
    ),
    "yswd.aggregates.clip:Clip.TranscriptPublished": (
        Clip,
        Clip.TranscriptPublished,
        "clip_transcript_published",
    ),
    "yswd.aggregates.clip:Clip.SummaryAdded": (Clip, Clip.SummaryAdded, "clip_summary_added"),
    "yswd.aggregates.clip:Clip.BytesDeleted": (Clip, Clip.BytesDeleted, "clip_bytes_deleted"),
    "yswd.aggregates.gap_box:GapBox.Opened": (GapBox, GapBox.Opened, "gap_box_opened"),
    "yswd.aggregates.gap_box:GapBox.SuggestionReceived": (
        GapBox,
        GapBox.SuggestionReceived,
        "gap_box_suggestion_received",
    ),
    "yswd.aggregates.minutes_import:MinutesImport.Recorded": (
        MinutesImport,
        MinutesImport.Recorded,
        "minutes_import_recorded",
    ),
    "yswd.aggregates.response_template:ResponseTemplates.Started": (
        ResponseTemplates,
        ResponseTemplates.Started,
        "response_templates_started",
    ),
    "yswd.aggregates.response_template:ResponseTemplates.TemplateAdded": (
        ResponseTemplates,
        ResponseTemplates.TemplateAdded,
        "response_templates_template_added",
    ),
    "yswd.aggregates.response_template:ResponseTemplates.TemplateArchived": (
        ResponseTemplates,
        ResponseTemplates.TemplateArchived,
        "response_templates_template_archived",
    ),
    "yswd.aggregates.self_assessment:SelfAssessments.Started": (
        SelfAssessments,
        SelfAssessments.Started,
        "self_assessments_started",
    ),
    "yswd.aggregates.self_assessment:SelfAssessments.Assessed": (
        SelfAssessments,
        SelfAssessments.Assessed,
        "self_assessments_assessed",
    ),
    "yswd.aggregates.theme_vocabulary:ThemeVocabulary.Started": (
        ThemeVocabulary,
        ThemeVocabulary.Started,
        "theme_vocabulary_started",
    ),
    "yswd.aggregates.theme_vocabulary:ThemeVocabulary.ThemesSet": (
        ThemeVocabulary,
        ThemeVocabulary.ThemesSet,
        "theme_vocabulary_themes_set",
    ),
}

#: The record of an erasure (``ContributorErased``) was first stored from ``yswd.audit``;
#: it now lives in ``yswd.aggregates.erasure`` and keeps its first names.
CONTRIBUTOR_ERASED = "yswd.audit:ContributorErased"
CONTRIBUTOR_ERASED_RECORDED = "yswd.audit:ContributorErased.Recorded"

#: stored event topic -> the event's stable name (NATS subjects), every stored event
EVENT_NAMES: dict[str, str] = {
    **{topic: name for topic, (_, _, name) in EVENTS.items()},
    CONTRIBUTOR_ERASED_RECORDED: "contributor_erased_recorded",
}

#: every topic string the event store holds or has held (aggregates and events)
STORED_TOPICS: frozenset[str] = frozenset(
    {*AGGREGATES, *EVENTS, CONTRIBUTOR_ERASED, CONTRIBUTOR_ERASED_RECORDED}
)


def event_topics(*aggregates: type[Aggregate]) -> tuple[str, ...]:
    """The stored topics of every event of these aggregates (a read model's filter)."""
    return tuple(topic for topic, (owner, _, _) in EVENTS.items() if owner in aggregates)


def pin(topics: Mapping[str, type[Any]]) -> None:
    """Give each class its stored topic as ``TOPIC``, and register that topic for it.

    Refuses a class that already has another topic of its own, and (through
    ``register_topic``) a topic already registered for another class.
    """
    for topic, cls in topics.items():
        own = cls.__dict__.get("TOPIC")
        if own is not None and own != topic:
            raise ValueError(f"{cls.__qualname__} is already stored as {own!r}, not {topic!r}.")
        cls.TOPIC = topic
        register_topic(topic, cls)


def pin_stored_topics() -> None:
    """Pin every aggregate and event class of the domain (``yswd.aggregates`` does, once)."""
    pin(AGGREGATES)
    pin({topic: cls for topic, (_, cls, _) in EVENTS.items()})
    pin(
        {
            CONTRIBUTOR_ERASED: ContributorErased,
            CONTRIBUTOR_ERASED_RECORDED: ContributorErased.Recorded,
        }
    )
