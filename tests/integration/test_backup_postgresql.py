"""The PostgreSQL restore drill of docs/operations/backup.md, on a real server.

Events are written, a checkpoint is signed, the database is dumped with
``pg_dump`` (events and read models, then the ``yswd_keys`` schema), a
contributor is erased on the live database after the dump, the dumps are
restored into a new database, the erasure log is re-applied, and
``yswd audit verify --against`` the checkpoint passes on the restored copy.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from yswd.adapters.backup.copies import Auditor
from yswd.adapters.crypto import ERASED
from yswd.adapters.erasure_log import read_log
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import build
from yswd.cli.audit import audit_cli
from yswd.cli.backup import backup_cli
from yswd.settings import Settings

from .servers import PG_BIN, Postgres, postgres_or_skip

GONE_NAME = "Zebedee Quixotica-Marwood"
KEPT_NAME = "Philippa Oddlyunique"
_databases = itertools.count(1)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


def new_database(postgres: Postgres, prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{next(_databases)}"
    postgres.psql(f"CREATE DATABASE {name} OWNER {postgres.user}")
    return name, postgres.url.rsplit("/", 1)[0] + f"/{name}"


def pg_tool(postgres: Postgres, tool: str, *args: str) -> None:
    """``pg_dump`` / ``pg_restore`` as the service's own database user, over TCP."""
    done = subprocess.run(
        [
            str(PG_BIN / tool),
            "--host=127.0.0.1",
            f"--port={postgres.port}",
            f"--username={postgres.user}",
            "--no-password",
            *args,
        ],
        env={**os.environ, "PGPASSWORD": postgres.password},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def env_for(url: str, data_dir: Path, log: Path) -> dict[str, str]:
    return {
        "YSWD_DATABASE_URL": url,
        "YSWD_DATA_DIR": str(data_dir),
        "YSWD_ERASURE_LOG": str(log),
        "YSWD_LOG_FORMAT": "text",
    }


def test_the_postgresql_restore_drill(postgres: Postgres, tmp_path: Path) -> None:
    live_name, live_url = new_database(postgres, "yswd_drill_live")
    log = tmp_path / "backups" / "erasures.jsonl"
    live = build(
        Settings(
            database_url=live_url, data_dir=tmp_path / "live", run_projections=True, erasure_log=log
        )
    )
    try:
        app = live.app
        app.create_unit(SYSTEM, "ward", "Ward", None)
        app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
        ids = []
        for n, name in enumerate([GONE_NAME, KEPT_NAME, None, KEPT_NAME]):
            written = app.raise_item(
                SYSTEM,
                forum_id="cm",
                channel=Channel.COMMUNITY_MEETING,
                raised_on=date(2026, 11, 2),
                title=f"Item {n}",
                you_said=f"Thing {n} is broken.",
                detail=f"detail {n}",
                contributor=name,
            ).value
            app.respond(SYSTEM, written.item_id, f"We fixed thing {n}.", None)
            ids.append(written.item_id)
        live.runner.catch_up()

        # 1. a signed checkpoint, kept with the backups (and off the database host)
        runner = CliRunner()
        checkpoint = tmp_path / "backups" / "checkpoint.json"
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        env = env_for(live_url, tmp_path / "live", log)
        signed = runner.invoke(
            audit_cli,
            ["checkpoint", "--out", str(checkpoint), "--key", str(tmp_path / "signing.pem")],
            env=env,
        )
        assert signed.exit_code == 0, signed.output
        # a write after the checkpoint: the dump holds more than the checkpoint covers
        app.respond(SYSTEM, ids[1], "Parts are on order too.", None)

        # 2. pg_dump: events and read models, then the key schema (after: every key
        # the first dump's events need is in the second)
        main_dump = tmp_path / "backups" / "yswd.dump"
        keys_dump = tmp_path / "backups" / "keys.dump"
        pg_tool(
            postgres,
            "pg_dump",
            "--format=custom",
            "--exclude-schema=yswd_keys",
            f"--file={main_dump}",
            live_name,
        )
        pg_tool(
            postgres,
            "pg_dump",
            "--format=custom",
            "--schema=yswd_keys",
            f"--file={keys_dump}",
            live_name,
        )

        # 3. after the dump, a contributor is erased on the live database
        Auditor(live).forget(GONE_NAME)
        synced = runner.invoke(backup_cli, ["erasure-log", "sync"], env=env)
        assert synced.exit_code == 0, synced.output
        records = read_log(log)
        assert len(records) == 1 and ids[0] in records[0].item_ids
        assert GONE_NAME.encode() not in log.read_bytes()
    finally:
        live.close()

    # 4. the disk is lost: restore both dumps together into a new database
    restored_name, restored_url = new_database(postgres, "yswd_drill_restored")
    for dump in (main_dump, keys_dump):
        pg_tool(
            postgres,
            "pg_restore",
            "--no-owner",
            "--exit-on-error",
            f"--dbname={restored_name}",
            str(dump),
        )
    env = env_for(restored_url, tmp_path / "restored", log)

    # 5. before the service opens: erase again whoever the log says was erased since
    reapplied = runner.invoke(backup_cli, ["erasure-log", "reapply"], env=env)
    assert reapplied.exit_code == 0, reapplied.output
    assert "1 re-applied" in reapplied.output

    # 6. the drill ends with the restored database proving itself against the checkpoint
    verified = runner.invoke(audit_cli, ["verify", "--against", str(checkpoint)], env=env)
    assert verified.exit_code == 0, verified.output
    answer = json.loads(verified.output)
    assert answer["ok"] is True and answer["checkpoint"]["ok"] is True

    with psycopg.connect(restored_url) as conn:
        rows = dict(conn.execute("SELECT item_id, contributor FROM rm_items").fetchall())
        keys = conn.execute("SELECT count(*) FROM yswd_keys.contributor_keys").fetchone()
    assert rows[ids[0]] == ERASED
    assert rows[ids[1]] == KEPT_NAME
    assert len(rows) == 4
    assert keys is not None and keys[0] >= 2  # the kept contributor's key and item keys
    container = build(Settings(database_url=restored_url, data_dir=tmp_path / "restored"))
    try:
        item = container.app.get_item(SYSTEM, ids[0])
        assert (item.contributor, item.detail) == (ERASED, ERASED)
        kept = container.app.get_item(SYSTEM, ids[1])
        assert kept.contributor == KEPT_NAME
        assert len(kept.responses) == 2  # the answer after the checkpoint is there too
    finally:
        container.close()
