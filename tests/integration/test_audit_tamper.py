"""Tamper evidence on a real SQLite file and on a real PostgreSQL server: stored rows are
edited behind the service's back, and verify names the first bad event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build

from .servers import Postgres, postgres_or_skip
from .stored_rows import STORES, StoredRows, store_settings


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture(params=STORES)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    built = build(store_settings(request, tmp_path, admin_token="tamper-admin"))
    app = built.app
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    for n in range(4):
        item = app.raise_item(
            SYSTEM,
            forum_id="cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title=f"Item {n}",
            you_said=f"Thing number {n} is broken.",
            detail=f"detail {n}",
            contributor=f"Person {n}",
        ).value
        app.publish(SYSTEM, item.item_id, None, None)
        app.respond(SYSTEM, item.item_id, f"We fixed thing {n}.", None)
    built.runner.catch_up()
    yield built
    built.close()


def rows(container: Container) -> list[tuple[int, str, int]]:
    return StoredRows(container).rows()


def test_untampered_log_verifies(container: Container) -> None:
    answer = container.audit.verify(SYSTEM)
    assert answer == {"ok": True, "events_checked": len(rows(container))}
    assert answer["events_checked"] >= 4 * 3


def test_altered_state_is_named(container: Container) -> None:
    position, originator_id, version = rows(container)[7]
    state = StoredRows(container).state(position)
    edited = state.replace(b"fixed", b"broke") if b"fixed" in state else state + b" "
    assert edited != state
    StoredRows(container).set_state(position, edited)
    answer = container.audit.verify(SYSTEM)
    assert answer["ok"] is False
    assert answer["events_checked"] == 7
    bad = answer["first_bad"]
    assert (bad["position"], bad["originator_id"], bad["version"]) == (
        position,
        originator_id,
        version,
    )
    assert "altered" in bad["reason"]


def test_altered_topic_is_named(container: Container) -> None:
    position, originator_id, version = rows(container)[9]
    StoredRows(container).set_topic(position, "yswd.aggregates.item:Item.Completed")
    bad = container.audit.verify(SYSTEM)["first_bad"]
    assert (bad["position"], bad["originator_id"], bad["version"]) == (
        position,
        originator_id,
        version,
    )


def test_deleted_row_is_named(container: Container) -> None:
    position, originator_id, version = rows(container)[5]
    StoredRows(container).delete(position)
    answer = container.audit.verify(SYSTEM)
    assert answer["ok"] is False
    bad = answer["first_bad"]
    assert (bad["position"], bad["originator_id"], bad["version"]) == (
        position,
        originator_id,
        version,
    )
    assert "deleted" in bad["reason"]


def test_deleted_last_row_is_named(container: Container) -> None:
    position, originator_id, _ = rows(container)[-1]
    StoredRows(container).delete(position)
    bad = container.audit.verify(SYSTEM)["first_bad"]
    assert (bad["position"], bad["originator_id"]) == (position, originator_id)


def test_swapped_states_are_named_at_the_first(container: Container) -> None:
    listed = rows(container)
    first, second = listed[8][0], listed[11][0]
    StoredRows(container).swap_states(first, second)
    answer = container.audit.verify(SYSTEM)
    assert answer["ok"] is False
    assert answer["first_bad"]["position"] == first
    assert answer["events_checked"] == 8


def test_inserted_undecodable_row_is_named(container: Container) -> None:
    """A forged row copied from a real item: its sealed fields do not even decrypt."""
    source = next(r for r in rows(container) if r[1].startswith("item:") and r[2] == 1)
    StoredRows(container).insert_copy(source[0], "item:forged")
    forged = rows(container)[-1]
    answer = container.audit.verify(SYSTEM)
    assert answer["ok"] is False
    assert answer["first_bad"]["position"] == forged[0]
    assert answer["first_bad"]["originator_id"] == "item:forged"
    assert answer["events_checked"] == len(rows(container)) - 1


def test_inserted_well_formed_row_is_caught_by_its_seal(container: Container) -> None:
    """A forged row that decodes (so the chain takes it in) still fails its seal."""
    source = next(r for r in rows(container) if r[1].startswith("token:"))
    StoredRows(container).insert_copy(source[0], "token:forged")
    forged = rows(container)[-1]
    answer = container.audit.verify(SYSTEM)
    assert answer["ok"] is False
    assert answer["first_bad"]["position"] == forged[0]
    assert "seal" in answer["first_bad"]["reason"]


def test_verify_after_later_writes_still_ok(container: Container) -> None:
    """The chain keeps extending as the service writes; nothing is flagged."""
    container.app.create_unit(SYSTEM, "ward-2", "Second ward", None)
    answer = container.audit.verify(SYSTEM)
    assert answer == {"ok": True, "events_checked": len(rows(container))}


def test_a_deleted_record_of_a_read_is_named(container: Container) -> None:
    """Someone hiding that they read a contributor's details is caught like any other edit."""
    item_id = container.staff_items.list_items(SYSTEM)[0]["id"]
    container.app.get_item(SYSTEM, item_id)  # recorded as a read of identifiable data
    container.app.create_unit(SYSTEM, "ward-3", "Third ward", None)
    container.runner.catch_up()
    assert container.audit.verify(SYSTEM)["ok"] is True
    position, originator_id, version = next(r for r in rows(container) if r[1].startswith("read:"))
    StoredRows(container).delete(position)
    bad = container.audit.verify(SYSTEM)["first_bad"]
    assert (bad["position"], bad["originator_id"], bad["version"]) == (
        position,
        originator_id,
        version,
    )
    assert "deleted" in bad["reason"]
