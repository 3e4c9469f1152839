"""Public answers are kept until a read model moves, and never served stale after that."""

from __future__ import annotations

from datetime import date

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import build
from yswd.projections.public_board import PublicBoardQueries


def test_a_board_answer_is_reused_until_a_write_is_projected() -> None:
    container = build(memory=True)
    try:
        app, runner = container.app, container.runner
        app.create_unit(SYSTEM, "trust", "A trust", None)
        app.create_forum(SYSTEM, "cm", "Meeting", "trust", ForumKind.COMMUNITY_MEETING)
        runner.catch_up()
        computed: list[int] = []

        def board_total() -> int:
            total = PublicBoardQueries(container.engine, container.unit_path).board("trust").total
            computed.append(total)
            return total

        assert runner.answers.get(("board", "trust"), board_total) == 0
        assert runner.answers.get(("board", "trust"), board_total) == 0
        assert computed == [0]  # the second answer came from the cache

        item = app.raise_item(
            SYSTEM,
            forum_id="cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title="Laundry",
            you_said="Broken machine",
        ).value
        app.publish(SYSTEM, item.item_id, None, None)
        # written but not yet projected: the read models have not moved
        assert runner.answers.get(("board", "trust"), board_total) == 0

        runner.catch_up()
        assert runner.answers.get(("board", "trust"), board_total) == 1
        assert computed == [0, 1]
        assert runner.answers.get(("other", "key"), lambda: "x") == "x"
    finally:
        container.close()


def test_a_unit_s_answer_read_during_a_rebuild_is_renewed_as_the_rebuild_goes_on() -> None:
    """A board read half way through a rebuild is kept only until the next batch lands."""
    container = build(memory=True)
    try:
        app, runner = container.app, container.runner
        app.create_unit(SYSTEM, "trust", "A trust", None)
        app.create_unit(SYSTEM, "ward", "A ward", "trust")
        app.create_forum(SYSTEM, "cm", "Meeting", "ward", ForumKind.COMMUNITY_MEETING)
        for title in ("Laundry", "Garden", "Kettle", "Quiet room"):
            item = app.raise_item(
                SYSTEM,
                forum_id="cm",
                channel=Channel.COMMUNITY_MEETING,
                raised_on=date(2026, 11, 2),
                title=title,
                you_said="Please look at it.",
            ).value
            app.publish(SYSTEM, item.item_id, None, None)
        runner.catch_up()
        board = PublicBoardQueries(container.engine, container.unit_path)

        def total(unit_id: str) -> int:
            return runner.answers.get(
                ("total", unit_id), lambda: board.board(unit_id).total, unit_id=unit_id
            )

        assert total("ward") == total("trust") == 4
        seen: list[int] = []
        runner.batch_size = runner.rebuild_batch_size = 2  # a batch of two events at a time
        runner.rebuild(progress=lambda _: seen.append(total("ward")))
        assert seen[0] < 4  # an answer was kept part way through
        assert total("ward") == total("trust") == 4
    finally:
        container.close()
