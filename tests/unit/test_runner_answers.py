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
