"""Crypto-shredding on a real SQLite data folder: no byte of the erased data survives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from yswd.adapters.crypto import ERASED
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.item_views import public_view
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.settings import Settings

GONE_NAME = "Zebedee Quixotica-Marwood"
GONE_DETAIL = "Xylophone-keeper told me about the locked garden on Tuesday"
KEPT_NAME = "Philippa Oddlyunique"
KEPT_DETAIL = "Vermilion notebook story about the kettle"


def every_file_contains(folder: Path, needle: str) -> list[str]:
    """Paths of files in ``folder`` holding ``needle`` in UTF-8, UTF-16 or any letter case."""
    needles = {
        needle.encode(),
        needle.lower().encode(),
        needle.upper().encode(),
        needle.encode("utf-16-le"),
        needle.encode("utf-16-be"),
    }
    hits = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                hits.append(path.name)
    return hits


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    built = build(Settings(data_dir=tmp_path / "data", admin_token="erasure-admin"))
    yield built
    built.close()


def raise_item(container: Container, name: str | None, detail: str, title: str) -> str:
    return container.app.raise_item(
        SYSTEM,
        forum_id="cm",
        channel=Channel.COMMUNITY_MEETING,
        raised_on=date(2026, 11, 2),
        title=title,
        you_said=f"{title}: please sort it out.",
        detail=detail,
        contributor=name,
    ).value.item_id


def test_forgetting_leaves_no_byte_of_the_contributor(container: Container) -> None:
    app = container.app
    data_dir = container.settings.data_dir
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    gone_1 = raise_item(container, GONE_NAME, GONE_DETAIL, "Garden")
    gone_2 = raise_item(container, GONE_NAME.upper(), GONE_DETAIL + " again", "Garden again")
    kept = raise_item(container, KEPT_NAME, KEPT_DETAIL, "Kettle")
    anonymous = raise_item(container, None, "no name here", "Windows")
    app.publish(SYSTEM, gone_1, "The garden is locked too often.", None)
    app.respond(SYSTEM, gone_1, "We will keep it open in the afternoons.", None)
    container.runner.catch_up()
    public_before = public_view(app_view(container, gone_1))
    events_before = len(container.audit.history(SYSTEM, gone_1)["events"])
    # the staff read model held the plaintext before (it is what forget must purge)
    assert every_file_contains(data_dir, GONE_NAME) or every_file_contains(
        data_dir, GONE_NAME.upper()
    )

    answer = container.audit.forget(SYSTEM, "zebedee  quixotica-marwood")
    assert answer == {"contributor_erased": True, "items_affected": 2}

    # while the service still runs, with its connections open (WAL files included)
    assert sorted(p.name for p in data_dir.iterdir() if p.name.endswith("-wal"))
    for needle in (GONE_NAME, GONE_DETAIL, "Zebedee", "Xylophone-keeper"):
        assert every_file_contains(data_dir, needle) == [], needle
    container.close()  # and after a clean shutdown
    for needle in (GONE_NAME, GONE_DETAIL, "Zebedee", "Xylophone-keeper"):
        assert every_file_contains(data_dir, needle) == [], needle
    assert any(data_dir.iterdir())

    reopened = build(Settings(data_dir=data_dir, admin_token="erasure-admin"))
    try:
        reopened.runner.catch_up()
        history = reopened.audit.history(SYSTEM, gone_1)
        assert len(history["events"]) == events_before
        assert history["events"][0]["data"]["contributor"] == ERASED
        assert history["events"][0]["data"]["detail"] == ERASED
        assert history["state"]["contributor"] == ERASED
        assert history["state"]["detail"] == ERASED
        assert app_view(reopened, gone_2)["contributor"] == ERASED
        assert public_view(app_view(reopened, gone_1)) == public_before
        kept_view = app_view(reopened, kept)
        assert (kept_view["contributor"], kept_view["detail"]) == (KEPT_NAME, KEPT_DETAIL)
        assert app_view(reopened, anonymous)["detail"] == "no name here"
        listed = {row["id"]: row for row in reopened.staff_items.list_items(SYSTEM)}
        assert listed[gone_1]["contributor"] == ERASED
        assert listed[gone_1]["detail"] == ERASED
        assert listed[kept]["contributor"] == KEPT_NAME
        verified = reopened.audit.verify(SYSTEM)
        assert verified["ok"] is True, verified
        # a rebuild from the events cannot bring the name back either
        reopened.runner.rebuild()
        listed = {row["id"]: row for row in reopened.staff_items.list_items(SYSTEM)}
        assert listed[gone_2]["detail"] == ERASED
    finally:
        reopened.close()
    assert every_file_contains(data_dir, GONE_NAME) == []
    assert every_file_contains(data_dir, KEPT_NAME) != []


def app_view(container: Container, item_id: str) -> dict[str, object]:
    from yswd.aggregates.item_views import item_view

    return item_view(container.app.get_item(SYSTEM, item_id))


def test_another_process_with_the_item_cached_does_not_write_the_name_back(
    tmp_path: Path,
) -> None:
    """Process B folded the item before A erased its contributor; B's cache is stale.

    B's next write to the item must not resurrect the name in the read model.
    """
    settings = Settings(data_dir=tmp_path / "data", admin_token="erasure-admin")
    first, second = build(settings), build(settings)
    try:
        first.app.create_unit(SYSTEM, "ward", "Ward", None)
        first.app.create_forum(SYSTEM, "cm", "Meeting", "ward", ForumKind.COMMUNITY_MEETING)
        item_id = raise_item(first, GONE_NAME, GONE_DETAIL, "Garden")
        second.runner.catch_up()  # the second process now holds the item, decrypted
        first.runner.catch_up()
        first.audit.forget(SYSTEM, GONE_NAME)

        written = second.app.respond(SYSTEM, item_id, "We opened the garden.", None)
        second.after_write(written.position)
        second.runner.catch_up()

        row = second.staff_items.list_items(SYSTEM, limit=10)[0]
        assert row["id"] == item_id
        assert row["contributor"] == ERASED
        assert row["detail"] == ERASED
        assert row["responses"][0]["response"] == "We opened the garden."
        assert every_file_contains(settings.data_dir, GONE_NAME) == []
    finally:
        second.close()
        first.close()


def test_forget_notes_the_erasure_in_the_log_beside_the_backups(tmp_path: Path) -> None:
    log = tmp_path / "backups" / "erasures.jsonl"
    container = build(Settings(data_dir=tmp_path / "data", erasure_log=log))
    try:
        app = container.app
        app.create_unit(SYSTEM, "ward", "Ward", None)
        app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
        gone = raise_item(container, GONE_NAME, GONE_DETAIL, "Garden")
        raise_item(container, KEPT_NAME, KEPT_DETAIL, "Kettle")
        container.audit.forget(SYSTEM, GONE_NAME)
    finally:
        container.close()
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, "one line per erasure, at once, without a sync"
    record = json.loads(lines[0])
    assert record["item_ids"] == [gone]
    assert record["position"] > 0
    for needle in (GONE_NAME, "Zebedee", GONE_DETAIL):
        assert needle not in lines[0], "the log never holds the name or the detail"


def test_an_erasure_after_a_rebuild_leaves_no_byte_of_the_contributor(
    container: Container,
) -> None:
    app = container.app
    data_dir = container.settings.data_dir
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    for n in range(40):
        raise_item(container, GONE_NAME if n % 8 == 0 else None, f"detail {n}", f"Kettle {n}")
    container.runner.catch_up()
    container.runner.batch_size = container.runner.rebuild_batch_size = 15
    container.runner.rebuild()  # the old rows, the name among them, deleted and written again
    assert every_file_contains(data_dir, GONE_NAME)

    assert container.audit.forget(SYSTEM, GONE_NAME)["contributor_erased"] is True

    assert every_file_contains(data_dir, GONE_NAME) == []
    container.close()
    assert every_file_contains(data_dir, GONE_NAME) == []
