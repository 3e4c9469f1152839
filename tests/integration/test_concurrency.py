"""Many writers on one item, over HTTP against a real server and SQLite."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.integration.conftest import LiveServer, setup_ward

THREADS = 20


def race(
    server: LiveServer, path: str, bodies: list[dict[str, str]], headers: dict[str, str]
) -> list[httpx.Response]:
    """Post every body at once (released together by a barrier)."""
    barrier = threading.Barrier(len(bodies))

    def post(body: dict[str, str]) -> httpx.Response:
        with server.client() as client:
            client.get("/healthz")  # connect before the race
            barrier.wait()
            return client.post(path, json=body, headers=headers)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, bodies))


def test_one_of_twenty_responses_with_the_same_if_match_wins(live_server: LiveServer) -> None:
    item = setup_ward(live_server)
    path = f"/api/v1/items/{item['id']}"
    bodies = [{"response": f"Answer {n}"} for n in range(THREADS)]
    answers = race(live_server, f"{path}/respond", bodies, {"If-Match": str(item["version"])})
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * (THREADS - 1), [
        a.text for a in answers if a.status_code not in (200, 409)
    ]
    winner = next(a.json() for a in answers if a.status_code == 200)
    with live_server.client() as client:
        stored = client.get(path).json()
    assert stored["version"] == item["version"] + 1 == winner["version"]
    assert stored["status"] == "responded"
    assert [r["response"] for r in stored["responses"]] == [winner["responses"][0]["response"]]


def test_twenty_progress_notes_without_if_match_are_all_recorded(
    live_server: LiveServer,
) -> None:
    item = setup_ward(live_server)
    path = f"/api/v1/items/{item['id']}"
    bodies = [{"note": f"Note {n}"} for n in range(THREADS)]
    answers = race(live_server, f"{path}/progress", bodies, {})
    assert [a.status_code for a in answers] == [200] * THREADS, [a.text for a in answers]
    with live_server.client() as client:
        stored = client.get(path).json()
        listed = client.get("/api/v1/items").json()["items"]
    assert stored["version"] == item["version"] + THREADS
    assert sorted(p["note"] for p in stored["progress"]) == sorted(b["note"] for b in bodies)
    assert [i["version"] for i in listed] == [stored["version"]]


def test_concurrent_retries_with_one_idempotency_key_create_one_item(
    live_server: LiveServer,
) -> None:
    setup_ward(live_server)
    body = {
        "forum_id": "cedar-cm",
        "channel": "other",
        "raised_on": "2026-11-03",
        "title": "Menus",
        "you_said": "The menu never changes.",
    }
    answers = race(live_server, "/api/v1/items", [body] * 10, {"Idempotency-Key": "retry-1"})
    assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    with live_server.client() as client:
        titles = [i["title"] for i in client.get("/api/v1/items").json()["items"]]
    assert sorted(titles) == ["Laundry", "Menus"]


def test_concurrent_creation_of_one_unit_id_makes_one_unit(live_server: LiveServer) -> None:
    setup_ward(live_server)
    bodies = [{"id": "oak", "name": f"Oak {n}", "parent_id": "trust"} for n in range(10)]
    answers = race(live_server, "/api/v1/units", bodies, {})
    assert sorted(a.status_code for a in answers) == [201] + [409] * 9
    winner = next(a.json() for a in answers if a.status_code == 201)
    with live_server.client() as client:
        assert client.get("/api/v1/units/oak").json()["name"] == winner["name"]
