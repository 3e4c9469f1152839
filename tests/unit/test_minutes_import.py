"""The import service against the in-memory store: atomic, idempotent under races."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.organisation import ForumKind
from yswd.application.minutes import ImportAnswer, MinutesImporter
from yswd.bootstrap import Container, build

TEXT = "title,you_said\nLaundry,The machine is broken\nFood,Dinners are cold\n"


@pytest.fixture
def container() -> Iterator[Container]:
    built = build(memory=True)
    built.app.create_unit(SYSTEM, "cedar", "Cedar ward", None)
    built.app.create_forum(
        SYSTEM, "cedar-cm", "Cedar meeting", "cedar", ForumKind.COMMUNITY_MEETING
    )
    yield built
    built.close()


def item_count(container: Container) -> int:
    return sum(
        1
        for n in container.app.recorder.select_notifications(1, 1000)
        if n.topic.endswith("Raised")
    )


def test_racing_uploads_of_one_file_create_its_items_once(container: Container) -> None:
    answers: list[ImportAnswer] = []
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            answers.append(
                MinutesImporter(container.app).run(SYSTEM, "cedar-cm", TEXT, "csv", dry_run=False)
            )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(answers) == 6
    ids = {tuple(item["id"] for item in answer.body["items"]) for answer in answers}
    assert len(ids) == 1  # every caller got the same first answer
    assert sum(1 for answer in answers if not answer.replayed) == 1
    assert item_count(container) == 2


def test_a_bad_file_writes_nothing(container: Container) -> None:
    before = container.app.recorder.max_notification_id()
    answer = MinutesImporter(container.app).run(
        SYSTEM, "cedar-cm", TEXT + ",no title\n", "csv", dry_run=False
    )
    assert answer.status_code == 422 and answer.body["committed"] is False
    assert container.app.recorder.max_notification_id() == before
