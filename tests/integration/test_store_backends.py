"""The same behaviour on both stores: embedded SQLite and a real PostgreSQL server.

PostgreSQL is started once for this module on a free loopback port (see
``servers.py``); each test gets its own fresh database in it.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, delete, func, select

from tests.board_counts_check import assert_counts_match_items, published_rows, stored_counts
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.errors import TransitionNotAllowed
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.projections.item_tables import items
from yswd.projections.public_board import PublicBoardQueries
from yswd.projections.response_times import MetricsQueries
from yswd.projections.runner import ProjectionRunner
from yswd.projections.staff_items import StaffItems
from yswd.settings import Settings

from .servers import Postgres, postgres_or_skip

_databases = itertools.count(1)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data", run_projections=False)
    server: Postgres = request.getfixturevalue("postgres")
    name = f"yswd_t{next(_databases)}"
    url = server.new_database(name)
    return Settings(database_url=url, data_dir=tmp_path / "unused", run_projections=False)


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = build(settings)
    yield built
    built.close()


def organisation(container: Container) -> None:
    app = container.app
    app.create_unit(SYSTEM, "trust", "A trust", None)
    for ward in ("oak", "ash"):
        app.create_unit(SYSTEM, ward, f"{ward.title()} ward", "trust")
        app.create_forum(SYSTEM, f"{ward}-cm", f"{ward} meeting", ward, ForumKind.COMMUNITY_MEETING)


def raise_one(container: Container, forum: str, n: int) -> str:
    return container.app.raise_item(
        SYSTEM,
        forum_id=forum,
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 3, 1) + timedelta(days=n % 200),
        title=f"Issue {n}",
        you_said=f"Something to fix, number {n}",
        contributor="A patient" if n % 2 else None,
        themes=["food"],
    ).value.item_id


def random_history(container: Container, seed: int, commands: int) -> None:
    rng = random.Random(seed)
    app = container.app
    item_ids: list[str] = []
    for step in range(commands):
        if not item_ids or rng.random() < 0.35:
            item_ids.append(raise_one(container, rng.choice(("oak-cm", "ash-cm")), step))
            continue
        item_id = rng.choice(item_ids)
        with suppress(TransitionNotAllowed):  # refusals belong in a random history
            match rng.choice(("refer", "respond", "complete", "progress", "publish")):
                case "refer":
                    app.refer(SYSTEM, item_id, rng.choice(("oak", "trust")), None, "over", None)
                case "respond":
                    app.respond(SYSTEM, item_id, f"response {step}", None)
                case "complete":
                    app.complete(SYSTEM, item_id, f"we did {step}", None)
                case "progress":
                    app.note_progress(SYSTEM, item_id, f"progress {step}", None)
                case _:
                    app.publish(SYSTEM, item_id, None, None)


def dump(container: Container) -> list[tuple[Any, ...]]:
    """The item rows, and the board's per-unit counts, which must equal a count of them."""
    assert_counts_match_items(container.engine)
    with container.engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(select(items).order_by(items.c.item_id))]
    return [*rows, *sorted(stored_counts(container.engine).items())]


def test_the_store_in_use_is_the_one_configured(container: Container) -> None:
    if container.settings.database_url:
        assert container.engine.dialect.name == "postgresql"
        assert type(container.app.recorder).__module__ == "eventsourcing.postgres"
        with container.engine.connect() as conn:
            tables = set(
                conn.scalars(
                    select(func.lower(Column("tablename")))
                    .select_from(Table("pg_tables", MetaData()))
                    .where(Column("schemaname") == "public")
                )
            )
        assert {"yswd_events", items.name, "projection_tracking"} <= tables
    else:
        assert container.engine.dialect.name == "sqlite"


def test_raise_respond_complete_and_the_staff_list(container: Container) -> None:
    organisation(container)
    raised = raise_one(container, "oak-cm", 1)
    responded = raise_one(container, "oak-cm", 2)
    done = raise_one(container, "ash-cm", 3)
    container.app.respond(SYSTEM, responded, "We will look at it", None)
    container.app.respond(SYSTEM, done, "We will fix it", None)
    container.app.complete(SYSTEM, done, "Fixed the kettle", None)

    applied = container.runner.catch_up()

    assert applied == container.runner.head()
    listed = {doc["id"]: doc["status"] for doc in container.staff_items.list_items(SYSTEM)}
    assert listed == {raised: "raised", responded: "responded", done: "done"}
    oak = container.staff_items.list_items(SYSTEM, unit_id="oak")
    assert {doc["id"] for doc in oak} == {raised, responded}
    assert [d["we_did"] for d in container.staff_items.list_items(SYSTEM, status="done")] == [
        "Fixed the kettle"
    ]
    # a later change is an update of the same row (the dialect's upsert), not a new row
    container.app.note_progress(SYSTEM, raised, "Asked the kitchen", None)
    container.runner.catch_up()
    assert container.staff_items.count() == 3
    assert container.runner.lag()["staff_items"]["lag"] == 0


def test_a_rebuild_gives_identical_rows(container: Container) -> None:
    organisation(container)
    container.runner.batch_size = 11
    random_history(container, seed=3, commands=120)
    container.runner.catch_up()
    incremental = dump(container)
    assert len(incremental) > 20
    assert stored_counts(container.engine)  # something was published

    assert container.runner.rebuild() == container.runner.head()

    assert dump(container) == incremental


class AppliedLog:
    """A test read model that appends one row per event it is given, no key at all.

    If any runner ever applied an event twice, a position would appear twice.
    """

    name = "applied_log"
    wants_stored_form = True
    metadata = MetaData()
    table = Table("test_applied_log", metadata, Column("position", Integer, nullable=False))

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        conn.execute(self.table.insert().values(position=position))

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(self.table))


def test_two_racing_runners_never_apply_an_event_twice(
    container: Container, settings: Settings
) -> None:
    organisation(container)
    second = build(settings)  # another worker process's own objects
    try:
        runners = [
            ProjectionRunner(
                c.app, c.runner.database, [StaffItems(c.app), AppliedLog()], batch_size=7
            )
            for c in (container, second)
        ]
        runners[0].create_tables()
        runners[1].create_tables()
        stop = threading.Event()
        errors: list[BaseException] = []

        def race(runner: ProjectionRunner) -> None:
            try:
                while not stop.is_set():
                    runner.catch_up()
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=race, args=(r,)) for r in runners]
        for thread in threads:
            thread.start()
        random_history(container, seed=5, commands=80)
        random_history(second, seed=6, commands=80)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        for runner in runners:
            runner.catch_up()

        head = runners[0].head()
        with container.engine.connect() as conn:
            positions = list(conn.scalars(select(AppliedLog.table.c.position)))
        assert sorted(positions) == list(range(1, head + 1))  # each exactly once
        raced = dump(container)
        assert len(raced) > 10

        runners[0].rebuild()
        assert dump(container) == raced
    finally:
        second.close()


def test_the_public_figures_read_every_published_row_of_the_subtree_on_either_store(
    container: Container,
) -> None:
    """``MetricsQueries.rows`` runs on the driver's own cursor (``sql.plain_rows``): the
    same rows, windows and referral steps whichever store it is."""
    organisation(container)
    random_history(container, seed=5, commands=150)
    container.runner.catch_up()
    queries = MetricsQueries(container.engine, container.unit_path)
    columns = (items.c.unit_id, items.c.status, items.c.raised_on, items.c.referred_to)
    published = published_rows(container.engine, *columns)
    assert published

    def seen(rows: list[Any]) -> list[tuple[str, str]]:
        return sorted((row.status, row.raised_on.isoformat()) for row in rows)

    assert seen(queries.rows("trust")) == sorted((s, r) for _, s, r, _ in published)
    assert seen(queries.rows("oak")) == sorted((s, r) for u, s, r, _ in published if u == "oak")
    window = queries.rows("trust", date(2026, 4, 1), date(2026, 6, 30))
    assert seen(window) == sorted(
        (s, r) for _, s, r, _ in published if "2026-04-01" <= r <= "2026-06-30"
    )
    referred = sum(1 for *_, to in published if to is not None)
    assert sum(1 for row in queries.rows("trust") if row.referral_steps) == referred
    assert queries.rows("no-such-unit") == []


def test_a_board_filtered_by_a_theme_finds_that_theme_exactly_on_either_store(
    container: Container,
) -> None:
    """Case counts, and ``%`` or ``_`` in a theme are letters, not wildcards."""
    organisation(container)
    app = container.app
    titles: dict[str, str] = {}
    for n, theme in enumerate(("Food", "food", "100% fresh", "100x fresh", "a_b", "axb")):
        item_id = app.raise_item(
            SYSTEM,
            forum_id="oak-cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 3, 1) + timedelta(days=n),
            title=f"About {theme}",
            you_said="Something to fix",
            themes=[theme],
        ).value.item_id
        app.publish(SYSTEM, item_id, None, None)
        titles[theme] = f"About {theme}"
    container.runner.catch_up()
    boards = PublicBoardQueries(container.engine, container.unit_path)
    for theme, title in titles.items():
        for unit in ("trust", "oak"):
            board = boards.board(unit, theme=theme, with_themes=True)
            assert [item["title"] for item in board.items] == [title], (unit, theme)
            assert board.total == 1
            assert board.themes == sorted(titles, key=str.casefold)
    assert_counts_match_items(container.engine)
