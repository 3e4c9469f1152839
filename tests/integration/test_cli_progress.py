"""Progress bars of the long commands: on a terminal's stderr, and nowhere else.

Each command runs as its own process (``python -m yswd``): once with stderr on a
pseudo-terminal, where a bar must be drawn, and once with stderr on a pipe, where
nothing but the command's own messages may appear. Stdout is a pipe both times
and must read the same.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import build
from yswd.settings import Settings

pytestmark = pytest.mark.integration

MINUTES = "title,you_said\nLaundry,The machine is broken\nFood,Dinners are cold\n"
#: rich's cursor moves and colours, removed before reading what a terminal shows
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    container = build(Settings(data_dir=folder))
    app = container.app
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    for title in ("Lights", "Garden", "Menus"):
        app.raise_item(
            SYSTEM,
            forum_id="cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title=title,
            you_said=f"Please look at the {title.lower()}.",
        )
    container.runner.catch_up()
    container.close()
    return folder


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YSWD_")}
    env.pop("NO_COLOR", None)
    env.update({"YSWD_DATA_DIR": str(data_dir), "TERM": "xterm-256color", "COLUMNS": "120"})
    return env


def yswd(data_dir: Path, *args: str, terminal: bool) -> Ran:
    """Run ``yswd args`` with stdout on a pipe and stderr on a terminal, or on a pipe."""
    command = [sys.executable, "-m", "yswd", *args]
    if not terminal:
        done = subprocess.run(
            command, env=_environment(data_dir), capture_output=True, text=True, timeout=120
        )
        return Ran(done.returncode, done.stdout, done.stderr)
    leader, follower = os.openpty()
    try:
        process = subprocess.Popen(
            command,
            env=_environment(data_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
        )
    finally:
        os.close(follower)
    shown = _read_terminal(leader)
    stdout = process.stdout.read().decode() if process.stdout else ""
    code = process.wait(timeout=120)
    return Ran(code, stdout, ANSI.sub("", shown.decode(errors="replace")))


def _read_terminal(leader: int) -> bytes:
    """Everything written to the terminal, until the last writer closes it."""
    shown = b""
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], 120)
            if not ready:
                break
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the command has exited and the terminal is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    return shown


def test_audit_verify_draws_a_bar_on_a_terminal_only(data_dir: Path) -> None:
    on_terminal = yswd(data_dir, "audit", "verify", terminal=True)
    piped = yswd(data_dir, "audit", "verify", terminal=False)
    assert on_terminal.code == piped.code == 0, on_terminal.stderr + piped.stderr
    assert "checking the chain" in on_terminal.stderr
    assert "100%" in on_terminal.stderr
    assert piped.stderr == ""
    assert on_terminal.stdout == piped.stdout
    assert json.loads(piped.stdout)["ok"] is True


def test_audit_export_to_stdout_keeps_its_lines_whatever_stderr_is(data_dir: Path) -> None:
    on_terminal = yswd(data_dir, "audit", "export", terminal=True)
    piped = yswd(data_dir, "audit", "export", terminal=False)
    assert on_terminal.code == piped.code == 0
    assert "exporting events" in on_terminal.stderr
    assert "100%" in on_terminal.stderr
    assert piped.stderr == ""
    assert on_terminal.stdout == piped.stdout
    records = [json.loads(line) for line in piped.stdout.splitlines()]
    assert len(records) > 3
    assert all("hash" in record for record in records)


def test_minutes_import_draws_a_bar_on_a_terminal_only(data_dir: Path, tmp_path: Path) -> None:
    minutes = tmp_path / "minutes.csv"
    minutes.write_text(MINUTES)
    check = ("minutes", "import", str(minutes), "--forum", "cm", "--dry-run")
    on_terminal = yswd(data_dir, *check, terminal=True)
    piped = yswd(data_dir, *check, terminal=False)
    assert on_terminal.code == piped.code == 0
    assert "importing rows" in on_terminal.stderr
    assert "2/2" in on_terminal.stderr
    assert piped.stderr == ""
    assert on_terminal.stdout == piped.stdout
    assert "2 items would be imported (dry run)" in piped.stdout

    imported = yswd(data_dir, "minutes", "import", str(minutes), "--forum", "cm", terminal=True)
    assert imported.code == 0, imported.stderr
    assert "100%" in imported.stderr
    assert "imported 2 items" in imported.stdout


def test_backup_draws_its_stages_on_a_terminal_only(data_dir: Path, tmp_path: Path) -> None:
    on_terminal = yswd(data_dir, "backup", str(tmp_path / "one.tar.gz"), terminal=True)
    piped = yswd(data_dir, "backup", str(tmp_path / "two.tar.gz"), terminal=False)
    assert on_terminal.code == piped.code == 0, on_terminal.stderr + piped.stderr
    for stage in ("copying the event store", "checksumming", "writing the archive"):
        assert stage in on_terminal.stderr
    assert piped.stderr == ""
    assert on_terminal.stdout.startswith("backed up ")
    assert piped.stdout.startswith("backed up ")
