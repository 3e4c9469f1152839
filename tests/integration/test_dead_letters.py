"""One event a read model cannot apply is dead-lettered; it never stops the board."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Column, Connection, MetaData, String, Table, delete, select
from sqlalchemy.exc import OperationalError

from yswd.adapters.http.app import create_app
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel, Item
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.projections.item_tables import items
from yswd.projections.runner import ProjectionRunner
from yswd.settings import Settings

ADMIN_TOKEN = "dead-letter-admin-token"

titles_metadata = MetaData()
titles = Table(
    "rm_test_titles",
    titles_metadata,
    Column("item_id", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
)


class CannotIndex(ValueError):
    """The bug in the read model below."""


class Titles:
    """A real read model with a bug: it cannot index one title while ``broken``."""

    name = "titles"
    metadata = titles_metadata
    wants_stored_form = False

    def __init__(self) -> None:
        self.broken = True
        self.batches = 0

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        self.apply_batch(conn, [(position, event)])

    def apply_batch(self, conn: Connection, events: list[tuple[int, Any]]) -> None:
        self.batches += 1
        for _, event in events:
            if not isinstance(event, Item.Raised):
                continue
            if self.broken and event.title == "Poison":
                raise CannotIndex("this title cannot be indexed")
            item_id = str(event.originator_id).removeprefix("item:")
            conn.execute(titles.insert().values(item_id=item_id, title=event.title))

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(titles))


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(
        Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, run_projections=False)
    )
    yield built
    built.close()


def raise_item(container: Container, title: str) -> tuple[str, int]:
    written = container.app.raise_item(
        SYSTEM,
        forum_id="cm",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title=title,
        you_said=f"About {title}",
        contributor="A patient",
    )
    assert written.position is not None
    return written.value.item_id, written.position


def test_an_event_a_read_model_cannot_apply_is_dead_lettered_and_skipped(
    container: Container,
) -> None:
    model = Titles()
    runner = ProjectionRunner(
        container.app,
        container.runner.database,
        [*container.read_models.values(), model],
        retries=2,
    )
    runner.create_tables()
    container.runner = runner
    container.app.create_unit(SYSTEM, "trust", "A trust", None)
    container.app.create_forum(SYSTEM, "cm", "Meeting", "trust", ForumKind.COMMUNITY_MEETING)
    first, _ = raise_item(container, "Laundry")
    poison, poison_position = raise_item(container, "Poison")
    later, _ = raise_item(container, "Garden")
    container.app.respond(SYSTEM, later, "We are on it.", None)

    runner.catch_up()

    # every read model is at the head: nothing is stuck behind the bad event
    assert all(lag["lag"] == 0 for lag in runner.lag().values())
    with container.engine.connect() as conn:
        indexed = dict(conn.execute(select(titles.c.item_id, titles.c.title)).all())
        staff = set(conn.scalars(select(items.c.item_id)))
    assert indexed == {first: "Laundry", later: "Garden"}  # later events still applied
    assert staff == {first, poison, later}  # the other read models applied the bad event
    # the batch was tried 1 + 2 times whole, then split up event by event
    assert model.batches > 3

    letters = runner.dead_letters()
    assert [(d["read_model"], d["position"]) for d in letters] == [("titles", poison_position)]
    letter = letters[0]
    assert letter["topic"].endswith("Item.Raised")
    assert letter["error_class"].endswith("CannotIndex")
    assert letter["error"] == "this title cannot be indexed"
    assert "A patient" not in str(letter) and "About Poison" not in str(letter)

    # later writes carry on, and the dead letter is recorded once
    fourth, _ = raise_item(container, "Lighting")
    runner.catch_up()
    with container.engine.connect() as conn:
        assert conn.scalar(select(titles.c.title).where(titles.c.item_id == fourth)) == "Lighting"
    assert len(runner.dead_letters()) == 1

    # staff see it on the status endpoint
    with TestClient(create_app(container)) as client:
        status = client.get("/api/v1/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert status.status_code == 200
    body = status.json()
    assert [(d["read_model"], d["position"]) for d in body["dead_letters"]] == [
        ("titles", poison_position)
    ]
    assert body["projections"]["titles"]["lag"] == 0

    # once the bug is fixed, a rebuild tries the event again
    model.broken = False
    runner.rebuild(["titles"])
    assert runner.dead_letters() == []
    with container.engine.connect() as conn:
        indexed = dict(conn.execute(select(titles.c.item_id, titles.c.title)).all())
    assert indexed[poison] == "Poison"
    assert len(indexed) == 4


def test_a_rebuild_that_still_fails_records_the_dead_letter_again(container: Container) -> None:
    model = Titles()
    runner = ProjectionRunner(
        container.app,
        container.runner.database,
        [*container.read_models.values(), model],
        retries=0,
    )
    runner.create_tables()
    container.app.create_unit(SYSTEM, "trust", "A trust", None)
    container.app.create_forum(SYSTEM, "cm", "Meeting", "trust", ForumKind.COMMUNITY_MEETING)
    _, position = raise_item(container, "Poison")
    raise_item(container, "Fine")
    runner.catch_up()
    assert [d["position"] for d in runner.dead_letters()] == [position]

    runner.rebuild()

    assert [d["position"] for d in runner.dead_letters()] == [position]
    assert runner.lag()["titles"]["lag"] == 0


class Unreachable(Titles):
    """A read model whose database goes away: that is an outage, not a bad event."""

    def apply_batch(self, conn: Connection, events: list[tuple[int, Any]]) -> None:
        raise OperationalError("INSERT ...", {}, ConnectionError("server closed the connection"))


def test_a_database_outage_is_retried_later_never_dead_lettered(container: Container) -> None:
    runner = ProjectionRunner(
        container.app, container.runner.database, [*container.read_models.values(), Unreachable()]
    )
    runner.create_tables()
    container.app.create_unit(SYSTEM, "trust", "A trust", None)
    container.app.create_forum(SYSTEM, "cm", "Meeting", "trust", ForumKind.COMMUNITY_MEETING)
    raise_item(container, "Laundry")

    with pytest.raises(OperationalError):
        runner.catch_up()

    assert runner.dead_letters() == []
    assert runner.positions()["titles"] == 0  # the whole batch rolled back, to be retried
