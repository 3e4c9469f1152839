"""Gap boxes: the aggregate, the use cases on the in-memory store, and the rate limiter."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from yswd.adapters.http.rate_limit import SlidingWindowLimiter
from yswd.adapters.persistence import memory_env
from yswd.aggregates.access import PUBLIC_ACTOR, SYSTEM, Principal
from yswd.aggregates.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
)
from yswd.aggregates.gap_box import GapBox, GapBoxClosed, suggestion_detail_prefix
from yswd.aggregates.item import Channel, Item, Status, item_aggregate_id
from yswd.aggregates.item_views import item_view
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.application.gap_boxes import GapBoxes, title_from
from yswd.application.service import Yswd
from yswd.application.unit_of_work import IdempotencyKey

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def moderator(*scopes: str) -> Principal:
    return Principal("mod-1", "A moderator", Role.MODERATOR, frozenset(scopes))


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def app(clock: Clock) -> Yswd:
    app = Yswd(memory_env(), clock=clock)
    app.create_unit(SYSTEM, "trust", "The trust", None)
    app.create_unit(SYSTEM, "cedar", "Cedar ward", "trust")
    app.create_unit(SYSTEM, "elsewhere", "Elsewhere", None)
    app.create_forum(SYSTEM, "cedar-cm", "Cedar meeting", "cedar", ForumKind.COMMUNITY_MEETING)
    app.create_forum(SYSTEM, "elsewhere-cm", "Elsewhere", "elsewhere", ForumKind.OTHER)
    return app


class LogIndex:
    """The suggestion index read straight off the log (the real one is the item rows)."""

    def __init__(self, app: Yswd) -> None:
        self.app = app

    def gap_box_views(
        self, forum_id: str, box_id: str, *, published_only: bool
    ) -> list[dict[str, Any]]:
        prefix = suggestion_detail_prefix(box_id)
        found = []
        for notification in self.app.recorder.select_notifications(start=1, limit=10_000):
            event = self.app.mapper.to_domain_event(notification)
            detail = getattr(event, "detail", None)
            if (
                getattr(event, "forum_id", None) == forum_id
                and isinstance(detail, str)
                and detail.startswith(prefix)
            ):
                found.append(str(event.originator_id).removeprefix("item:"))
        # through the repository, so that a test can count the service's own ``load_item``
        ids = dict.fromkeys(found)
        items = [self.app.repository.get(item_aggregate_id(item_id)) for item_id in ids]
        # the rows' ``published`` column: on public boards (published, not restricted)
        return [item_view(i) for i in items if i.on_public_boards or not published_only]


@pytest.fixture
def service(app: Yswd) -> GapBoxes:
    return GapBoxes(app, index=LogIndex(app))


def open_box(service: GapBoxes, box_id: str = "winter", **overrides: object) -> GapBox:
    fields: dict[str, object] = {
        "box_id": box_id,
        "unit_id": "trust",
        "forum_id": "cedar-cm",
        "question": "What would make winter on the ward better?",
        "opens_on": TODAY - timedelta(days=1),
        "closes_on": TODAY + timedelta(days=30),
        **overrides,
    }
    return service.create_box(moderator("trust"), **fields).value  # type: ignore[arg-type]


def recorded_on_the_box(app: Yswd, box: GapBox, detail: str) -> Item:
    """A suggestion as versions before issue 19 stored it: the item, and a
    ``SuggestionReceived`` on the box naming it."""
    item = Item.raise_item(
        "old-one",
        forum_id="cedar-cm",
        unit_id="cedar",
        channel=Channel.GAP_BOX,
        raised_on=TODAY,
        title="An old suggestion",
        you_said="An old suggestion",
        detail=detail,
        contributor=None,
        themes=(),
        actor=PUBLIC_ACTOR,
        now=NOW,
    )
    box.receive(item.item_id, TODAY, PUBLIC_ACTOR, NOW)
    app.save(item, box)
    return item


# -- the aggregate ---------------------------------------------------------------


def test_a_box_is_open_from_its_first_to_its_last_day_inclusive() -> None:
    box = GapBox.open(
        "winter",
        unit_id="cedar",
        forum_id="cedar-cm",
        question="Q?",
        opens_on=date(2026, 12, 1),
        closes_on=date(2026, 12, 31),
        actor="mod",
        now=NOW,
    )
    assert box.id == "gapbox:winter" and box.box_id == "winter"
    assert not box.is_open(date(2026, 11, 30))
    assert box.is_open(date(2026, 12, 1))
    assert box.is_open(date(2026, 12, 31))
    assert not box.is_open(date(2027, 1, 1))
    with pytest.raises(GapBoxClosed, match="opens on 2026-12-01"):
        box.require_open(date(2026, 11, 30))
    with pytest.raises(GapBoxClosed, match="closed on 2026-12-31"):
        box.require_open(date(2027, 1, 1))
    box.require_open(date(2026, 12, 15))
    assert [type(e).__name__ for e in box.collect_events()] == ["Opened"]


def test_a_box_cannot_close_before_it_opens() -> None:
    with pytest.raises(InvalidInput):
        GapBox.open(
            "x",
            unit_id="u",
            forum_id="f",
            question="Q?",
            opens_on=date(2026, 12, 2),
            closes_on=date(2026, 12, 1),
            actor="mod",
            now=NOW,
        )


def test_a_one_day_box_is_allowed() -> None:
    box = GapBox.open(
        "x",
        unit_id="u",
        forum_id="f",
        question="Q?",
        opens_on=TODAY,
        closes_on=TODAY,
        actor="mod",
        now=NOW,
    )
    assert box.is_open(TODAY)


# -- creating boxes ----------------------------------------------------------------


def test_a_moderator_in_scope_opens_a_box_and_it_is_stored(app: Yswd, service: GapBoxes) -> None:
    created = service.create_box(
        moderator("trust"),
        box_id="winter",
        unit_id="trust",
        forum_id="cedar-cm",
        question="What would help?",
        opens_on=TODAY,
        closes_on=TODAY + timedelta(days=7),
    )
    assert created.position is not None
    stored = service.box("winter")
    assert (stored.unit_id, stored.forum_id, stored.question) == (
        "trust",
        "cedar-cm",
        "What would help?",
    )
    assert stored.opens_on == TODAY and stored.closes_on == TODAY + timedelta(days=7)


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        (moderator("elsewhere"), Forbidden),
        (moderator("cedar"), Forbidden),  # the box's unit is above the moderator's scope
        (Principal("m", "M", Role.MANAGER, frozenset()), Forbidden),
        (Principal("s", "S", Role.SECRETARY, frozenset({"trust"})), Forbidden),
        (Principal("a", "A", Role.AUDITOR, frozenset()), Forbidden),
    ],
)
def test_only_moderators_in_scope_and_admins_open_boxes(
    service: GapBoxes, actor: Principal, error: type[Exception]
) -> None:
    with pytest.raises(error):
        service.create_box(
            actor,
            box_id="winter",
            unit_id="trust",
            forum_id="cedar-cm",
            question="Q?",
            opens_on=TODAY,
            closes_on=TODAY,
        )
    with pytest.raises(NotFound):
        service.box("winter")
    service.create_box(
        SYSTEM,
        box_id="winter",
        unit_id="trust",
        forum_id="cedar-cm",
        question="Q?",
        opens_on=TODAY,
        closes_on=TODAY,
    )
    assert service.box("winter").question == "Q?"


def test_the_forum_must_exist_and_belong_to_the_unit_or_below(service: GapBoxes) -> None:
    with pytest.raises(NotFound):
        open_box(service, forum_id="nowhere")
    with pytest.raises(NotFound):
        open_box(service, unit_id="nowhere")
    with pytest.raises(InvalidInput, match="does not belong"):
        service.create_box(
            SYSTEM,
            box_id="winter",
            unit_id="cedar",
            forum_id="elsewhere-cm",
            question="Q?",
            opens_on=TODAY,
            closes_on=TODAY,
        )
    # a forum of a descendant unit is fine
    assert open_box(service, unit_id="trust", forum_id="cedar-cm").forum_id == "cedar-cm"


def test_a_taken_id_is_refused(service: GapBoxes) -> None:
    open_box(service)
    with pytest.raises(AlreadyExists):
        open_box(service, question="Another question")
    assert service.box("winter").question == "What would make winter on the ward better?"


def test_an_idempotency_key_returns_the_first_box(service: GapBoxes) -> None:
    key = IdempotencyKey("k1", "fingerprint")
    first = service.create_box(
        moderator("trust"),
        box_id="winter",
        unit_id="trust",
        forum_id="cedar-cm",
        question="Q?",
        opens_on=TODAY,
        closes_on=TODAY,
        idempotency=key,
    )
    again = service.create_box(
        moderator("trust"),
        box_id="winter",
        unit_id="trust",
        forum_id="cedar-cm",
        question="Q?",
        opens_on=TODAY,
        closes_on=TODAY,
        idempotency=key,
    )
    assert not first.replayed and again.replayed
    assert again.value.id == first.value.id
    with pytest.raises(InvalidInput):
        service.create_box(
            moderator("trust"),
            box_id="winter",
            unit_id="trust",
            forum_id="cedar-cm",
            question="Q?",
            opens_on=TODAY,
            closes_on=TODAY,
            idempotency=IdempotencyKey("k1", "another request"),
        )


# -- suggestions ---------------------------------------------------------------------


def test_a_suggestion_becomes_an_unpublished_anonymous_gap_box_item(
    app: Yswd, service: GapBoxes
) -> None:
    open_box(service)
    written = service.suggest("winter", "  More blankets, please.  ", "10.0.0.1")
    item: Item = app.repository.get(written.value.id)
    assert item.channel is Channel.GAP_BOX
    assert item.status is Status.RAISED and item.published is False
    assert (item.forum_id, item.unit_id) == ("cedar-cm", "cedar")
    assert item.you_said == "More blankets, please."
    assert item.title == "More blankets, please."
    assert item.contributor is None
    assert item.raised_on == TODAY
    raised = next(iter(app.events.get(written.value.id)))
    assert raised.actor == PUBLIC_ACTOR
    assert item.detail == "Left in the gap box 'winter': What would make winter on the ward better?"
    assert service.suggestion_ids(service.box("winter")) == [item.item_id]


def test_a_suggestion_writes_only_its_item_so_a_burst_to_one_box_never_conflicts(
    app: Yswd, service: GapBoxes
) -> None:
    open_box(service)
    box_version = service.box("winter").version
    before = app.recorder.max_notification_id() or 0
    first = service.suggest("winter", "First", "a")
    second = service.suggest("winter", "Second", "b")
    assert app.recorder.max_notification_id() == before + 2  # one event each: the items
    assert service.box("winter").version == box_version  # the box is not written at all
    assert service.suggestion_ids(service.box("winter")) == [
        first.value.item_id,
        second.value.item_id,
    ]


def test_suggestions_recorded_on_the_box_by_an_older_version_are_still_found(
    app: Yswd, service: GapBoxes
) -> None:
    detail = "Left in the gap box 'winter': an older question"
    item = recorded_on_the_box(app, open_box(service), detail)
    newer = service.suggest("winter", "A newer one", "a").value
    assert service.suggestion_ids(service.box("winter")) == [item.item_id, newer.item_id]


def test_results_show_only_published_suggestions_in_their_public_form(
    app: Yswd, service: GapBoxes
) -> None:
    open_box(service)
    kept = service.suggest("winter", "A kettle on the ward", "a").value
    service.suggest("winter", "Something personal about Ian", "a")
    app.publish(SYSTEM, kept.item_id, "A kettle for the ward", None)
    app.complete(SYSTEM, kept.item_id, "Bought one.", None)
    box, items = service.results("winter")
    assert box.box_id == "winter"
    assert [(i["id"], i["you_said"], i["we_did"]) for i in items] == [
        (kept.item_id, "A kettle for the ward", "Bought one.")
    ]
    assert "contributor" not in items[0] and "detail" not in items[0]
    with pytest.raises(NotFound):
        service.results("nowhere")


def test_results_come_from_the_index_rows_not_from_the_store(
    app: Yswd, service: GapBoxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A box with many published suggestions answers from one read of the index: no
    item is loaded from the event store (each was, before: 30 ms for 300 published)."""
    open_box(service)
    kept = [service.suggest("winter", f"Idea {n}", str(n)).value for n in range(3)]
    for item in kept:
        app.publish(SYSTEM, item.item_id, None, None)
    loaded: list[str] = []
    load_item = app.load_item
    monkeypatch.setattr(
        app, "load_item", lambda item_id: loaded.append(item_id) or load_item(item_id)
    )
    _, items = service.results("winter")
    assert [i["id"] for i in items] == [item.item_id for item in kept]
    assert loaded == []


def test_results_still_show_a_suggestion_only_the_box_recorded(
    app: Yswd, service: GapBoxes
) -> None:
    """An old store's box names its items (``SuggestionReceived``); one the index does not
    show as published is loaded from the store and shown only if it is on public boards."""
    # no prefix in its detail: the index cannot find it, only the box names it
    old = recorded_on_the_box(app, open_box(service), "recorded on the box only")
    assert service.results("winter")[1] == []
    app.publish(SYSTEM, old.item_id, None, None)
    assert [i["id"] for i in service.results("winter")[1]] == ["old-one"]


def test_suggestions_outside_the_window_are_refused(
    app: Yswd, service: GapBoxes, clock: Clock
) -> None:
    open_box(service, opens_on=TODAY + timedelta(days=1), closes_on=TODAY + timedelta(days=2))
    before = app.recorder.max_notification_id()
    with pytest.raises(GapBoxClosed):
        service.suggest("winter", "Too early", "a")
    clock.now = NOW + timedelta(days=1)
    service.suggest("winter", "On time", "a")
    clock.now = NOW + timedelta(days=3)
    with pytest.raises(GapBoxClosed):
        service.suggest("winter", "Too late", "a")
    assert app.recorder.max_notification_id() == (before or 0) + 1  # the item alone
    assert len(service.suggestion_ids(service.box("winter"))) == 1


@pytest.mark.parametrize("text", ["", "   ", "x" * 4001, "bad\x00byte"])
def test_empty_long_or_binary_suggestions_are_refused(service: GapBoxes, text: str) -> None:
    open_box(service)
    with pytest.raises(InvalidInput):
        service.suggest("winter", text, "a")


def test_a_suggestion_for_an_unknown_box_is_not_found(service: GapBoxes) -> None:
    with pytest.raises(NotFound):
        service.suggest("nowhere", "Hello", "a")


def test_the_limiter_is_consulted_only_for_suggestions_that_would_be_written(
    app: Yswd,
) -> None:
    limiter = SlidingWindowLimiter(2, 60, clock=FakeTime())
    service = GapBoxes(app, limiter)
    open_box(service)
    open_box(
        service, "closed", opens_on=TODAY - timedelta(days=9), closes_on=TODAY - timedelta(days=8)
    )
    with pytest.raises(GapBoxClosed):
        service.suggest("closed", "x", "1.2.3.4")
    service.suggest("winter", "one", "1.2.3.4")
    service.suggest("winter", "two", "1.2.3.4")
    before = app.recorder.max_notification_id()
    with pytest.raises(RateLimited):
        service.suggest("winter", "three", "1.2.3.4")
    assert app.recorder.max_notification_id() == before
    service.suggest("winter", "from someone else", "5.6.7.8")


def test_long_suggestions_get_a_short_title_cut_at_a_word() -> None:
    text = "The heating in the lounge " * 10
    title = title_from(text)
    assert len(title) <= 80
    assert title.endswith("…")
    assert text.startswith(title[:-1])
    assert title_from("short\n\n  and   sweet") == "short and sweet"
    assert len(title_from("x" * 500)) == 80


# -- the rate limiter ------------------------------------------------------------------


def test_the_window_slides() -> None:
    time = FakeTime()
    limiter = SlidingWindowLimiter(3, 60, clock=time)
    for _ in range(3):
        limiter.acquire("a")
        time.now += 10  # hits at 1000, 1010, 1020
    with pytest.raises(RateLimited) as refused:
        limiter.acquire("a")  # at 1030: the oldest frees up at 1060
    assert refused.value.retry_after == 30
    limiter.acquire("b")  # another client is counted apart
    time.now = 1060.0
    limiter.acquire("a")  # the hit at 1000 has left the window
    with pytest.raises(RateLimited) as refused:
        limiter.acquire("a")
    assert refused.value.retry_after == 10


def test_retry_after_is_at_least_one_second() -> None:
    time = FakeTime()
    limiter = SlidingWindowLimiter(1, 1, clock=time)
    limiter.acquire("a")
    time.now += 0.999
    with pytest.raises(RateLimited) as refused:
        limiter.acquire("a")
    assert refused.value.retry_after == 1


def test_the_limiter_is_thread_safe() -> None:
    limiter = SlidingWindowLimiter(50, 3600)
    admitted: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(40):
            try:
                limiter.acquire("flood")
            except RateLimited:
                continue
            with lock:
                admitted.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 50


def test_idle_clients_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    import yswd.adapters.http.rate_limit as rate_limit

    monkeypatch.setattr(rate_limit, "SWEEP_AT", 3)
    time = FakeTime()
    limiter = SlidingWindowLimiter(1, 10, clock=time)
    for client in ("a", "b", "c"):
        limiter.acquire(client)
    time.now += 11
    limiter.acquire("d")
    assert set(limiter._hits) == {"d"}
