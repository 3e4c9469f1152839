"""``yswd backup`` / ``yswd restore`` on a real SQLite data folder, with a real server.

- a backup taken while a writer raises and answers items restores into a new
  folder, a real ``yswd serve`` starts on it, and every item acknowledged up to
  the backup's position is there, answered as acknowledged; the chain verifies;
- a flipped byte anywhere, or a truncated archive, is refused and nothing is written;
- a non-empty folder is refused without ``--overwrite``;
- an erasure made after the backup stays erased after a restore with the
  erasure log: no byte of the name, the detail or the clip is in any restored file.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from yswd.adapters.backup import archive
from yswd.adapters.backup import restore as restoring
from yswd.adapters.backup.copies import Auditor, BackupError, RestoreError
from yswd.adapters.crypto import ERASED
from yswd.adapters.erasure_log import read_log
from yswd.adapters.http.app import create_app
from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import build
from yswd.cli.audit import audit_cli
from yswd.cli.backup import backup_cli
from yswd.settings import Settings

from .conftest import ADMIN_TOKEN, LiveServer, free_port, setup_ward, wait_until_up
from .servers import running_yswd, yswd_env

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
#: the two commands as ``yswd backup`` and ``yswd restore`` call them, opening stores with
#: the composition root's ``build``
backup = partial(archive.backup, build=build)
restore = partial(restoring.restore, build=build)
GONE_NAME = "Zebedee Quixotica-Marwood"
GONE_DETAIL = "Xylophone-keeper told me about the locked garden on Tuesday"
GONE_CLIP = b"RIFF\x24\x08\x00\x00WAVEfmt " + b"Quagmire-Saxifrage diary clip " * 40
KEPT_NAME = "Philippa Oddlyunique"
KEPT_DETAIL = "Vermilion notebook story about the kettle"


@dataclass
class Server(LiveServer):
    settings: Settings


def _start(settings: Settings) -> Iterator[Server]:
    container = build(settings)
    port = free_port()
    config = uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        yield Server(url, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A real server on a data folder, with its erasure log beside the backups."""
    settings = Settings(
        data_dir=tmp_path / "data",
        admin_token=ADMIN_TOKEN,
        erasure_log=tmp_path / "backups" / "erasures.jsonl",
    )
    yield from _start(settings)


def raise_item(client: httpx.Client, title: str, **extra: Any) -> httpx.Response:
    body = {
        "forum_id": "cedar-cm",
        "channel": "community_meeting",
        "raised_on": "2026-11-02",
        "title": title,
        "you_said": f"{title}: please sort it out.",
        **extra,
    }
    answer = client.post("/api/v1/items", json=body)
    assert answer.status_code == 201, answer.text
    return answer


def files_containing(folder: Path, needle: str | bytes) -> list[str]:
    """Files under ``folder`` holding ``needle`` (UTF-8, UTF-16, any letter case)."""
    if isinstance(needle, bytes):
        needles = {needle}
    else:
        needles = {
            needle.encode(),
            needle.lower().encode(),
            needle.upper().encode(),
            needle.encode("utf-16-le"),
            needle.encode("utf-16-be"),
        }
    paths = [folder] if folder.is_file() else sorted(folder.rglob("*"))
    return [
        path.name
        for path in paths
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    ]


def make_backup(settings: Settings, tmp_path: Path, name: str = "backup.tar.gz") -> Path:
    out = tmp_path / "backups" / name
    backup(settings, out, now=NOW, signing_key=tmp_path / "signing-key.pem")
    return out


# -- (a) a backup under writes restores, and the service starts on it --------------


class Writer(threading.Thread):
    """Raises items and answers each one, noting every acknowledged write's position."""

    def __init__(self, url: str) -> None:
        super().__init__(name="writer", daemon=True)
        self.url = url
        self.stop = threading.Event()
        #: (item id, "raised" | "responded", position, when)
        self.acks: list[tuple[str, str, int, float]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        try:
            with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
                n = 0
                while not self.stop.is_set():
                    n += 1
                    raised = raise_item(
                        client, f"Writer item {n}", contributor=f"Writer {n}", detail=f"d{n}"
                    )
                    item_id = raised.json()["id"]
                    self._ack(item_id, "raised", raised)
                    answer = client.post(
                        f"/api/v1/items/{item_id}/respond", json={"response": f"We did {n}."}
                    )
                    assert answer.status_code == 200, answer.text
                    self._ack(item_id, "responded", answer)
        except BaseException as error:
            self.error = error

    def _ack(self, item_id: str, kind: str, answer: httpx.Response) -> None:
        position = int(answer.headers["X-Yswd-Position"])
        self.acks.append((item_id, kind, position, time.monotonic()))


def test_a_backup_taken_under_writes_restores_and_serves(server: Server, tmp_path: Path) -> None:
    setup_ward(server)
    writer = Writer(server.url)
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(writer.acks) < 40 and time.monotonic() < deadline and writer.error is None:
            time.sleep(0.05)
        started = time.monotonic()
        done = backup(
            server.settings,
            tmp_path / "backups" / "live.tar.gz",
            now=NOW,
            signing_key=tmp_path / "signing-key.pem",
        )
        finished = time.monotonic()
        time.sleep(0.3)  # the writer goes on after the backup too
    finally:
        writer.stop.set()
        writer.join(timeout=30)
    assert writer.error is None, writer.error
    manifest = done.manifest
    position = manifest["position"]
    during = [ack for ack in writer.acks if started <= ack[3] <= finished]
    before = [ack for ack in writer.acks if ack[3] < started]
    assert before and during, "the writer must have been writing while the backup ran"
    assert any(ack[2] > position for ack in writer.acks)  # writes after the backup's snapshot
    assert max(ack[2] for ack in before) <= position
    assert manifest["checkpoint"]["time"] == NOW.isoformat()
    assert manifest["created_at"] == NOW.isoformat()
    assert manifest["log_position"] == position
    assert set(manifest["files"]) == {"data/yswd.sqlite3", "data/keys.sqlite3"}

    target = tmp_path / "restored"
    restored = restore(done.path, target)
    assert restored.position == position
    assert restored.head_hash == manifest["head_hash"]
    assert restored.events == manifest["events"]
    assert f"position {position}" in restored.summary()
    # the restored service signs cookies with a key of its own: no old session comes back
    restored_files = sorted(p.name for p in target.iterdir())
    assert restored_files == ["keys.sqlite3", "secret-key", "yswd.sqlite3"]

    covered = [ack for ack in writer.acks if ack[2] <= position]
    responded = {item for item, kind, _, _ in covered if kind == "responded"}
    raised = {item for item, kind, _, _ in covered if kind == "raised"}
    later = {item for item, kind, pos, _ in writer.acks if kind == "raised" and pos > position}
    port = free_port()
    env = yswd_env(data_dir=str(target), log_format="text")
    with running_yswd(
        ["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "serve.log", port
    ) as process:
        wait_until_up(process.url)
        with httpx.Client(
            base_url=process.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        ) as client:
            listed = client.get("/api/v1/items", params={"limit": 1000})
            assert listed.status_code == 200, listed.text
            items = {item["id"]: item for item in listed.json()["items"]}
            assert raised <= set(items), raised - set(items)
            for item_id in responded:
                assert items[item_id]["status"] == "responded", items[item_id]
            assert not later & set(items)  # nothing from after the backup's position
            assert len(items) == restored.items == manifest["items"]
            verified = client.get("/api/v1/audit/verify")
            assert verified.status_code == 200, verified.text
            assert verified.json()["ok"] is True, verified.json()

    # the restored folder also proves itself to `yswd audit verify --against` the checkpoint
    checkpoint = tmp_path / "checkpoint.json"
    checkpoint.write_text(json.dumps(manifest["checkpoint"]))
    trusted = manifest["checkpoint"]["public_key"]
    verified = CliRunner().invoke(
        audit_cli,
        ["verify", "--against", str(checkpoint), "--trusted-key", trusted],
        env={"YSWD_DATA_DIR": str(target)},
    )
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["checkpoint"]["ok"] is True


# -- (b), (c), (d): refusals --------------------------------------------------------


@pytest.fixture
def archive(server: Server, tmp_path: Path) -> Path:
    setup_ward(server)
    with server.client() as client:
        for n in range(5):
            raise_item(client, f"Item {n}", contributor=f"Person {n}", detail=f"detail {n}")
    return make_backup(server.settings, tmp_path)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".restore-" in p.name)


@pytest.mark.parametrize(
    "where",
    ["gzip header (mtime)", "gzip header (os)", "middle", "near the end", "crc", "last byte"],
)
def test_b_a_flipped_byte_is_refused_and_nothing_is_written(
    archive: Path, tmp_path: Path, where: str
) -> None:
    data = bytearray(archive.read_bytes())
    offset = {
        "gzip header (mtime)": 5,
        "gzip header (os)": 9,
        "middle": len(data) // 2,
        "near the end": len(data) - 100,
        "crc": len(data) - 6,
        "last byte": len(data) - 1,
    }[where]
    data[offset] ^= 0xFF
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(data))
    target = tmp_path / "restored"
    with pytest.raises(RestoreError, match="was refused") as refused:
        restore(damaged, target)
    assert "Nothing was restored" in str(refused.value)
    assert not target.exists()
    assert leftovers(tmp_path) == []

    # the same through the command: exit 1, a clear message, nothing written
    result = CliRunner().invoke(
        backup_cli, ["restore", str(damaged), "--data-dir", str(target)], env={}
    )
    assert result.exit_code == 1
    assert "was refused" in result.output
    assert not target.exists()


@pytest.mark.parametrize("keep", ["half", "all but the trailer", "all but one byte", "20 bytes"])
def test_c_a_truncated_archive_is_refused(archive: Path, tmp_path: Path, keep: str) -> None:
    data = archive.read_bytes()
    size = {
        "half": len(data) // 2,
        "all but the trailer": len(data) - 8,
        "all but one byte": len(data) - 1,
        "20 bytes": 20,
    }[keep]
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[:size])
    target = tmp_path / "restored"
    target.mkdir()  # an empty folder stays empty
    with pytest.raises(RestoreError, match="was refused"):
        restore(cut, target)
    assert list(target.iterdir()) == []
    assert leftovers(tmp_path) == []


def test_c_an_untouched_archive_restores(archive: Path, tmp_path: Path) -> None:
    import base64

    someone_else = base64.b64encode(b"\x01" * 32).decode()
    with pytest.raises(RestoreError, match="signed by another key"):
        restore(archive, tmp_path / "restored", trusted_key=someone_else)
    assert not (tmp_path / "restored").exists()
    restored = restore(archive, tmp_path / "restored")
    assert restored.items == 6  # the ward's first item and five more


def test_d_a_non_empty_folder_is_refused_without_overwrite(archive: Path, tmp_path: Path) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "something.txt").write_text("was here first\n")
    with pytest.raises(RestoreError, match="not empty"):
        restore(archive, target)
    assert sorted(p.name for p in target.iterdir()) == ["something.txt"]

    result = CliRunner().invoke(
        backup_cli, ["restore", str(archive), "--data-dir", str(target)], env={}
    )
    assert result.exit_code == 1
    assert "not empty" in result.output

    result = CliRunner().invoke(
        backup_cli, ["restore", str(archive), "--data-dir", str(target), "--overwrite"], env={}
    )
    assert result.exit_code == 0, result.output
    assert "restored" in result.output and "6 items" in result.output
    # the restored service signs cookies with a key of its own: no old session comes back
    restored_files = sorted(p.name for p in target.iterdir())
    assert restored_files == ["keys.sqlite3", "secret-key", "yswd.sqlite3"]
    assert [p.name for p in tmp_path.iterdir() if ".replaced-" in p.name] == []


def test_the_command_writes_an_archive_into_a_folder(archive: Path, tmp_path: Path) -> None:
    folder = tmp_path / "nightly"
    folder.mkdir()
    env = {"YSWD_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(
        backup_cli,
        ["backup", str(folder), "--key", str(tmp_path / "signing-key.pem")],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "backed up" in result.output
    written = list(folder.glob("yswd-backup-*.tar.gz"))
    assert len(written) == 1
    assert written[0].stat().st_mode & 0o077 == 0  # it holds the keys: owner only
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []
    with pytest.raises(BackupError, match="PostgreSQL"):
        backup(Settings(database_url="postgresql://x@127.0.0.1/x"), folder)


# -- (e) an erasure after the backup stays erased after the restore ------------------


def test_e_an_erasure_after_the_backup_stays_erased_after_a_restore(
    server: Server, tmp_path: Path
) -> None:
    setup_ward(server)
    with server.client() as client:
        gone = raise_item(client, "Garden", contributor=GONE_NAME, detail=GONE_DETAIL).json()
        kept = raise_item(client, "Kettle", contributor=KEPT_NAME, detail=KEPT_DETAIL).json()
        uploaded = client.post(
            f"/api/v1/items/{gone['id']}/clips",
            files={"file": ("diary.wav", GONE_CLIP, "audio/wav")},
            data={"consent": "internal_only"},
        )
        assert uploaded.status_code == 201, uploaded.text
        old = make_backup(server.settings, tmp_path, "before-the-erasure.tar.gz")
        assert json.loads(_manifest_of(old))["clips"] == 1

        erased = client.post("/api/v1/contributors/forget", json={"contributor": GONE_NAME})
        assert erased.status_code == 200, erased.text
        raise_item(client, "After", contributor="Someone Later")

    log = server.settings.erasure_log
    assert log is not None
    # the next backup adds to the log every erasure it lacks, from the store (as
    # `yswd erasure-log sync` does); repeating it adds nothing: one line per erasure
    make_backup(server.settings, tmp_path, "after-the-erasure.tar.gz")
    backup(
        server.settings,
        tmp_path / "backups" / "synced.tar.gz",
        now=NOW,
        signing_key=tmp_path / "signing-key.pem",
        erasure_log=log,
    )
    records = read_log(log)
    assert len(records) == 1
    old_position = json.loads(_manifest_of(old))["position"]
    assert records[0].position > old_position
    assert gone["id"] in records[0].item_ids
    for needle in (GONE_NAME, "Zebedee", "Quixotica", GONE_DETAIL):
        assert files_containing(log, needle) == [], "the erasure log must never hold the name"

    # without the log, the old backup would bring the person back: that is the hazard
    unsafe = tmp_path / "restored-without-log"
    restore(old, unsafe)
    assert files_containing(unsafe, GONE_NAME)

    target = tmp_path / "restored"
    result = CliRunner().invoke(
        backup_cli,
        ["restore", str(old), "--data-dir", str(target), "--erasure-log", str(log)],
        env={},
    )
    assert result.exit_code == 0, result.output
    assert "re-applied 1 later erasure" in result.output
    for needle in (GONE_NAME, GONE_DETAIL, "Zebedee", "Xylophone-keeper", "Quixotica"):
        assert files_containing(target, needle) == [], needle
    assert files_containing(target, b"Quagmire-Saxifrage") == []  # the clip's bytes too
    assert files_containing(target, KEPT_NAME) != []

    container = build(Settings(data_dir=target))
    try:
        item = container.app.get_item(SYSTEM, gone["id"])
        assert (item.contributor, item.detail) == (ERASED, ERASED)
        other = container.app.get_item(SYSTEM, kept["id"])
        assert (other.contributor, other.detail) == (KEPT_NAME, KEPT_DETAIL)
        auditor = Auditor(container)
        assert auditor.verify()["ok"] is True
        manifest = json.loads(_manifest_of(old))
        assert auditor.verify_against(manifest["checkpoint"], None)["ok"] is True
        container.runner.rebuild()  # and a rebuild from the events cannot bring it back
    finally:
        container.close()
    for needle in (GONE_NAME, GONE_DETAIL):
        assert files_containing(target, needle) == [], needle

    # replaying is safe to repeat: restoring again over it re-applies and finds nothing new
    again = restore(old, target, overwrite=True, erasure_log=log)
    assert len(again.erasures_reapplied) == 1
    assert files_containing(target, GONE_NAME) == []


def _manifest_of(archive: Path) -> str:
    import tarfile

    with tarfile.open(archive, "r:gz") as tar:
        member = tar.extractfile("yswd-backup/manifest.json")
        assert member is not None
        return member.read().decode()


def test_an_erasure_under_way_during_the_backup_is_finished_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key was destroyed after the event store was copied, before the key store was."""
    from datetime import date

    from yswd.adapters.backup import archive
    from yswd.adapters.persistence import SQLITE_FILE
    from yswd.aggregates.item import Channel
    from yswd.aggregates.organisation import ForumKind

    settings = Settings(data_dir=tmp_path / "data")
    live = build(settings)
    try:
        live.app.create_unit(SYSTEM, "ward", "Ward", None)
        live.app.create_forum(SYSTEM, "cm", "Meeting", "ward", ForumKind.COMMUNITY_MEETING)
        for name, detail in ((GONE_NAME, GONE_DETAIL), (KEPT_NAME, KEPT_DETAIL)):
            live.app.raise_item(
                SYSTEM,
                forum_id="cm",
                channel=Channel.COMMUNITY_MEETING,
                raised_on=date(2026, 11, 2),
                title="Garden",
                you_said="Please open the garden.",
                detail=detail,
                contributor=name,
            )
        live.runner.catch_up()
        copy_one_store = archive._sqlite_backup

        def erase_between_the_copies(source: Path, target: Path) -> None:
            copy_one_store(source, target)
            if source.name == SQLITE_FILE:
                Auditor(live).forget(GONE_NAME)

        monkeypatch.setattr(archive, "_sqlite_backup", erase_between_the_copies)
        done = make_backup(settings, tmp_path)
    finally:
        live.close()
    assert done.name == "backup.tar.gz"
    manifest = json.loads(_manifest_of(done))
    assert manifest["erasures_finished"] == 1
    assert manifest["position"] > manifest["log_position"]  # the copy's own erasure record
    target = tmp_path / "restored"
    restore(done, target)  # even with no erasure log, the name is not in the backup
    for needle in (GONE_NAME, GONE_DETAIL):
        assert files_containing(target, needle) == [], needle
    assert files_containing(target, KEPT_NAME) != []


def test_the_erasure_hook_writes_one_line_per_erasure_and_never_the_name(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from yswd.adapters.erasure_log import FileErasureLog

    log = tmp_path / "backups" / "erasures.jsonl"
    erasure = SimpleNamespace(
        id="erasure:1",
        key_id_hash="ab" * 32,
        item_ids=["item-1", "item-2"],
        created_on=NOW,
    )
    hook = FileErasureLog(log)
    hook.note(erasure, 42, "admin-user")
    hook.note(erasure, 42, "admin-user")  # the same erasure twice: still one line
    lines = log.read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {
        "kind": "contributor_erased",
        "erasure_id": "erasure:1",
        "position": 42,
        "key_id_hash": "ab" * 32,
        "item_ids": ["item-1", "item-2"],
        "at": NOW.isoformat(),
        "by": "admin-user",
    }
    assert log.stat().st_mode & 0o077 == 0


def test_a_damaged_erasure_log_stops_the_restore(archive: Path, tmp_path: Path) -> None:
    from yswd.adapters.erasure_log import ErasureLogError

    log = tmp_path / "erasures.jsonl"
    log.write_text('{"kind": "contributor_erased", "erasure_id": "e", "posit\n')
    target = tmp_path / "restored"
    with pytest.raises(ErasureLogError, match="line 1"):
        restore(archive, target, erasure_log=log)
    assert not target.exists()
    assert leftovers(tmp_path) == []
    with pytest.raises(ErasureLogError, match="does not exist"):
        restore(archive, target, erasure_log=tmp_path / "no-such-log.jsonl")  # a typo
    assert not target.exists()
