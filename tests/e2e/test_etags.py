"""Conditional GETs: a poller that already holds the board, feed, figures or Open311 list
pays nothing until something changes (ETag / If-None-Match, Last-Modified on feeds)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import pytest

from tests.e2e.conftest import Api

POLLED = [
    "/public/api/v1/boards/cedar",
    "/public/api/v1/metrics?unit_id=cedar",
    "/public/boards/cedar/feed.atom",
    "/open311/v2/requests.json?jurisdiction_id=cedar",
    "/open311/v2/requests.xml?jurisdiction_id=cedar",
    "/open311/v2/services.json",
    "/open311/v2/discovery.xml",
]


@pytest.fixture
def board(api: Api) -> str:
    """Cedar ward with one published item; returns its id."""
    api.organisation()
    item_id = str(api.raise_item()["id"])
    assert api.post(f"/api/v1/items/{item_id}/publish", {}).status_code == 200
    return item_id


@pytest.mark.parametrize("path", POLLED)
def test_a_matching_if_none_match_is_304_with_no_body(api: Api, board: str, path: str) -> None:
    first = api.client.get(path)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert tag.startswith('"') and tag.endswith('"')
    assert api.client.get(path).headers["ETag"] == tag  # the same answer, the same tag

    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        again = api.client.get(path, headers={"If-None-Match": sent})
        assert again.status_code == 304, sent
        assert again.content == b""
        assert again.headers["ETag"] == tag

    stale = api.client.get(path, headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200
    assert stale.content == first.content


@pytest.mark.parametrize("path", POLLED[:5])
def test_a_change_on_the_board_gives_a_new_tag(api: Api, board: str, path: str) -> None:
    tag = api.client.get(path).headers["ETag"]
    assert api.post(f"/api/v1/items/{board}/complete", {"we_did": "Fixed."}).status_code == 200
    after = api.client.get(path, headers={"If-None-Match": tag})
    assert after.status_code == 200
    assert after.headers["ETag"] != tag


def test_the_feed_says_when_it_last_changed(api: Api, board: str) -> None:
    feed = api.client.get("/public/boards/cedar/feed.atom")
    last_modified = parsedate_to_datetime(feed.headers["Last-Modified"])
    updated = api.get(f"/api/v1/items/{board}").json()["updated_at"]
    assert last_modified.isoformat()[:19] == updated[:19]

    since = {"If-Modified-Since": feed.headers["Last-Modified"]}
    assert api.client.get("/public/boards/cedar/feed.atom", headers=since).status_code == 304
    earlier = {"If-Modified-Since": format_datetime(last_modified - timedelta(1), usegmt=True)}
    assert api.client.get("/public/boards/cedar/feed.atom", headers=earlier).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2)
    both = {**since, "If-None-Match": '"stale"'}
    assert api.client.get("/public/boards/cedar/feed.atom", headers=both).status_code == 200
    unreadable = {"If-Modified-Since": "yesterday"}
    assert api.client.get("/public/boards/cedar/feed.atom", headers=unreadable).status_code == 200


def test_refusals_carry_no_etag(api: Api, board: str) -> None:
    missing = api.client.get("/public/api/v1/boards/atlantis", headers={"If-None-Match": "*"})
    assert missing.status_code == 404
    assert "ETag" not in missing.headers
