"""What the public answer cache keeps is bounded in bytes, the least recently read going first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from yswd.aggregates.access import SYSTEM
from yswd.bootstrap import build
from yswd.projections.answers import ENTRY_BYTES, AnswerCache
from yswd.settings import Settings


@pytest.fixture
def engine() -> Iterator[object]:
    container = build(memory=True)  # its read-model tables hold the versions read
    try:
        yield container.engine
    finally:
        container.close()


def kept(cache: AnswerCache, key: str) -> bool:
    misses = cache.misses
    cache.get(key, lambda: b"again")
    return cache.misses == misses


def test_many_small_answers_are_kept_side_by_side(engine: object) -> None:
    """Not 512 answers of any size: a thousand wards' small boards all stay."""
    cache = AnswerCache(engine, max_bytes=1_000 * (ENTRY_BYTES + 100))  # type: ignore[arg-type]
    for ward in range(1_000):
        cache.get(f"board-{ward}", lambda: b"x" * 100)
    assert cache.kept_bytes == 1_000 * (ENTRY_BYTES + 100)
    assert all(kept(cache, f"board-{ward}") for ward in range(1_000))


def test_a_large_answer_pushes_out_the_least_recently_read(engine: object) -> None:
    cache = AnswerCache(engine, max_bytes=10 * 1024)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        cache.get(name, lambda: b"x" * 2_000)
    cache.get("a", lambda: b"not computed again")  # read: now the most recent
    cache.get("large", lambda: b"y" * 6_000)
    assert cache.kept_bytes <= cache.max_bytes
    assert kept(cache, "a") and kept(cache, "large")
    assert not kept(cache, "b")  # the least recently read went first


def test_an_answer_larger_than_the_bound_is_answered_and_not_kept(engine: object) -> None:
    cache = AnswerCache(engine, max_bytes=4 * 1024)  # type: ignore[arg-type]
    cache.get("small", lambda: b"x" * 100)
    huge = b"z" * 10_000
    assert cache.get("huge", lambda: huge) == huge
    assert kept(cache, "small")
    assert not kept(cache, "huge")
    assert cache.kept_bytes == ENTRY_BYTES + 100 + ENTRY_BYTES + len(b"again")


def test_an_answer_renewed_under_its_key_is_counted_once() -> None:
    container = build(memory=True)
    try:
        cache = AnswerCache(container.engine, max_bytes=1024 * 1024)
        cache.get("board", lambda: b"x" * 1_000)
        container.app.create_unit(SYSTEM, "trust", "A trust", None)
        container.runner.catch_up()  # the read models moved: the answer is renewed
        assert cache.get("board", lambda: b"y" * 300) == b"y" * 300
        assert cache.kept_bytes == ENTRY_BYTES + 300
    finally:
        container.close()


#: a version that never moves: the container's own runner may still be catching up
#: with its first events while the threads read, which would make their keys differ
STILL = "SELECT 1"


@pytest.fixture
def file_engine(tmp_path: Path) -> Iterator[object]:
    """A store in a file: readers in several threads at once read it side by side (an
    in-memory store's shared cache makes them wait on each other's table locks, and
    under faketime SQLite's wait for a lock never ends)."""
    container = build(Settings(data_dir=tmp_path / "data"))
    try:
        yield container.engine
    finally:
        container.close()


def until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


class Reader(threading.Thread):
    """One request reading an answer in a thread of its own (a pool's thread each, as
    under uvicorn; a ``ThreadPoolExecutor`` here left a task queued under faketime)."""

    def __init__(self, cache: AnswerCache, key: str, compute: Callable[[], bytes]) -> None:
        super().__init__(daemon=True)
        self.cache, self.key, self.compute = cache, key, compute
        self.answer: bytes | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.answer = self.cache.get(self.key, self.compute)
        except BaseException as error:
            self.error = error

    def result(self) -> bytes | None:
        self.join(5)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error
        return self.answer


def test_readers_who_miss_together_wait_for_one_computation(file_engine: object) -> None:
    """A burst of readers of one area's figures costs one computation, not one each."""
    cache = AnswerCache(file_engine, version_sql=STILL)  # type: ignore[arg-type]
    started, release = threading.Event(), threading.Event()
    computed: list[int] = []

    def slow() -> bytes:
        computed.append(1)
        started.set()
        assert release.wait(5)
        return b"the region's figures"

    first = Reader(cache, "region", slow)
    assert started.wait(5)
    others = [Reader(cache, "region", slow) for _ in range(3)]
    assert until(lambda: cache.shared == 3)  # every other reader waits for the first
    release.set()
    answers = [first.result(), *(other.result() for other in others)]
    assert answers == [b"the region's figures"] * 4
    assert computed == [1]
    assert (cache.misses, cache.shared, cache.hits) == (1, 3, 0)
    assert kept(cache, "region")


def test_when_the_computation_fails_its_waiting_readers_fail_and_the_next_tries_again(
    file_engine: object,
) -> None:
    cache = AnswerCache(file_engine, version_sql=STILL)  # type: ignore[arg-type]
    started, release = threading.Event(), threading.Event()

    def failing() -> bytes:
        started.set()
        assert release.wait(5)
        raise LookupError("the read failed")

    first = Reader(cache, "board", failing)
    assert started.wait(5)
    waiting = Reader(cache, "board", failing)
    assert until(lambda: cache.shared == 1)
    release.set()
    for reader in (first, waiting):
        with pytest.raises(LookupError):
            reader.result()
    assert cache.get("board", lambda: b"computed afresh") == b"computed afresh"
    assert cache.kept_bytes == ENTRY_BYTES + len(b"computed afresh")


def test_a_smaller_bound_lets_the_least_recently_read_go_and_zero_keeps_nothing(
    engine: object,
) -> None:
    cache = AnswerCache(engine, max_bytes=10 * 1024)  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        cache.get(name, lambda: b"x" * 1_000)
    cache.resize(2 * (ENTRY_BYTES + 1_000))
    assert not kept(cache, "a") and kept(cache, "c")
    cache.resize(0)
    assert cache.kept_bytes == 0
    assert not kept(cache, "c")
    assert cache.kept_bytes == 0
