"""``yswd audit`` commands against a real SQLite data folder."""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yswd.adapters.persistence import SQLITE_FILE
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import build
from yswd.cli.main import cli
from yswd.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("YSWD_DATA_DIR", str(folder))
    monkeypatch.delenv("YSWD_DATABASE_URL", raising=False)
    container = build(Settings(data_dir=folder))
    app = container.app
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    item = app.raise_item(
        SYSTEM,
        forum_id="cm",
        channel=Channel.DIARY_ROOM,
        raised_on=date(2026, 11, 2),
        title="Lights",
        you_said="The corridor lights flicker.",
        contributor="Cleo Cli",
    ).value
    app.respond(SYSTEM, item.item_id, "Electrician booked.", None)
    (folder / "item-id").write_text(item.item_id)
    container.runner.catch_up()  # what the service does after every write
    container.close()
    return folder


def test_verify_history_and_export(data_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    item_id = (data_dir / "item-id").read_text()

    verified = runner.invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["ok"] is True

    history = runner.invoke(cli, ["audit", "history", item_id])
    assert history.exit_code == 0, history.output
    events = json.loads(history.output)["events"]
    assert [e["type"] for e in events] == ["item_raised", "response_posted"]
    early = runner.invoke(cli, ["audit", "history", item_id, "--as-of", "2001-01-01T00:00:00Z"])
    assert early.exit_code == 2

    out = tmp_path / "export.jsonl"
    exported = runner.invoke(cli, ["audit", "export", "--output", str(out)])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    with sqlite3.connect(data_dir / SQLITE_FILE) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()
    assert len(lines) == count
    assert [line["position"] for line in lines] == sorted(line["position"] for line in lines)
    for earlier, later in itertools.pairwise(lines):
        assert later["previous_hash"] == earlier["hash"]
    assert any(line["data"].get("contributor") == "Cleo Cli" for line in lines)


def test_verify_exits_non_zero_on_tampering(data_dir: Path) -> None:
    with sqlite3.connect(data_dir / SQLITE_FILE) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = 2")
    verified = CliRunner().invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 1
    answer = json.loads(verified.output)
    assert answer["ok"] is False
    assert answer["first_bad"]["position"] == 2


def test_reads_lists_who_read_what(data_dir: Path) -> None:
    runner = CliRunner()
    item_id = (data_dir / "item-id").read_text()
    assert json.loads(runner.invoke(cli, ["audit", "reads"]).output)["reads"] == []

    # reading a history at the console is itself a recorded read
    assert runner.invoke(cli, ["audit", "history", item_id]).exit_code == 0
    listed = runner.invoke(cli, ["audit", "reads", "--item-id", item_id])
    assert listed.exit_code == 0, listed.output
    answer = json.loads(listed.output)
    assert answer["total"] == 1
    (read,) = answer["reads"]
    assert (read["reader_id"], read["kind"], read["item_ids"]) == ("system", "history", [item_id])
    assert "Cleo Cli" not in listed.output
    other = runner.invoke(cli, ["audit", "reads", "--user-id", "someone-else"])
    assert json.loads(other.output)["reads"] == []
    assert runner.invoke(cli, ["audit", "reads", "--limit", "0"]).exit_code != 0
