"""Stored names are contracts: every stored topic and every NATS subject, as literal strings.

A class may move to another module, or be renamed; the strings below may not change.
If one of these tests fails after a move, pin the class to its old string in
``yswd.aggregates.topics``; never edit a string here to make it pass.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from itertools import count
from types import SimpleNamespace
from typing import Any

import pytest
from eventsourcing import utils as es_utils
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import TopicError, get_topic, resolve_topic

import yswd
from yswd.adapters import nats_relay
from yswd.adapters.persistence import memory_env
from yswd.aggregates import topics
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.base import Aggregate
from yswd.aggregates.event_types import event_type_name
from yswd.aggregates.item import Channel, Item
from yswd.aggregates.organisation import ForumKind
from yswd.application.service import Yswd
from yswd.projections.access_log import AccessLog
from yswd.projections.organisation import Organisation
from yswd.projections.staff_directory import StaffDirectory
from yswd.projections.staff_items import StaffItems

#: every aggregate topic ever stored (the ``originator_topic`` of a first event),
#: with an aggregate id of the shape that aggregate uses
AGGREGATE_TOPICS = {
    "yswd.aggregates.item:Item": "item:i1",
    "yswd.aggregates.organisation:Unit": "unit:cedar",
    "yswd.aggregates.organisation:Forum": "forum:cedar-cm",
    "yswd.aggregates.users:User": "user:admin-1",
    "yswd.aggregates.users:Token": "token:0123abcd",
    "yswd.aggregates.users:StaffEmail": "email:0123abcd",
    "yswd.aggregates.disclosure:Disclosure": "read:r1",
    "yswd.aggregates.idempotency:IdempotentRequest": "idem:k1",
    "yswd.aggregates.clip:Clip": "clip:c1",
    "yswd.aggregates.gap_box:GapBox": "gapbox:b1",
    "yswd.aggregates.minutes_import:MinutesImport": "minutes:cedar-cm:0123abcd",
    "yswd.aggregates.response_template:ResponseTemplates": "templates:cedar",
    "yswd.aggregates.self_assessment:SelfAssessments": "selfassessments:cedar",
    "yswd.aggregates.theme_vocabulary:ThemeVocabulary": "themes:north-west",
    "yswd.audit:ContributorErased": "erasure:e1",
}

#: every event topic ever stored -> the NATS subject its events are published on
EVENT_SUBJECTS = {
    "yswd.aggregates.item:Item.Raised": "yswd.events.item.item_raised",
    "yswd.aggregates.item:Item.Published": "yswd.events.item.item_published",
    "yswd.aggregates.item:Item.Referred": "yswd.events.item.item_referred",
    "yswd.aggregates.item:Item.ResponsePosted": "yswd.events.item.response_posted",
    "yswd.aggregates.item:Item.ProgressNoted": "yswd.events.item.progress_noted",
    "yswd.aggregates.item:Item.LackOfProgressNoted": "yswd.events.item.lack_of_progress_noted",
    "yswd.aggregates.item:Item.RepeatLinked": "yswd.events.item.repeat_linked",
    "yswd.aggregates.item:Item.RepeatRecorded": "yswd.events.item.repeat_recorded",
    "yswd.aggregates.item:Item.Completed": "yswd.events.item.item_completed",
    "yswd.aggregates.item:Item.Declined": "yswd.events.item.item_declined",
    "yswd.aggregates.item:Item.ChangeVerified": "yswd.events.item.change_verified",
    "yswd.aggregates.item:Item.ChangeNotConfirmed": "yswd.events.item.change_not_confirmed",
    "yswd.aggregates.item:Item.Reopened": "yswd.events.item.item_reopened",
    "yswd.aggregates.item:Item.SafeguardingFlagged": "yswd.events.item.safeguarding_flagged",
    "yswd.aggregates.item:Item.SafeguardingAcknowledged": (
        "yswd.events.item.safeguarding_acknowledged"
    ),
    "yswd.aggregates.item:Item.SafeguardingClosed": "yswd.events.item.safeguarding_closed",
    "yswd.aggregates.item:Item.ContributorRevealed": "yswd.events.item.contributor_revealed",
    "yswd.aggregates.organisation:Unit.Created": "yswd.events.unit.unit_created",
    "yswd.aggregates.organisation:Forum.Created": "yswd.events.forum.forum_created",
    "yswd.aggregates.organisation:Forum.ContactSet": "yswd.events.forum.forum_contact_set",
    "yswd.aggregates.organisation:Forum.DigestRequested": (
        "yswd.events.forum.forum_digest_requested"
    ),
    "yswd.aggregates.users:User.Created": "yswd.events.user.user_created",
    "yswd.aggregates.users:User.TokenIssued": "yswd.events.user.user_token_issued",
    "yswd.aggregates.users:User.TokensRevoked": "yswd.events.user.user_tokens_revoked",
    "yswd.aggregates.users:Token.Issued": "yswd.events.token.token_issued",
    "yswd.aggregates.users:User.EmailSet": "yswd.events.user.user_email_set",
    "yswd.aggregates.users:User.RoleChanged": "yswd.events.user.user_role_changed",
    "yswd.aggregates.users:StaffEmail.Claimed": "yswd.events.email.staff_email_claimed",
    "yswd.aggregates.users:StaffEmail.Released": "yswd.events.email.staff_email_released",
    "yswd.aggregates.users:StaffEmail.ClaimedAgain": (
        "yswd.events.email.staff_email_claimed_again"
    ),
    "yswd.aggregates.disclosure:Disclosure.IdentifiableDataRead": (
        "yswd.events.read.identifiable_data_read"
    ),
    "yswd.aggregates.idempotency:IdempotentRequest.Recorded": (
        "yswd.events.idem.idempotent_request_recorded"
    ),
    "yswd.aggregates.clip:Clip.Attached": "yswd.events.clip.clip_attached",
    "yswd.aggregates.clip:Clip.ConsentRecorded": "yswd.events.clip.clip_consent_recorded",
    "yswd.aggregates.clip:Clip.TranscriptAdded": "yswd.events.clip.clip_transcript_added",
    "yswd.aggregates.clip:Clip.TranscriptPublished": "yswd.events.clip.clip_transcript_published",
    "yswd.aggregates.clip:Clip.SummaryAdded": "yswd.events.clip.clip_summary_added",
    "yswd.aggregates.clip:Clip.BytesDeleted": "yswd.events.clip.clip_bytes_deleted",
    "yswd.aggregates.gap_box:GapBox.Opened": "yswd.events.gapbox.gap_box_opened",
    "yswd.aggregates.gap_box:GapBox.SuggestionReceived": (
        "yswd.events.gapbox.gap_box_suggestion_received"
    ),
    "yswd.aggregates.minutes_import:MinutesImport.Recorded": (
        "yswd.events.minutes.minutes_import_recorded"
    ),
    "yswd.aggregates.response_template:ResponseTemplates.Started": (
        "yswd.events.templates.response_templates_started"
    ),
    "yswd.aggregates.response_template:ResponseTemplates.TemplateAdded": (
        "yswd.events.templates.response_templates_template_added"
    ),
    "yswd.aggregates.response_template:ResponseTemplates.TemplateArchived": (
        "yswd.events.templates.response_templates_template_archived"
    ),
    "yswd.aggregates.self_assessment:SelfAssessments.Started": (
        "yswd.events.selfassessments.self_assessments_started"
    ),
    "yswd.aggregates.self_assessment:SelfAssessments.Assessed": (
        "yswd.events.selfassessments.self_assessments_assessed"
    ),
    "yswd.aggregates.theme_vocabulary:ThemeVocabulary.Started": (
        "yswd.events.themes.theme_vocabulary_started"
    ),
    "yswd.aggregates.theme_vocabulary:ThemeVocabulary.ThemesSet": (
        "yswd.events.themes.theme_vocabulary_themes_set"
    ),
    "yswd.audit:ContributorErased.Recorded": "yswd.events.erasure.contributor_erased_recorded",
}

#: each read model's events, as it selected them by module before the stable names
READ_MODEL_TOPICS = {
    StaffItems: {t for t in EVENT_SUBJECTS if t.startswith("yswd.aggregates.item:")}
    | {"yswd.audit:ContributorErased.Recorded"},
    AccessLog: {t for t in EVENT_SUBJECTS if t.startswith("yswd.aggregates.disclosure:")},
    Organisation: {t for t in EVENT_SUBJECTS if t.startswith("yswd.aggregates.organisation:")},
    StaffDirectory: {
        t
        for t in EVENT_SUBJECTS
        if t.startswith(("yswd.aggregates.users:", "yswd.aggregates.organisation:"))
    },
}


@functools.cache
def _aggregates_in_the_code() -> tuple[type[Any], ...]:
    """Every aggregate class defined in yswd's top-level modules, its domain and its
    application layer (each module imported first); adapters and read models define none."""
    for info in pkgutil.iter_modules(yswd.__path__, "yswd."):
        if not info.ispkg and info.name != "yswd.__main__":
            importlib.import_module(info.name)
    for layer in ("yswd.aggregates", "yswd.application"):
        package = importlib.import_module(layer)
        for info in pkgutil.walk_packages(package.__path__, f"{layer}."):
            importlib.import_module(info.name)
    found, pending = [], list(Aggregate.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("yswd."):  # not a test's own aggregate
            found.append(cls)
    return tuple(found)


def _erasure_record() -> type[Any]:
    """``ContributorErased``, wherever it is defined now (outside the domain, so far)."""
    (cls,) = [c for c in _aggregates_in_the_code() if c.__name__ == "ContributorErased"]
    return cls


def pinned() -> dict[str, type[Any]]:
    """Every pinned topic -> class, the erasure record's included."""
    found: dict[str, type[Any]] = dict(topics.AGGREGATES)
    found.update({topic: cls for topic, (_, cls, _) in topics.EVENTS.items()})
    erased = _erasure_record()
    found[topics.CONTRIBUTOR_ERASED] = erased
    found[topics.CONTRIBUTOR_ERASED_RECORDED] = erased.Recorded
    return found


def test_the_table_holds_exactly_the_stored_topics() -> None:
    assert {*AGGREGATE_TOPICS, *EVENT_SUBJECTS} == topics.STORED_TOPICS
    assert set(pinned()) == topics.STORED_TOPICS
    assert set(topics.EVENT_NAMES) == set(EVENT_SUBJECTS)
    # issue 15: User.EmailSet, User.RoleChanged, StaffEmail (4); issue 16: safeguarding (3)
    # and reveals (1); issue 20: SelfAssessments and ThemeVocabulary, each an aggregate and
    # two events (6); issue 20: Forum.ContactSet and Forum.DigestRequested, the forum's
    # emails (2)
    assert len(topics.STORED_TOPICS) == 46 + 6 + 4 + 6 + 2


@pytest.mark.parametrize("topic", sorted(topics.STORED_TOPICS))
def test_each_class_is_stored_and_resolved_under_its_topic(topic: str) -> None:
    cls = pinned()[topic]
    assert cls.__dict__["TOPIC"] == topic  # its own, not inherited
    assert get_topic(cls) == topic
    assert es_utils.construct_topic(cls) == topic
    assert resolve_topic(topic) is cls


def _stub_app() -> Any:
    event = SimpleNamespace(timestamp=datetime(2026, 11, 2, tzinfo=UTC))
    return SimpleNamespace(mapper=SimpleNamespace(to_domain_event=lambda _: event))


@pytest.mark.parametrize("topic", sorted(EVENT_SUBJECTS))
def test_each_event_goes_to_nats_on_its_subject(topic: str) -> None:
    aggregate_id = AGGREGATE_TOPICS[topic.rsplit(".", 1)[0]]
    notification = Notification(
        originator_id=aggregate_id, originator_version=1, topic=topic, state=b"", id=7
    )
    outgoing = nats_relay.envelope(_stub_app(), notification)
    assert outgoing.subject == EVENT_SUBJECTS[topic]
    assert outgoing.subject.rsplit(".", 1)[1] == topics.EVENT_NAMES[topic]


@pytest.mark.parametrize("topic", sorted(EVENT_SUBJECTS))
def test_histories_name_each_event_as_its_subject_does(topic: str) -> None:
    """``"type"`` in histories and exports is still derived from the class: keep them equal."""
    assert event_type_name(pinned()[topic]).lower() == topics.EVENT_NAMES[topic]


@pytest.mark.parametrize("model", list(READ_MODEL_TOPICS), ids=lambda m: m.__name__)
def test_read_models_select_the_same_events_as_before(model: type[Any]) -> None:
    selected = set(model.topic_prefixes)
    assert selected == READ_MODEL_TOPICS[model]
    for topic in topics.STORED_TOPICS:
        assert topic.startswith(model.topic_prefixes) == (topic in selected), topic


def _applies_something(cls: type[Any]) -> bool:
    """Whether an event class changes its aggregate: the ``Event`` and ``Created`` classes
    eventsourcing derives for every aggregate apply nothing of their own, and are never
    stored."""
    return any("apply" in vars(base) for base in cls.__mro__[:-1] if base is not CanMutateAggregate)


def _stored_classes() -> Iterator[type[Any]]:
    """Every aggregate class defined anywhere in yswd, and every event class it records."""
    for cls in _aggregates_in_the_code():
        yield cls
        for value in vars(cls).values():
            if (
                isinstance(value, type)
                and issubclass(value, CanMutateAggregate)
                and _applies_something(value)
            ):
                yield value


def test_every_stored_class_in_the_code_is_pinned() -> None:
    """A new aggregate or event needs a row in yswd.aggregates.topics (and a string here)."""
    classes = set(_stored_classes())
    assert classes == set(pinned().values())


def test_pin_refuses_a_second_name_for_a_class_or_a_second_class_for_a_name() -> None:
    with pytest.raises(ValueError, match="already stored as"):
        topics.pin({"yswd.somewhere:Item": Item})
    with pytest.raises(TopicError):
        topics.pin({"yswd.aggregates.item:Item": type("Impostor", (), {})})


# -- a move, simulated -----------------------------------------------------------------

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _app() -> Yswd:
    ids = count(1)
    return Yswd(memory_env(), clock=lambda: NOW, ids=lambda: f"id{next(ids)}")


def test_after_a_move_old_events_resolve_and_new_ones_keep_the_old_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every class "moves" out of its module and the old modules vanish: old events still
    load through the table alone, and new events are stored under the old strings."""
    app = _app()
    app.create_unit(SYSTEM, "cedar", "Cedar", None)
    app.create_forum(SYSTEM, "cedar-cm", "Meeting", "cedar", ForumKind.COMMUNITY_MEETING)
    item = app.raise_item(
        SYSTEM,
        forum_id="cedar-cm",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title="Laundry",
        you_said="Broken.",
        detail=None,
        contributor="Ann",
        themes=[],
    ).value
    before = [n.topic for n in app.recorder.select_notifications(start=1, limit=1000)]
    classes = pinned()
    erased = classes[topics.CONTRIBUTOR_ERASED]

    saved_topics = dict(es_utils._topic_cache)
    saved_types = dict(es_utils._type_cache)
    try:
        es_utils._topic_cache.clear()  # nothing registered: only the table can help now
        es_utils._type_cache.clear()
        for topic, cls in classes.items():
            monkeypatch.setattr(cls, "__module__", "yswd.moved_elsewhere")
            monkeypatch.setitem(sys.modules, topic.partition(":")[0], None)  # import fails
        topics.pin_stored_topics()
        topics.pin(
            {
                topics.CONTRIBUTOR_ERASED: erased,
                topics.CONTRIBUTOR_ERASED_RECORDED: erased.Recorded,
            }
        )
        for topic, cls in classes.items():
            assert resolve_topic(topic) is cls
            assert get_topic(cls) == topic

        loaded: Item = app.repository.get(item.id)  # old events, through the table
        assert (loaded.title, loaded.contributor) == ("Laundry", "Ann")
        app.respond(SYSTEM, item.item_id, "We ordered a new machine.", loaded.version)
        after = [n.topic for n in app.recorder.select_notifications(start=1, limit=1000)]
        assert after[: len(before)] == before
        assert after[len(before) :] == ["yswd.aggregates.item:Item.ResponsePosted"]
        assert app.repository.get(item.id).status.value == "responded"
    finally:
        es_utils._topic_cache.clear()
        es_utils._topic_cache.update(saved_topics)
        es_utils._type_cache.clear()
        es_utils._type_cache.update(saved_types)
