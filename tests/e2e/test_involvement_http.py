"""Voices counted: is it "not the same few people"? (``GET /public/api/v1/involvement``)

Cedar ward's November: eleven published items. Alice raised three (her name typed
three ways), Bob two, Carol, Dan, Eve and Fay one each, and two came with no name.
Willow ward (a sibling) has one more item; October has one more too.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api
from yswd.adapters.crypto import voice_hasher
from yswd.adapters.crypto.key_stores import MemoryKeyStore

INVOLVEMENT = "/public/api/v1/involvement"
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


def published(api: Api, forum_id: str = "cedar-cm", **extra: Any) -> str:
    item = api.raise_item(forum_id, **extra)
    answer = api.post(f"/api/v1/items/{item['id']}/publish", {})
    assert answer.status_code == 200, answer.text
    return str(item["id"])


def cedar_november(api: Api) -> None:
    api.organisation()
    voices = [
        ("Alice Smith", "community_meeting"),
        ("  alice   SMITH ", "community_meeting"),
        ("ALICE smith", "forum"),
        ("Bob", "community_meeting"),
        ("bob", "forum"),
        ("Carol", "community_meeting"),
        ("Dan", "forum"),
        ("Eve", "community_meeting"),
        ("Fay", "forum"),
        (None, "community_meeting"),
        (None, "complaint"),
    ]
    for number, (contributor, channel) in enumerate(voices, start=1):
        extra: dict[str, Any] = {"channel": channel, "raised_on": f"2026-11-{number:02d}"}
        if contributor:
            extra["contributor"] = contributor
        published(api, **extra)
    published(api, "willow-cm", contributor="Gil", raised_on="2026-11-05")
    published(api, contributor="Alice Smith", raised_on="2026-10-20")
    # not published: never counted
    api.raise_item(contributor="Hal", raised_on="2026-11-06")


def involvement(api: Api, **params: Any) -> Any:
    answer = api.client.get(INVOLVEMENT, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_distinct_voices_top_five_share_and_channels(api: Api) -> None:
    cedar_november(api)
    figures = involvement(api, unit_id="cedar", **NOVEMBER)
    assert figures["items"] == 11
    # Alice, Bob, Carol, Dan, Eve, Fay, and the two unnamed items: 8 voices
    assert figures["distinct_voices"] == 8
    # the five who raised most: Alice 3 + Bob 2 + three of the ones = 8 of 11
    assert figures["top5_share_pct"] == 72.7
    # community meeting 6, complaint 1, forum 4: the 1 and the 4 are withheld, and
    # together they make 5, so the 6 may show
    assert figures["channels"] == {"community_meeting": 6, "complaint": None, "forum": None}
    assert figures["suppressed"] == ["channels.complaint", "channels.forum"]


def test_no_name_appears_in_the_answer(api: Api) -> None:
    cedar_november(api)
    text = api.client.get(INVOLVEMENT, params={"unit_id": "cedar"}).text.casefold()
    for name in ("alice", "bob", "carol", "dan", "eve", "fay"):
        assert name not in text


def test_the_window_and_the_subtree_are_those_of_the_metrics(api: Api) -> None:
    cedar_november(api)
    # Meadowbank covers Willow too: 12 items, and Gil is a ninth voice
    figures = involvement(api, unit_id="meadowbank", **NOVEMBER)
    assert (figures["items"], figures["distinct_voices"]) == (12, 9)
    # October's item by Alice joins her other three: 12 items, still 8 voices;
    # the top five now raised 4 + 2 + 1 + 1 + 1 = 9 of 12
    figures = involvement(api, unit_id="cedar")
    assert (figures["items"], figures["distinct_voices"], figures["top5_share_pct"]) == (
        12,
        8,
        75.0,
    )
    metrics = api.client.get("/public/api/v1/metrics", params={"unit_id": "cedar"}).json()
    assert metrics["items_raised"] == figures["items"]


def test_erasure_drops_the_person_from_the_counts(api: Api) -> None:
    cedar_november(api)
    answer = api.post("/api/v1/contributors/forget", {"contributor": "alice smith"})
    assert answer.status_code == 200, answer.text
    figures = involvement(api, unit_id="cedar", **NOVEMBER)
    # each of Alice's three items is now a voice of its own: 3 + Bob + 4 + 2 unnamed
    assert figures["items"] == 11
    assert figures["distinct_voices"] == 10
    # and none of them is in the top five: Bob 2 + Carol, Dan, Eve, Fay 1 each = 6 of 11
    assert figures["top5_share_pct"] == 54.5


def test_small_numbers_are_withheld(api: Api) -> None:
    api.organisation()
    for contributor in ("Ann", "Ann", "Ben"):
        published(api, contributor=contributor, raised_on="2026-11-02")
    figures = involvement(api, unit_id="cedar")
    assert figures == {
        "items": None,
        "distinct_voices": None,
        "top5_share_pct": None,
        "channels": {"community_meeting": None},
        "suppressed": ["items", "distinct_voices", "top5_share_pct", "channels.community_meeting"],
    }
    assert involvement(api, unit_id="willow") == {
        "items": 0,
        "distinct_voices": 0,
        "top5_share_pct": None,
        "channels": {},
        "suppressed": [],
    }


def test_bad_queries_are_4xx(api: Api) -> None:
    api.organisation()
    assert api.client.get(INVOLVEMENT, params={"unit_id": "nowhere"}).status_code == 404
    assert api.client.get(INVOLVEMENT, params={"from": "yesterday"}).status_code == 422


def test_the_metrics_page_shows_involvement(api: Api) -> None:
    cedar_november(api)
    page = api.client.get("/public/metrics/cedar", params=NOVEMBER)
    assert page.status_code == 200
    assert "Who is speaking up" in page.text
    assert "72.7%" in page.text
    assert "alice" not in page.text.casefold()


def test_voices_are_a_keyed_hash_of_the_normalised_name() -> None:
    one, other = voice_hasher(MemoryKeyStore()), voice_hasher(MemoryKeyStore())
    assert one("Alice Smith") == one("  alice   SMITH ")
    assert one("Alice Smith") != one("Alice Smyth")
    # another key, another hash: a list of names cannot be hashed to find a voice
    assert one("Alice Smith") != other("Alice Smith")
    assert "alice" not in one("Alice Smith")
