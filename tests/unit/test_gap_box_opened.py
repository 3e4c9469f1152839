"""A gap box is read from the store once for a burst of suggestions, and still closes on time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from yswd.adapters.persistence import memory_env
from yswd.aggregates.access import SYSTEM, Principal
from yswd.aggregates.errors import NotFound
from yswd.aggregates.gap_box import GapBox, GapBoxClosed
from yswd.aggregates.organisation import ForumKind
from yswd.aggregates.users import Role
from yswd.application.gap_boxes import GapBoxes
from yswd.application.service import Yswd

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def open_box(service: GapBoxes, box_id: str) -> None:
    moderator = Principal("mod-1", "A moderator", Role.MODERATOR, frozenset({"cedar"}))
    service.create_box(
        moderator,
        box_id=box_id,
        unit_id="cedar",
        forum_id="cedar-cm",
        question="What would make winter on the ward better?",
        opens_on=NOW.date(),
        closes_on=NOW.date() + timedelta(days=2),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def service(clock: Clock) -> GapBoxes:
    app = Yswd(memory_env(), clock=clock)
    app.create_unit(SYSTEM, "cedar", "Cedar ward", None)
    app.create_forum(SYSTEM, "cedar-cm", "Cedar meeting", "cedar", ForumKind.COMMUNITY_MEETING)
    return GapBoxes(app)


def test_a_burst_of_suggestions_reads_the_box_once(
    service: GapBoxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_box(service, "winter")
    reads: list[str] = []
    read = service.box

    def counted(box_id: str) -> GapBox:
        reads.append(box_id)
        return read(box_id)

    monkeypatch.setattr(service, "box", counted)
    ids = {service.suggest("winter", f"Idea {n}", "127.0.0.1").value.item_id for n in range(3)}
    assert len(ids) == 3
    assert reads == ["winter"]
    assert service.opened("winter").question == "What would make winter on the ward better?"


def test_a_box_not_there_yet_is_looked_for_again(service: GapBoxes) -> None:
    with pytest.raises(NotFound):
        service.suggest("spring", "More light", "127.0.0.1")
    open_box(service, "spring")  # by this process or another replica
    assert service.suggest("spring", "More light", "127.0.0.1").value.forum_id == "cedar-cm"


def test_a_cached_box_still_closes_after_its_last_day(service: GapBoxes, clock: Clock) -> None:
    open_box(service, "winter")
    service.suggest("winter", "Warmer blankets", "127.0.0.1")
    clock.now = NOW + timedelta(days=3)
    with pytest.raises(GapBoxClosed):
        service.suggest("winter", "Warmer blankets", "127.0.0.1")
