"""A board's per-unit counts move by differences, and always equal a count of the rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.board_counts_check import (
    assert_counts_match_items,
    counted_from_items,
    published_rows,
    stored_counts,
)
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.projections import board_counts
from yswd.projections.board_counts import Counted, changes, count_all
from yswd.projections.item_tables import items
from yswd.projections.public_board import BoardPage, PublicBoardQueries
from yswd.projections.staff_items import StaffItems
from yswd.settings import Settings

THEMES = ("food", "Food", "leave", "100% fresh", "a_b")
STATUSES = ("raised", "referred", "responded", "done", "couldnt_do")

counted = st.builds(
    Counted,
    unit_path=st.sampled_from(("/t/oak/", "/t/ash/", "/t/")),
    status=st.sampled_from(STATUSES),
    published=st.booleans(),
    themes=st.lists(st.sampled_from(THEMES), max_size=3).map(json.dumps),
)


def _total(rows: dict[str, Counted]) -> dict[tuple[str, str, str], int]:
    """The counts of ``rows`` worked out from nothing (what the table must hold)."""
    return count_all(
        (row.unit_path, row.status, row.themes, 1) for row in rows.values() if row.published
    )


@given(st.lists(st.dictionaries(st.sampled_from("abcdef"), counted, max_size=4), max_size=8))
def test_moving_by_differences_batch_after_batch_equals_counting_from_nothing(
    batches: list[dict[str, Counted]],
) -> None:
    rows: dict[str, Counted] = {}
    kept: dict[tuple[str, str, str], int] = {}
    for batch in batches:
        for key, n in changes({i: rows[i] for i in batch if i in rows}, batch).items():
            kept[key] = kept.get(key, 0) + n
            if not kept[key]:
                del kept[key]
        rows.update(batch)
        assert kept == _total(rows)
        assert all(n > 0 for n in kept.values())


def test_an_item_counts_each_of_its_themes_once_and_an_unpublished_one_not_at_all() -> None:
    row = Counted("/t/oak/", "done", True, json.dumps(["food", "food", "leave"]))
    assert changes({}, {"a": row}) == {
        ("/t/oak/", "done", ""): 1,
        ("/t/oak/", "done", "food"): 1,
        ("/t/oak/", "done", "leave"): 1,
    }
    assert changes({}, {"a": row._replace(published=False)}) == {}
    # the same row written again changes nothing; so does a spelling of the same list
    assert changes({"a": row}, {"a": row}) == {}
    assert changes({"a": row}, {"a": row._replace(themes='["leave","food"]')}) == {}


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path / "data", run_projections=False))
    app = built.app
    app.create_unit(SYSTEM, "trust", "A trust", None)
    for ward in ("oak", "ash"):
        app.create_unit(SYSTEM, ward, f"{ward.title()} ward", "trust")
        app.create_forum(SYSTEM, f"{ward}-cm", f"{ward} meeting", ward, ForumKind.COMMUNITY_MEETING)
    yield built
    built.close()


def _board(container: Container, unit_id: str, **kwargs: object) -> BoardPage:
    return PublicBoardQueries(container.engine, container.unit_path).board(unit_id, **kwargs)  # type: ignore[arg-type]


def _raise(container: Container, forum: str, title: str, themes: list[str]) -> str:
    item = container.app.raise_item(
        SYSTEM,
        forum_id=forum,
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title=title,
        you_said=f"{title}: please could we talk about this.",
        themes=themes,
    ).value
    return str(item.item_id)


def test_the_counts_follow_publishing_answering_and_a_safeguarding_restriction(
    container: Container,
) -> None:
    app, runner = container.app, container.runner
    food = _raise(container, "oak-cm", "Cold food", ["food"])
    leave = _raise(container, "ash-cm", "Leave cancelled", ["leave", "food"])
    runner.catch_up()
    assert counted_from_items(container.engine) == {}  # nothing published yet
    assert_counts_match_items(container.engine)

    app.publish(SYSTEM, food, None, None)
    app.publish(SYSTEM, leave, None, None)
    app.complete(SYSTEM, food, "Hot food from Monday.", None)
    runner.catch_up()
    assert_counts_match_items(container.engine)
    board = _board(container, "trust", with_themes=True)
    assert board.counts == {"raised": 1, "referred": 0, "responded": 0, "done": 1, "couldnt_do": 0}
    assert board.total == 2
    assert board.themes == ["food", "leave"]
    assert _board(container, "trust", theme="leave").total == 1
    assert _board(container, "oak", with_themes=True).themes == ["food"]

    app.flag_safeguarding(SYSTEM, leave, "A disclosure at the meeting.", None)
    runner.catch_up()
    assert_counts_match_items(container.engine)
    # the restricted item leaves the counts, and its own theme the list
    assert _board(container, "trust", with_themes=True).themes == ["food"]
    assert _board(container, "trust").total == 1


def test_both_orders_of_reading_a_page_give_the_board_its_newest_items(
    container: Container,
) -> None:
    """A small subtree's page is read by unit path, a large one's by the newest first;
    both give every page exactly as a sort of the rows would, filters and all."""
    app = container.app
    for n in range(40):
        forum = "oak-cm" if n % 8 else "ash-cm"
        item_id = _raise(container, forum, f"Issue {n}", [THEMES[n % 3]])
        app.publish(SYSTEM, item_id, None, None)
        if n % 3 == 0:
            app.complete(SYSTEM, item_id, f"Done {n}", None)
    container.runner.catch_up()
    queries = PublicBoardQueries(container.engine, container.unit_path)
    columns = (items.c.doc, items.c.unit_path, items.c.status, items.c.themes)
    rows = published_rows(container.engine, *columns)
    for unit_id in ("trust", "oak", "ash"):
        prefix = "/" + "/".join(container.unit_path(unit_id) or ()) + "/"
        for statuses, theme in (((), None), (("done",), None), ((), "Food"), (("raised",), "food")):
            wanted = sorted(
                (
                    json.loads(doc)
                    for doc, path, status, themes in rows
                    if path.startswith(prefix)
                    and (not statuses or status in statuses)
                    and (theme is None or theme in json.loads(themes))
                ),
                key=lambda doc: (doc["updated_at"], doc["id"]),
                reverse=True,
            )
            for walk in (True, False):
                for offset in (0, 5):
                    query = queries._page(container.unit_path(unit_id), statuses, theme, walk)
                    with container.engine.connect() as conn:
                        got = [
                            json.loads(doc) for doc in conn.scalars(query.limit(7).offset(offset))
                        ]
                    assert got == wanted[offset : offset + 7], (unit_id, statuses, theme, walk)
            board = queries.board(unit_id, statuses=statuses, theme=theme, limit=7)
            assert board.total == len(wanted)
            assert [item["id"] for item in board.items] == [doc["id"] for doc in wanted[:7]]


def test_sqlite_is_told_which_index_each_order_reads(container: Container) -> None:
    queries = PublicBoardQueries(container.engine, container.unit_path)
    with container.engine.connect() as conn:
        for walk, index in ((True, "ix_rm_items_updated"), (False, "ix_rm_items_unit_path")):
            query = queries._page(container.unit_path("oak"), ("done",), "food", walk).limit(20)
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            plan = " ".join(
                str(row[3]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            )
            assert index in plan, plan


@contextmanager
def an_older_version_writing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Item rows written as a version before the counts wrote them: without moving them."""

    @contextmanager
    def not_counted(conn: object, after: object) -> Iterator[None]:
        yield

    with monkeypatch.context() as patched:
        patched.setattr(board_counts, "moving", not_counted)
        patched.setattr(StaffItems, "followed", None)
        yield


def test_counts_an_older_version_left_behind_are_counted_again_by_the_next_batch(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """During an upgrade a process of the older version may still write item rows; the
    first batch of this version after it finds the counts behind and counts again."""
    app, runner = container.app, container.runner
    first = _raise(container, "oak-cm", "Cold food", ["food"])
    app.publish(SYSTEM, first, None, None)
    runner.catch_up()
    with an_older_version_writing(monkeypatch):
        second = _raise(container, "ash-cm", "Leave cancelled", ["leave"])
        app.publish(SYSTEM, second, None, None)
        app.complete(SYSTEM, first, "Hot food from Monday.", None)
        runner.catch_up()
    assert stored_counts(container.engine) != counted_from_items(container.engine)

    app.note_progress(SYSTEM, second, "Asked the ward manager", None)
    runner.catch_up()
    assert_counts_match_items(container.engine)
    assert _board(container, "trust").counts["done"] == 1


def test_a_store_made_before_the_counts_gets_them_counted_as_it_opens(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = container.app
    with an_older_version_writing(monkeypatch):
        item = _raise(container, "oak-cm", "Cold food", ["food"])
        app.publish(SYSTEM, item, None, None)
        container.runner.catch_up()
    assert stored_counts(container.engine) == {}
    with container.engine.begin() as conn:  # as that version's store had them: not at all
        conn.exec_driver_sql("DROP TABLE rm_board_counts")
        conn.exec_driver_sql("DROP TABLE rm_board_counts_at")

    container.runner.create_tables()  # what every process does as it starts
    assert_counts_match_items(container.engine)
    assert _board(container, "oak", with_themes=True).themes == ["food"]
