"""Minutes import over HTTP and the CLI: validate per row, commit all or nothing, idempotent."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from tests.e2e.conftest import ADMIN_TOKEN, Api
from yswd.cli.main import cli

GOOD = (
    "title,you_said,channel,themes,contributor,detail,raised_on\n"
    "Laundry,The machine is broken,community_meeting,facilities,Ann,,2026-11-02\n"
    "=cmd|' /C calc'!A0,\"<script>alert(1)</script> in the garden\",,,,,\n"
)
BAD = GOOD + "Food,Cold dinners,telepathy,,,,2026-02-30\n" + ",no title,,,,,\n"


def upload(
    api: Api,
    body: str,
    media: str = "text/csv",
    token: str | None = None,
    forum: str = "cedar-cm",
    **params: Any,
) -> Any:
    auth = f"Bearer {token or ADMIN_TOKEN}"
    return api.client.post(
        f"/api/v1/forums/{forum}/minutes",
        content=body.encode(),
        headers={"Authorization": auth, "Content-Type": media},
        params=params,
    )


def items_of(api: Api, forum: str = "cedar-cm") -> list[dict[str, Any]]:
    return list(api.get("/api/v1/items", forum_id=forum).json()["items"])


def test_a_csv_with_bad_rows_commits_nothing_until_fixed(api: Api) -> None:
    api.organisation()
    secretary = api.user("secretary", "cedar")

    checked = upload(api, BAD, token=secretary, dry_run="true")
    assert checked.status_code == 422, checked.text
    body = checked.json()
    assert body["committed"] is False and body["items"] == []
    assert [(row["row"], row["ok"]) for row in body["rows"]] == [
        (2, True),
        (3, True),
        (4, False),
        (5, False),
    ]
    assert any("channel" in error for error in body["rows"][2]["errors"])
    assert body["rows"][3]["errors"] == ["title is required"]

    refused = upload(api, BAD, token=secretary, dry_run="false")
    assert refused.status_code == 422
    assert items_of(api) == []  # nothing committed

    dry = upload(api, GOOD, token=secretary, dry_run="true")
    assert dry.status_code == 200, dry.text
    assert dry.json()["committed"] is False and len(dry.json()["items"]) == 2
    assert items_of(api) == []

    done = upload(api, GOOD, token=secretary, dry_run="false")
    assert done.status_code == 201, done.text
    committed = done.json()
    assert committed["committed"] is True
    titles = [item["title"] for item in committed["items"]]
    assert titles == ["Laundry", "=cmd|' /C calc'!A0"]  # stored as the text it is
    assert committed["items"][0]["contributor"] == "Ann"
    assert committed["items"][1]["channel"] == "community_meeting"  # the forum's default
    assert {item["id"] for item in items_of(api)} == {item["id"] for item in committed["items"]}

    # the same file again (even with Windows line ends): the first answer, nothing new
    again = upload(api, GOOD.replace("\n", "\r\n"), token=secretary, dry_run="false")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [item["id"] for item in again.json()["items"]] == [
        item["id"] for item in committed["items"]
    ]
    assert len(items_of(api)) == 2

    # formula cells are escaped in the CSV export
    export = api.client.get(
        "/api/v1/exports/items.csv", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    exported = {row["title"] for row in csv.DictReader(io.StringIO(export.text))}
    assert "'=cmd|' /C calc'!A0" in exported

    # and script in the wording is escaped on the agenda page
    page = api.get("/api/v1/forums/cedar-cm/agenda", secretary, format="html")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_a_markdown_list(api: Api) -> None:
    api.organisation()
    text = "# Community meeting\n\n- Laundry: the machine is broken\n- Food: dinners are cold\n"
    answer = upload(api, text, media="text/markdown", dry_run="false")
    assert answer.status_code == 201, answer.text
    assert [item["you_said"] for item in answer.json()["items"]] == [
        "the machine is broken",
        "dinners are cold",
    ]


def test_refusals(api: Api) -> None:
    api.organisation()
    outsider = api.user("secretary", "willow")
    moderator = api.user("moderator", "cedar")
    assert upload(api, GOOD, media="application/json").status_code == 415
    assert upload(api, GOOD, token=outsider).status_code == 403
    assert upload(api, GOOD, token=moderator).status_code == 403
    assert upload(api, GOOD, forum="no-such-forum").status_code == 404
    assert upload(api, "").status_code == 422
    assert upload(api, "title,you_said\n" + "x,y\n" * 20_000).status_code == 413
    bad_bytes = api.client.post(
        "/api/v1/forums/cedar-cm/minutes",
        content=b"title,you_said\n\xff\xfe,x\n",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"},
    )
    assert bad_bytes.status_code == 422
    assert items_of(api) == []


def test_the_cli_imports_into_the_local_store(
    api: Api, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.organisation()
    monkeypatch.setenv("YSWD_DATA_DIR", str(data_dir))
    monkeypatch.setenv("YSWD_ADMIN_TOKEN", ADMIN_TOKEN)
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(BAD, encoding="utf-8")
    good.write_text(GOOD, encoding="utf-8")
    runner = CliRunner()

    refused = runner.invoke(cli, ["minutes", "import", str(bad), "--forum", "cedar-cm"])
    assert refused.exit_code == 1, refused.output
    assert "row 5: title is required" in refused.output

    dry = runner.invoke(cli, ["minutes", "import", str(good), "--forum", "cedar-cm", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "2 items would be imported" in dry.output

    done = runner.invoke(cli, ["minutes", "import", str(good), "--forum", "cedar-cm"])
    assert done.exit_code == 0, done.output
    assert "imported 2 items" in done.output
    again = runner.invoke(cli, ["minutes", "import", str(good), "--forum", "cedar-cm"])
    assert "already imported" in again.output

    web = api.client.app
    assert isinstance(web, FastAPI)
    web.state.container.runner.catch_up()
    assert len(items_of(api)) == 2  # the running service sees the CLI's items
