"""Staff sessions and rate limits shared by two real ``yswd serve`` replicas on one
PostgreSQL database, as behind a load balancer.

Given a member of staff signed in through replica A, when the balancer sends their
next request to replica B, then B knows them; when they sign out on A, B has
forgotten them by the next request; a restart of either keeps the session; revoking
their tokens ends it everywhere. A gap box that takes 5 suggestions a minute from an
address takes 5 across both replicas, not 10.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .servers import (
    Postgres,
    YswdProcess,
    free_port,
    postgres_or_skip,
    running_yswd,
    yswd_env,
)

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "two-replicas-admin-token-0123456789"
SECRET = "one-secret-for-every-replica-of-this-deployment-0123"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Replicas:
    a: YswdProcess
    b: YswdProcess


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


def start_replicas(postgres: Postgres, root: Path, **settings: str) -> Iterator[Replicas]:
    env = yswd_env(
        database_url=postgres.url,
        admin_token=ADMIN_TOKEN,
        secret_key=SECRET,
        run_projections="false",
        log_format="text",
        **settings,
    )
    ports = [free_port(), free_port()]
    with (
        running_yswd(
            ["serve", "--host", "127.0.0.1", "--port", str(ports[0])],
            env, root / "a.log", ports[0],
        ) as a,
        running_yswd(
            ["serve", "--host", "127.0.0.1", "--port", str(ports[1])],
            env, root / "b.log", ports[1],
        ) as b,
    ):  # fmt: skip
        wait_healthy(a)
        wait_healthy(b)
        yield Replicas(a, b)


@pytest.fixture(scope="module")
def replicas(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    # the default window (a minute, sliding): ten requests in a row see five let in,
    # whenever the minute's end falls (a fixed window let a burst across it in twice)
    yield from start_replicas(
        postgres, tmp_path_factory.mktemp("replicas"), gap_box_rate_limit="5"
    )


def healthy(replica: YswdProcess) -> bool:
    """Whether ``replica`` answers its health check now (not yet listening: no)."""
    try:
        return httpx.get(replica.url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(replica: YswdProcess, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if healthy(replica):
            return
        time.sleep(0.1)
    raise AssertionError(f"{replica.url} did not become healthy:\n{replica.log_text()[-2000:]}")


def sign_in(replica: YswdProcess, token: str) -> str:
    """Sign in with the token form on ``replica``: the session cookie's value."""
    with httpx.Client(base_url=replica.url, timeout=10) as browser:
        form = browser.get("/staff/sign-in")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        done = browser.post(
            "/staff/sign-in",
            data={"csrf_token": csrf.group(1), "token": token, "next": "/staff"},
        )
        assert done.status_code == 303, done.text
        cookie = browser.cookies.get("yswd_session")
        assert cookie
        return cookie


def home(replica: YswdProcess, cookie: str) -> httpx.Response:
    return httpx.get(
        replica.url + "/staff", cookies={"yswd_session": cookie}, timeout=10,
        follow_redirects=False,
    )  # fmt: skip


def signed_in(replica: YswdProcess, cookie: str) -> bool:
    answer = home(replica, cookie)
    assert answer.status_code in (200, 303), answer.text
    return answer.status_code == 200


def sign_out(replica: YswdProcess, cookie: str) -> None:
    page = home(replica, cookie)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    done = httpx.post(
        replica.url + "/staff/sign-out",
        data={"csrf_token": csrf.group(1)},
        cookies={"yswd_session": cookie},
        timeout=10,
    )
    assert done.status_code == 303


def new_user(replica: YswdProcess, name: str) -> tuple[str, str]:
    made = httpx.post(
        replica.url + "/api/v1/users",
        json={"name": name, "role": "auditor", "scopes": []},
        headers=ADMIN,
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return made.json()["id"], made.json()["token"]


def test_a_session_made_on_one_replica_is_used_on_the_other_and_signed_out_from_the_first(
    replicas: Replicas,
) -> None:
    cookie = sign_in(replicas.a, ADMIN_TOKEN)
    assert signed_in(replicas.b, cookie)
    assert signed_in(replicas.a, cookie)
    sign_out(replicas.a, cookie)
    assert not signed_in(replicas.b, cookie)
    assert not signed_in(replicas.a, cookie)


def test_a_session_survives_a_restart_of_both_replicas(replicas: Replicas) -> None:
    cookie = sign_in(replicas.b, ADMIN_TOKEN)
    for replica in (replicas.a, replicas.b):
        replica.stop()
        replica.start()
        wait_healthy(replica)
    assert signed_in(replicas.a, cookie)
    assert signed_in(replicas.b, cookie)


def test_revoking_a_users_tokens_ends_their_sessions_on_every_replica(
    replicas: Replicas,
) -> None:
    user_id, token = new_user(replicas.a, "Ada Auditor")
    on_a = sign_in(replicas.a, token)
    on_b = sign_in(replicas.b, token)
    assert signed_in(replicas.b, on_a) and signed_in(replicas.a, on_b)
    revoked = httpx.post(
        f"{replicas.a.url}/api/v1/users/{user_id}/revoke", headers=ADMIN, timeout=10
    )
    assert revoked.status_code == 200, revoked.text
    assert not signed_in(replicas.b, on_a)
    assert not signed_in(replicas.b, on_b)
    assert not signed_in(replicas.a, on_b)
    # a token issued afterwards works again, but the old sessions stay ended
    issued = httpx.post(
        f"{replicas.b.url}/api/v1/users/{user_id}/tokens", headers=ADMIN, timeout=10
    )
    assert issued.status_code == 201
    assert not signed_in(replicas.a, on_a)
    assert signed_in(replicas.a, sign_in(replicas.b, issued.json()["token"]))


def test_a_change_of_role_ends_the_users_sessions_on_every_replica(replicas: Replicas) -> None:
    user_id, token = new_user(replicas.b, "Rowan Auditor")
    on_a = sign_in(replicas.a, token)
    on_b = sign_in(replicas.b, token)
    changed = httpx.post(
        f"{replicas.a.url}/api/v1/users/{user_id}/role",
        json={"role": "admin"},
        headers=ADMIN,
        timeout=10,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "admin"
    assert not signed_in(replicas.b, on_a)
    assert not signed_in(replicas.a, on_b)
    again = sign_in(replicas.b, token)  # the same token, the new role
    assert signed_in(replicas.a, again)
    assert "Admin" in home(replicas.a, again).text


def test_a_forged_or_altered_cookie_is_nobody(replicas: Replicas) -> None:
    cookie = sign_in(replicas.a, ADMIN_TOKEN)
    session_id, _, signature = cookie.rpartition(".")
    assert not signed_in(replicas.b, f"{session_id}.{'A' * len(signature)}")
    assert not signed_in(replicas.b, "x" + cookie)
    assert signed_in(replicas.b, cookie)


def test_gap_box_suggestions_are_limited_across_both_replicas(replicas: Replicas) -> None:
    with httpx.Client(base_url=replicas.a.url, headers=ADMIN, timeout=10) as admin:
        for path, body in (
            ("/api/v1/units", {"id": "birch", "name": "Birch ward", "parent_id": None}),
            (
                "/api/v1/forums",
                {"id": "birch-cm", "name": "Birch meeting", "unit_id": "birch",
                 "kind": "community_meeting"},
            ),
        ):  # fmt: skip
            assert admin.post(path, json=body).status_code == 201
        today = time.strftime("%Y-%m-%d", time.gmtime())
        box = {
            "id": "birch-box",
            "unit_id": "birch",
            "forum_id": "birch-cm",
            "question": "What would make evenings on the ward better?",
            "opens_on": today,
            "closes_on": "2099-12-31",
        }
        made = admin.post("/api/v1/gap-boxes", json=box)
        assert made.status_code == 201, made.text
    answers = []
    for n in range(10):  # a balancer sending alternate requests to each replica
        replica = replicas.a if n % 2 == 0 else replicas.b
        answers.append(
            httpx.post(
                f"{replica.url}/public/api/v1/gap-boxes/birch-box/suggestions",
                json={"suggestion": f"Suggestion number {n + 1}: a film night"},
                timeout=10,
            )
        )
    codes = [answer.status_code for answer in answers]
    assert codes.count(201) == 5, codes
    assert codes.count(429) == 5, codes
    assert all(int(a.headers["retry-after"]) >= 1 for a in answers if a.status_code == 429)


def test_sign_in_attempts_are_limited_per_account_across_both_replicas(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for replicas in start_replicas(
        postgres, tmp_path_factory.mktemp("sign-in-limits"), sign_in_rate_limit="3"
    ):
        codes = []
        for n in range(6):
            replica = replicas.a if n % 2 == 0 else replicas.b
            with httpx.Client(base_url=replica.url, timeout=10) as browser:
                form = browser.get("/staff/sign-in")
                csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert csrf is not None
                codes.append(
                    browser.post(
                        "/staff/sign-in",
                        data={"csrf_token": csrf.group(1), "token": "yswd_guessed-token"},
                    ).status_code
                )
        assert codes == [401, 401, 401, 429, 429, 429], codes


def test_idle_and_absolute_limits_end_sessions_on_every_replica(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> None:
    for replicas in start_replicas(
        postgres,
        tmp_path_factory.mktemp("limits"),
        session_idle_seconds="2",
        session_absolute_seconds="4",
    ):
        idle = sign_in(replicas.a, ADMIN_TOKEN)
        time.sleep(2.5)
        assert not signed_in(replicas.b, idle)  # unused for longer than the idle limit
        busy = sign_in(replicas.a, ADMIN_TOKEN)
        deadline = time.monotonic() + 3.2
        n = 0
        while time.monotonic() < deadline:  # used often: the idle limit never bites
            assert signed_in(replicas.b if n % 2 else replicas.a, busy)
            n += 1
            time.sleep(0.5)
        time.sleep(1.5)
        assert not signed_in(replicas.b, busy)  # 4 seconds in all, however busy
