"""Staff sessions, sign-in attempts and rate counts in the database, on an injected clock.

Given a session opened at 09:30, when nobody uses it for 8 hours it has ended; when
it is used all day it still ends 12 hours after it began. Two stores over one
database (two replicas) see the same sessions and count the same requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yswd.adapters.http.session_store import (
    DatabaseLimiter,
    SessionStore,
    create_tables,
    load_or_create_secret,
)
from yswd.adapters.persistence import memory_engine
from yswd.aggregates.access import Principal
from yswd.aggregates.errors import RateLimited
from yswd.aggregates.users import Role

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
ALICE = Principal("u-alice", "Alice Ward", Role.SECRETARY, frozenset({"cedar"}))


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


def two_replicas(clock: Callable[[], datetime]) -> tuple[SessionStore, SessionStore]:
    engine = memory_engine()
    create_tables(engine)
    secret = b"the-same-secret-on-every-replica-0123456789"
    return SessionStore(engine, secret, clock), SessionStore(engine, secret, clock)


def test_a_session_opened_on_one_replica_is_found_on_the_other_and_closed_everywhere() -> None:
    a, b = two_replicas(Clock())
    session, cookie = a.open(ALICE, token_hash="abc")
    found = b.find(cookie)
    assert found is not None
    assert (found.principal, found.csrf_token, found.token_hash) == (
        ALICE,
        session.csrf_token,
        "abc",
    )
    b.close(found)
    assert a.find(cookie) is None


def test_idle_for_8_hours_ends_a_session() -> None:
    clock = Clock()
    a, b = two_replicas(clock)
    _, used = a.open(ALICE)
    _, unused = a.open(ALICE)
    clock.advance(hours=3)
    assert b.find(used) is not None  # used: its idle clock starts again
    clock.advance(hours=5, seconds=1)
    assert a.find(unused) is None  # 8 hours and a second unused
    assert b.find(unused) is None  # ended, not only hidden
    assert a.find(used) is not None  # 5 hours since it was last used


def test_12_hours_in_all_ends_a_session_however_busy() -> None:
    clock = Clock()
    a, _ = two_replicas(clock)
    _, cookie = a.open(ALICE)
    for _ in range(11):
        clock.advance(hours=1)
        assert a.find(cookie) is not None
    clock.advance(hours=1, seconds=1)
    assert a.find(cookie) is None


def test_a_cookie_signed_with_another_secret_or_altered_is_nobody() -> None:
    clock = Clock()
    a, _ = two_replicas(clock)
    _, cookie = a.open(ALICE)
    elsewhere = SessionStore(a.engine, b"another-deployments-secret-0123456789", clock)
    assert elsewhere.find(cookie) is None
    # alter the session id, not the signature's last character: base64 leaves that
    # character's low bits unused, so changing it can decode to the very same signature
    altered = ("B" if cookie[0] == "A" else "A") + cookie[1:]
    assert a.find(altered) is None
    session_id, _, signature = cookie.rpartition(".")
    assert a.find(f"{session_id}.{'A' * len(signature)}") is None
    assert a.find("") is None and a.find(None) is None and a.find("x" * 1000) is None


def test_closing_every_session_of_a_user() -> None:
    a, b = two_replicas(Clock())
    _, one = a.open(ALICE)
    _, two = b.open(ALICE)
    assert a.close_user(ALICE.user_id) == 2
    assert a.find(one) is None and b.find(two) is None


def test_a_sign_in_attempt_is_read_once() -> None:
    a, b = two_replicas(Clock())
    record = {"state": "s", "nonce": "n", "code_verifier": "v", "created_at": NOW.isoformat()}
    cookie = a.keep_attempt(record)
    assert b.take_attempt(cookie) == record
    assert a.take_attempt(cookie) is None  # a replayed callback finds nothing
    assert a.take_attempt("forged.cookie") is None


def test_the_token_forms_csrf_token_is_bound_to_its_nonce_and_secret() -> None:
    a, b = two_replicas(Clock())
    token = a.sign_in_token("nonce-1")
    assert b.check_sign_in_token("nonce-1", token)
    assert not b.check_sign_in_token("nonce-2", token)
    assert not b.check_sign_in_token(None, token)


def test_a_limit_counts_both_replicas_requests_and_lets_them_in_again_after_the_window() -> None:
    clock = Clock()
    a, _ = two_replicas(clock)
    one = DatabaseLimiter(a.engine, 5, 60, clock, prefix="gap-box")
    two = DatabaseLimiter(a.engine, 5, 60, clock, prefix="gap-box")
    for n in range(5):
        (one if n % 2 else two).acquire("10.0.0.1")
    with pytest.raises(RateLimited) as limited:
        one.acquire("10.0.0.1")
    assert 1 <= limited.value.retry_after <= 60
    with pytest.raises(RateLimited):
        two.acquire("10.0.0.1")
    two.acquire("10.0.0.2")  # another address has its own count
    clock.advance(seconds=60)
    one.acquire("10.0.0.1")  # the five have left the window


def test_a_burst_across_a_minute_boundary_is_still_held_to_the_limit() -> None:
    clock = Clock(NOW + timedelta(seconds=50))  # ten seconds before a whole minute
    limiter = DatabaseLimiter(two_replicas(clock)[0].engine, 5, 60, clock, prefix="gap-box")
    for _ in range(5):
        limiter.acquire("10.0.0.1")
    clock.advance(seconds=11)  # a new minute: a fixed window would let five more in
    with pytest.raises(RateLimited) as limited:
        limiter.acquire("10.0.0.1")
    assert limited.value.retry_after == 49  # when the first five leave the window
    clock.advance(seconds=48)
    with pytest.raises(RateLimited) as limited:
        limiter.acquire("10.0.0.1")
    assert limited.value.retry_after == 1
    clock.advance(seconds=1)
    limiter.acquire("10.0.0.1")


def test_a_refused_request_does_not_count_against_the_next() -> None:
    clock = Clock()
    limiter = DatabaseLimiter(two_replicas(clock)[0].engine, 2, 60, clock, prefix="sign-in")
    limiter.acquire("10.0.0.1")
    clock.advance(seconds=30)
    limiter.acquire("10.0.0.1")
    clock.advance(seconds=10)
    with pytest.raises(RateLimited):
        limiter.acquire("10.0.0.1")
    clock.advance(seconds=20)  # the first has left; the refused one was never kept
    limiter.acquire("10.0.0.1")
    with pytest.raises(RateLimited) as limited:
        limiter.acquire("10.0.0.1")
    assert limited.value.retry_after == 30


@settings(max_examples=40, deadline=None)
@given(
    limit=st.integers(1, 4),
    window=st.integers(1, 30),
    gaps=st.lists(st.integers(0, 12), min_size=1, max_size=25),
)
def test_a_limit_lets_in_exactly_what_a_sliding_window_allows(
    limit: int, window: int, gaps: list[int]
) -> None:
    """Whatever the timing: a request gets in if and only if fewer than ``limit``
    requests got in during the ``window`` seconds before it."""
    clock = Clock()
    limiter = DatabaseLimiter(two_replicas(clock)[0].engine, limit, window, clock, prefix="p")
    let_in: list[float] = []
    for gap in gaps:
        clock.advance(seconds=gap)
        now = clock().timestamp()
        recent = [t for t in let_in if t > now - window]
        try:
            limiter.acquire("10.0.0.1")
        except RateLimited as refused:
            assert len(recent) >= limit
            assert refused.retry_after == max(1, math.ceil(min(recent) + window - now))
        else:
            assert len(recent) < limit
            let_in.append(now)


def test_an_unset_secret_is_made_once_and_kept(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    engine = memory_engine()
    first = load_or_create_secret(None, engine, folder)
    assert first == load_or_create_secret(None, engine, folder)
    assert (folder / "secret-key").stat().st_mode & 0o077 == 0
    shared = load_or_create_secret(None, engine, None)  # scaled out: in the database
    assert shared == load_or_create_secret(None, engine, None)
    assert load_or_create_secret("configured-secret-value", engine, folder) == (
        b"configured-secret-value"
    )
