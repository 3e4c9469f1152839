"""The unit of work: one save per command, retried on fresh state when another writer won."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from yswd.adapters.persistence import memory_env
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.base import Aggregate
from yswd.aggregates.errors import AlreadyExists, InvalidInput, VersionConflict
from yswd.aggregates.organisation import Unit
from yswd.application import unit_of_work
from yswd.application.service import Yswd
from yswd.application.unit_of_work import IdempotencyKey, UnitOfWork, log_position

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def uow() -> UnitOfWork:
    app = Yswd(memory_env(), clock=lambda: NOW)
    app.create_unit(SYSTEM, "cedar", "Cedar ward", None)
    return app.uow


def test_a_save_answers_the_log_position_of_its_last_event(uow: UnitOfWork) -> None:
    unit = Unit.create("willow", "Willow ward", None, SYSTEM.user_id, NOW)
    assert uow.save(unit) == 2
    assert log_position([]) is None


def test_a_lost_race_runs_the_whole_attempt_again_on_fresh_state(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unit_of_work.time, "sleep", lambda _: None)
    rounds: list[int] = []
    raced = Unit.create("cedar", "Cedar again", None, SYSTEM.user_id, NOW)  # saved first

    def attempt() -> list[Aggregate]:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            return [raced]
        return [Unit.create("willow", "Willow ward", None, SYSTEM.user_id, NOW)]

    assert uow.save_with_retries("Unit 'willow'", attempt) == 2
    assert rounds == [0, 1]


def test_if_match_refuses_instead_of_retrying(uow: UnitOfWork) -> None:
    raced = Unit.create("cedar", "Cedar again", None, SYSTEM.user_id, NOW)
    with pytest.raises(VersionConflict, match="changed while this request was handled"):
        uow.save_with_retries("Unit 'cedar'", lambda: [raced], fenced=True)


def test_a_writer_that_always_loses_is_told_so_in_the_callers_words(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unit_of_work.time, "sleep", lambda _: None)
    monkeypatch.setattr(unit_of_work, "MAX_RETRIES", 3)

    def attempt() -> list[Aggregate]:
        return [Unit.create("cedar", "Cedar again", None, SYSTEM.user_id, NOW)]

    with pytest.raises(VersionConflict, match=r"^This ward is busy; try again\.$"):
        uow.save_with_retries("Unit 'cedar'", attempt, busy="This ward is busy; try again.")


def test_an_attempt_with_nothing_to_record_saves_nothing(uow: UnitOfWork) -> None:
    assert uow.save_with_retries("Unit 'cedar'", list) is None
    assert uow.store.recorder.max_notification_id() == 1


def test_a_repeated_idempotency_key_gets_the_first_answer(uow: UnitOfWork) -> None:
    key = IdempotencyKey("k-1", "POST /units {willow}")
    first = uow.save_new(
        SYSTEM, Unit.create("willow", "Willow ward", None, SYSTEM.user_id, NOW), "unit", key
    )
    again = uow.save_new(
        SYSTEM, Unit.create("willow", "Willow ward", None, SYSTEM.user_id, NOW), "unit", key
    )
    assert (again.value.id, again.replayed, again.position) == (first.value.id, True, None)
    with pytest.raises(InvalidInput):
        uow.replay(SYSTEM, IdempotencyKey("k-1", "POST /units {another}"))
    with pytest.raises(AlreadyExists, match=r"The unit id 'willow' is taken\."):
        uow.save_new(
            SYSTEM, Unit.create("willow", "Willow", None, SYSTEM.user_id, NOW), "unit", None
        )
