"""Signed checkpoints catch a history that was edited and then fully re-chained,
on a real SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from yswd.adapters.crypto import SEAL_SIZE, ShreddingMapper
from yswd.aggregates.access import SYSTEM
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build
from yswd.cli.main import cli

from .servers import Postgres, postgres_or_skip
from .stored_rows import STORES, StoredRows, store_settings


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture(params=STORES)
def container(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Container]:
    built = build(store_settings(request, tmp_path))
    app = built.app
    app.create_unit(SYSTEM, "ward", "Ward", None)
    app.create_forum(SYSTEM, "cm", "Community meeting", "ward", ForumKind.COMMUNITY_MEETING)
    for n in range(3):
        item = app.raise_item(
            SYSTEM,
            forum_id="cm",
            channel=Channel.COMMUNITY_MEETING,
            raised_on=date(2026, 11, 2),
            title=f"Item {n}",
            you_said=f"Thing {n} is broken.",
        ).value
        app.respond(SYSTEM, item.item_id, f"We fixed thing {n}.", None)
    built.runner.catch_up()
    yield built
    built.close()


def rewrite_history(container: Container) -> int:
    """What someone holding the whole data folder could do: edit, re-seal, re-chain."""
    mapper = container.app.mapper
    assert isinstance(mapper, ShreddingMapper)
    stored = StoredRows(container)
    position, originator_id, version, topic, state = next(
        row for row in stored.stored() if b"We fixed thing 1" in row[4]
    )
    body = state[SEAL_SIZE:].replace(b"We fixed thing 1", b"We ignored it 1")
    seal = mapper._seal(originator_id, version, topic, body)
    stored.set_state(position, seal + body)
    container.runner.rebuild(["audit_chain"])
    return position


def test_rewritten_and_rechained_history_fails_an_earlier_checkpoint(
    container: Container,
) -> None:
    key = Ed25519PrivateKey.generate()
    saved = container.audit.checkpoint(SYSTEM, key)
    assert container.audit.verify_against(SYSTEM, saved)["ok"] is True

    rewrite_history(container)
    assert container.audit.verify(SYSTEM)["ok"] is True  # the chain alone is fooled
    answer = container.audit.verify_against(SYSTEM, saved)
    assert answer["ok"] is False
    assert "changed since it was signed" in answer["checkpoint"]["reason"]


def test_a_forged_checkpoint_is_refused(container: Container) -> None:
    saved = container.audit.checkpoint(SYSTEM, Ed25519PrivateKey.generate())
    assert container.audit.verify_against(SYSTEM, saved)["ok"] is True
    edited = {**saved, "count": saved["count"] - 1}
    answer = container.audit.verify_against(SYSTEM, edited)
    assert answer["ok"] is False
    assert "signature" in answer["checkpoint"]["reason"]
    other = container.audit.checkpoint(SYSTEM, Ed25519PrivateKey.generate())
    refused = container.audit.verify_against(SYSTEM, other, saved["public_key"])
    assert refused["ok"] is False


def test_later_writes_keep_an_earlier_checkpoint_valid(container: Container) -> None:
    saved = container.audit.checkpoint(SYSTEM, Ed25519PrivateKey.generate())
    container.app.create_unit(SYSTEM, "ward-2", "Ward 2", None)
    assert container.audit.verify_against(SYSTEM, saved)["ok"] is True


def test_cli_checkpoint_round_trip(
    container: Container, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YSWD_DATA_DIR", str(container.settings.data_dir))
    if container.settings.database_url:
        monkeypatch.setenv("YSWD_DATABASE_URL", container.settings.database_url)
        monkeypatch.setenv("YSWD_RUN_PROJECTIONS", "true")
    else:
        monkeypatch.delenv("YSWD_DATABASE_URL", raising=False)
    runner = CliRunner()
    out = tmp_path / "checkpoint.json"
    key = tmp_path / "keys" / "signing.pem"
    made = runner.invoke(cli, ["audit", "checkpoint", "--out", str(out), "--key", str(key)])
    assert made.exit_code == 0, made.output
    assert key.exists()
    assert json.loads(out.read_text())["count"] > 0
    ok = runner.invoke(cli, ["audit", "verify", "--against", str(out)])
    assert ok.exit_code == 0, ok.output
    rewrite_history(container)
    caught = runner.invoke(cli, ["audit", "verify", "--against", str(out)])
    assert caught.exit_code == 1
    assert json.loads(caught.output)["checkpoint"]["ok"] is False
