"""``yswd serve`` as a real process behind (or not behind) a proxy: X-Forwarded-For is
believed only from the proxies YSWD_TRUSTED_PROXIES names, and by default from none, so
a forged header cannot pick the client address the gap-box rate limit counts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .servers import free_port, running_yswd, yswd_env

pytestmark = pytest.mark.integration

TOKEN = "proxy-test-admin-token"
LIMIT = 5  # the default: five suggestions a minute from one client


@contextmanager
def serving(tmp_path: Path, **settings: str) -> Iterator[httpx.Client]:
    port = free_port()
    env = yswd_env(data_dir=str(tmp_path / "data"), admin_token=TOKEN, **settings)
    args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    with (
        running_yswd(args, env, tmp_path / "serve.log", port) as process,
        httpx.Client(base_url=process.url, timeout=20) as client,
    ):
        admin = {"Authorization": f"Bearer {TOKEN}"}
        for path, body in (
            ("/api/v1/units", {"id": "ward", "name": "Ward", "parent_id": None}),
            (
                "/api/v1/forums",
                {"id": "cm", "name": "Meeting", "unit_id": "ward", "kind": "community_meeting"},
            ),
            (
                "/api/v1/gap-boxes",
                {  # open whatever the machine's date (the process runs on its own clock)
                    "id": "box",
                    "unit_id": "ward",
                    "forum_id": "cm",
                    "question": "What should change?",
                    "opens_on": "2000-01-01",
                    "closes_on": "2999-12-31",
                },
            ),
        ):
            answer = client.post(path, json=body, headers=admin)
            assert answer.status_code == 201, answer.text
        yield client


def suggest(client: httpx.Client, forwarded_for: str) -> int:
    answer = client.post(
        "/public/api/v1/gap-boxes/box/suggestions",
        json={"suggestion": "More fresh fruit, please."},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return answer.status_code


def test_by_default_a_forged_x_forwarded_for_does_not_dodge_the_rate_limit(
    tmp_path: Path,
) -> None:
    with serving(tmp_path) as client:
        statuses = [suggest(client, f"203.0.113.{n}") for n in range(LIMIT + 1)]
    assert statuses == [201] * LIMIT + [429]  # one client, however it calls itself


def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_alone(tmp_path: Path) -> None:
    with serving(tmp_path, trusted_proxies="127.0.0.1") as client:
        different = [suggest(client, f"203.0.113.{n}") for n in range(LIMIT + 1)]
        same = [suggest(client, "198.51.100.7") for _ in range(LIMIT + 1)]
    assert different == [201] * (LIMIT + 1)
    assert same == [201] * LIMIT + [429]
