"""Operations endpoints over HTTP: liveness, readiness, Prometheus metrics, request ids, logs."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import time

import pytest

from yswd.adapters.logs import JsonFormatter

from .conftest import Api

CONTRIBUTOR = "Ottoline Brackenridge-Vane"
DETAIL = "Mentioned the night staff by name"


def metric(text: str, name: str, **labels: str) -> float | None:
    """One sample's value from Prometheus text, or None."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        found = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if not found or found.group(1) != name:
            continue
        got = ",".join(sorted((found.group(2) or "").split(","))) if found.group(2) else ""
        if got == wanted:
            return float(found.group(3))
    return None


def test_healthz_and_readyz_answer_200_when_everything_is_reachable(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok"}}


def test_readyz_names_nats_when_it_cannot_be_reached(api: Api) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    container = api.client.app.state.container  # type: ignore[attr-defined]
    container.settings.nats_url = f"nats://127.0.0.1:{port}"
    answer = api.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
    assert answer.json()["down"] == ["nats"]
    assert answer.json()["checks"]["database"] == "ok"


def test_metrics_count_requests_by_route_template_with_no_ids(api: Api) -> None:
    api.organisation()
    item = api.raise_item(contributor=CONTRIBUTOR, detail=DETAIL)
    assert api.get(f"/api/v1/items/{item['id']}").status_code == 200
    assert api.get("/api/v1/items/no-such-item").status_code == 404

    answer = api.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    route = "/api/v1/items/{item_id}"
    assert metric(text, "yswd_http_requests_total", method="GET", route=route, status="200") == 1
    assert metric(text, "yswd_http_requests_total", method="GET", route=route, status="404") == 1
    assert (
        metric(text, "yswd_http_requests_total", method="POST", route="/api/v1/items", status="201")
        == 1
    )
    count = metric(
        text,
        "yswd_http_request_duration_seconds_count",
        method="POST",
        route="/api/v1/items",
        status="201",
    )
    assert count == 1
    assert item["id"] not in text and "no-such-item" not in text
    assert CONTRIBUTOR not in text and DETAIL not in text
    assert metric(text, "yswd_database_up") == 1
    assert (metric(text, "yswd_event_log_head") or 0) > 0
    # embedded, the background runner applies what is left (the reads' own records)
    deadline = time.monotonic() + 10
    while metric(text, "yswd_projection_lag_events", read_model="staff_items") != 0:
        assert time.monotonic() < deadline, "the read models did not catch up"
        time.sleep(0.1)
        text = api.client.get("/metrics").text
    assert metric(text, "yswd_projection_lag_seconds", read_model="staff_items") == 0


def test_metrics_show_what_the_public_answer_cache_keeps(api: Api) -> None:
    api.organisation()
    before = api.client.get("/metrics").text
    misses = metric(before, "yswd_answer_cache_reads_total", result="miss") or 0
    hits = metric(before, "yswd_answer_cache_reads_total", result="hit") or 0
    for _ in range(3):
        assert api.client.get("/public/api/v1/boards/cedar").status_code == 200
    text = api.client.get("/metrics").text
    assert metric(text, "yswd_answer_cache_reads_total", result="miss") == misses + 1
    assert metric(text, "yswd_answer_cache_reads_total", result="hit") == hits + 2
    assert (metric(text, "yswd_answer_cache_bytes") or 0) > 0
    assert metric(text, "yswd_answer_cache_max_bytes") == 32 * 2**20


def test_request_ids_are_honoured_or_made_and_returned(api: Api) -> None:
    given = api.client.get("/healthz", headers={"X-Request-Id": "trace-42.a"})
    assert given.headers["X-Request-Id"] == "trace-42.a"
    made = api.client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    other = api.client.get("/healthz")
    assert other.headers["X-Request-Id"] != made.headers["X-Request-Id"]


@pytest.fixture
def json_log() -> io.StringIO:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_request_logs_one_json_line_with_nothing_personal(
    api: Api, json_log: io.StringIO
) -> None:
    api.organisation()
    token = api.user("secretary", "cedar")
    item = api.raise_item(token=token, contributor=CONTRIBUTOR, detail=DETAIL)
    api.client.get(f"/api/v1/items/{item['id']}?q=secret-word", headers={"X-Request-Id": "req-7"})

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    requests = [line for line in lines if line["logger"] == "yswd.access"]
    read = [line for line in requests if line.get("request_id") == "req-7"]
    assert len(read) == 1
    assert read[0]["route"] == "/api/v1/items/{item_id}"
    assert read[0]["method"] == "GET"
    assert read[0]["status"] == 401  # no token sent with that read
    assert isinstance(read[0]["duration_ms"], float)
    assert {"time", "level", "logger", "message"} <= set(read[0])
    # what the service wrote (the test's own HTTP client logs raw URLs: not ours)
    everything = "\n".join(json.dumps(line) for line in lines if line["logger"] != "httpx")
    for secret in (CONTRIBUTOR, DETAIL, token, "secret-word", item["id"]):
        assert secret not in everything
