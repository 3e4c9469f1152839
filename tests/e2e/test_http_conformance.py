"""HTTP as integrators expect it: HEAD where GET works, a true Allow on 405, strict
dates, 404 for an unknown unit's export, and API docs that need no internet."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Api


@pytest.mark.parametrize(
    "path",
    ["/healthz", "/public/api/v1/boards/cedar", "/public/boards/cedar", "/open311/v2/services.xml"],
)
def test_head_answers_like_get_without_a_body(api: Api, path: str) -> None:
    api.organisation()
    got = api.client.get(path)
    head = api.client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers.get("etag") == got.headers.get("etag")


def test_head_on_a_staff_read_still_needs_a_token(api: Api) -> None:
    assert api.client.head("/api/v1/items").status_code == 401
    assert api.client.head("/api/v1/items", headers=api.admin).status_code == 200


def test_405_names_every_method_of_the_path(api: Api) -> None:
    answer = api.client.delete("/api/v1/items", headers=api.admin)
    assert answer.status_code == 405
    assert set(re.split(r",\s*", answer.headers["Allow"])) == {"GET", "HEAD", "POST"}
    answer = api.client.put("/api/v1/items/some-id/publish", headers=api.admin)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


@pytest.mark.parametrize("value", ["0", "20261102", "2026-11-2", "2026-02-30", "1"])
@pytest.mark.parametrize("name", ["from", "to"])
def test_metrics_dates_are_strict_yyyy_mm_dd(api: Api, name: str, value: str) -> None:
    answer = api.client.get("/public/api/v1/metrics", params={name: value})
    assert answer.status_code == 422, answer.text
    assert api.client.get("/public/api/v1/metrics", params={name: "2026-11-02"}).status_code == 200


def test_the_csv_export_of_an_unknown_unit_is_404(api: Api) -> None:
    api.organisation()
    assert api.get("/api/v1/exports/items.csv", unit_id="atlantis").status_code == 404
    known = api.get("/api/v1/exports/items.csv", unit_id="cedar")
    assert known.status_code == 200
    assert known.headers["content-type"].startswith("text/csv")


def test_the_api_docs_load_every_asset_from_the_service(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        html = api.client.get(page)
        assert html.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
        assert sources and all(source.startswith("/") for source in sources), sources
        assert "<script>" not in html.text  # no inline script: a strict CSP can stay
        for source in sources:
            asset = api.client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 50, source
