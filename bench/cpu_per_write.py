"""Server CPU seconds per HTTP write, for the writes the soak makes, against the bare route.

    python -m bench.cpu_per_write          # SQLite (embedded, projections in process)
    python -m bench.cpu_per_write --pg     # PostgreSQL, as a soak replica (no projections)
    python -m bench.cpu_per_write --pg --profile /tmp/h3   # and py-spy's stacks per kind
    python -m bench.cpu_per_write --pg --compare before=/tmp/old-tree/src
                                    # a second yswd server from another tree, alternated

On 2 shared cores the soak's submit latency is CPU queueing, so the figure is CPU
time, not wall time: the server process's user+system time (``/proc/PID/stat``,
every thread) before and after ``--requests`` requests of one kind, divided by their
number. yswd runs as the soak's replicas do (``yswd serve``, JSON logs to a file;
on PostgreSQL the read models are the worker's, so none run here); the bare route is
``bench.server bare`` (a FastAPI route doing a raw eventsourcing save) on the same
database. The kinds, as the soak's users send them:

- ``raise``: a secretary's ``POST /api/v1/items`` (every third names a contributor);
- ``respond``: a manager's ``POST /api/v1/items/{id}/respond`` with ``If-Match``;
- ``refer``: a manager's ``POST /api/v1/items/{id}/refer`` with ``If-Match``;
- ``suggest``: ``POST /public/api/v1/gap-boxes/{id}/suggestions``, each from a new
  connection from its own loopback address (the per-address limit counts, never refuses);
- ``bare``: ``POST /raw/items`` on the bare route.

Servers and kinds take turns in ``--rounds`` rounds (the order turning each round), so
a neighbour's burst falls on all alike: with ``--compare`` two versions run side by
side in one run. The figure per server and kind is its CPU over all its requests.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ADMIN_TOKEN,
    PG_ENV,
    ROOT,
    free_port,
    percentile,
    pg_database,
    store_env,
    tempdir,
)

KINDS = ("raise", "respond", "refer", "suggest", "bare")
SAID = [
    ("Laundry", "The washing machine on the ward has been broken for two weeks."),
    ("Menus", "The evening menu has not changed in months; we would like more choice."),
    ("Garden", "We cannot use the garden after 4pm because there are not enough staff."),
]
_addresses = itertools.count(1)
#: py-spy samples a second, of the thread holding the GIL (CPU in Python, not waits)
RATE = 500
SPY = ("py-spy", "record", "--format", "raw", "--gil")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def new_item(n: int) -> dict[str, Any]:
    title, said = SAID[n % len(SAID)]
    body: dict[str, Any] = {
        "forum_id": "ward-cm",
        "channel": "community_meeting",
        "raised_on": date.today().isoformat(),
        "title": f"{title} {n}",
        "you_said": said,
        "themes": [title.lower()],
    }
    if n % 3 == 0:  # personal data: sealed under the contributor's own key
        body["contributor"] = f"Patient {n}"
        body["detail"] = "Raised in the meeting; follow up in person."
    return body


def next_address() -> str:
    n = next(_addresses)
    return f"127.{(n >> 16) % 254 + 1}.{(n >> 8) & 255}.{n & 255 or 1}"


# -- the servers ---------------------------------------------------------------------


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path, ready: str) -> Iterator[int]:
    """A server process (its pid), its output in ``log``, once ``ready`` answers 200."""
    with log.open("ab") as out:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(ready, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args} did not start; see {log}")
            time.sleep(0.1)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def yswd_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YSWD_")}
    env.update(
        YSWD_DATA_DIR=str(data_dir),
        YSWD_ADMIN_TOKEN=ADMIN_TOKEN,
        YSWD_LOG_FORMAT="json",
    )
    if database_url:
        env["YSWD_DATABASE_URL"] = database_url
    data_dir.mkdir(parents=True, exist_ok=True)
    return env


# -- the organisation ----------------------------------------------------------------


class Org:
    def __init__(self, base: str) -> None:
        self.base = base
        self.admin = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )
        self.secretary = ""
        self.manager = ""

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = self.admin.post(path, json=body, headers=headers)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"set-up {path}: {r.status_code} {r.text[:300]}")
        return r.json()

    def set_up(self) -> None:
        for unit in (
            {"id": "trust", "name": "Trust", "parent_id": None},
            {"id": "hosp", "name": "Hospital", "parent_id": "trust"},
            {"id": "ward", "name": "Ward", "parent_id": "hosp"},
        ):
            self.post("/api/v1/units", unit)
        self.post(
            "/api/v1/forums",
            {"id": "ward-cm", "name": "Meeting", "unit_id": "ward", "kind": "community_meeting"},
        )
        self.post(
            "/api/v1/forums",
            {
                "id": "council",
                "name": "Council",
                "unit_id": "hosp",
                "kind": "service_user_council",
            },
        )

        def user(role: str, scope: str) -> str:
            made = self.post(
                "/api/v1/users", {"name": f"A {role}", "role": role, "scopes": [scope]}
            )
            return str(made["token"])

        self.secretary = user("secretary", "ward")
        self.manager = user("manager", "hosp")
        moderator = user("moderator", "trust")
        today = date.today()
        self.post(
            "/api/v1/gap-boxes",
            {
                "id": "box",
                "unit_id": "hosp",
                "forum_id": "council",
                "question": "What one thing would make this hospital better?",
                "opens_on": today.isoformat(),
                "closes_on": today.replace(year=today.year + 1).isoformat(),
            },
            token=moderator,
        )


# -- the load ------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """The parts of an answer ``Load.run`` checks (``http.client``'s, like httpx's)."""

    status_code: int
    text: str
    url: str


class Load:
    """Sends one kind's requests from ``clients`` threads; checks every answer."""

    def __init__(self, org: Org, bare: str, clients: int) -> None:
        self.org = org
        self.bare = bare
        self.clients = clients
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        #: items raised for the managers to answer: (id, version)
        self.waiting: list[tuple[str, int]] = []
        self.statuses: Counter[str] = Counter()

    def raise_one(self, client: httpx.Client) -> httpx.Response:
        n = next(self.counter)
        r = client.post(
            f"{self.org.base}/api/v1/items",
            json=new_item(n),
            headers={"Authorization": f"Bearer {self.org.secretary}"},
        )
        return r

    def stock(self, count: int) -> None:
        """Items for ``respond``/``refer`` to answer (not timed)."""
        with httpx.Client(timeout=60) as client:
            for _ in range(count):
                r = self.raise_one(client)
                assert r.status_code == 201, r.text
                self.waiting.append((r.json()["id"], r.json()["version"]))

    def one(self, kind: str, client: httpx.Client) -> httpx.Response | Answer:
        if kind == "raise":
            return self.raise_one(client)
        if kind == "bare":
            return client.post(f"{self.bare}/raw/items", json=new_item(next(self.counter)))
        if kind == "suggest":
            return self.suggest()
        with self.lock:
            item_id, version = self.waiting.pop()
        headers = {"Authorization": f"Bearer {self.org.manager}", "If-Match": str(version)}
        if kind == "respond":
            body: dict[str, Any] = {"response": "We have ordered a new one; it comes next week."}
        else:
            body = {"to_unit_id": "hosp", "note": "Passed to estates."}
        return client.post(
            f"{self.org.base}/api/v1/items/{item_id}/{kind}", json=body, headers=headers
        )

    def suggest(self) -> Answer:
        """A suggestion on a new connection from a new address (``http.client``: an
        ``httpx.Client`` a request would spend the client's CPU on an SSL context)."""
        host, port = self.org.base.removeprefix("http://").split(":")
        body = json.dumps({"suggestion": SAID[next(self.counter) % len(SAID)][1]})
        conn = http.client.HTTPConnection(
            host, int(port), timeout=60, source_address=(next_address(), 0)
        )
        try:
            path = "/public/api/v1/gap-boxes/box/suggestions"
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            answer = conn.getresponse()
            return Answer(answer.status, answer.read().decode(), f"{self.org.base}{path}")
        finally:
            conn.close()

    def run(self, kind: str, total: int) -> list[float]:
        """``total`` requests of ``kind``: their latencies (ms)."""
        per = max(total // self.clients, 1)
        expected = 201 if kind in ("raise", "suggest", "bare") else 200

        def worker() -> list[float]:
            times = []
            with httpx.Client(timeout=60) as client:
                for _ in range(per):
                    t0 = time.perf_counter()
                    r = self.one(kind, client)
                    times.append((time.perf_counter() - t0) * 1000)
                    self.statuses[f"{kind} {r.status_code}"] += 1
                    if r.status_code != expected:
                        raise RuntimeError(f"{r.url} -> {r.status_code}: {r.text[:300]}")
            return times

        with ThreadPoolExecutor(self.clients) as pool:
            futures = [pool.submit(worker) for _ in range(self.clients)]
            return [t for future in futures for t in future.result()]


@contextmanager
def profiled(pid: int, out: Path | None) -> Iterator[None]:
    """py-spy's collapsed stacks of ``pid`` while the block runs (when ``out`` is given)."""
    if out is None:
        yield
        return
    spy = subprocess.Popen(
        [*SPY, "--pid", str(pid), "-r", str(RATE), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # attached
    try:
        yield
    finally:
        spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
        spy.wait(timeout=60)


def frame_name(frame: str) -> str:
    """py-spy's ``function (path/to/file.py:line)`` as ``function file.py``."""
    function, _, where = frame.partition(" (")
    return f"{function} {where.split(':')[0].rsplit('/', 1)[-1]}" if where else function


def top_frames(collapsed: Path, limit: int = 40) -> list[tuple[str, float, float]]:
    """(function, inclusive share, self share) of py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [frame_name(frame) for frame in stack.split(";")[1:]]  # [0]: the thread
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    if not total:
        return []
    return [(f, inclusive[f] / total, own[f] / total) for f, _ in inclusive.most_common(limit)]


def start_yswd(
    stack: ExitStack, name: str, src: str | None, database_url: str | None, tmp: Path
) -> tuple[int, Org]:
    """One yswd server (``src``: another tree's ``src`` on PYTHONPATH), its organisation."""
    port = free_port()
    data_dir = tmp / f"yswd-{name}"
    if database_url is not None:
        database_url = pg_database(data_dir)
    env = yswd_env(data_dir, database_url)
    env["PYTHONPATH"] = f"{src or ROOT / 'src'}:{ROOT}"
    pid = stack.enter_context(
        process(
            [sys.executable, "-m", "yswd.cli", "serve", "--port", str(port)],
            env,
            tmp / f"yswd-{name}.log",
            f"http://127.0.0.1:{port}/readyz",
        )
    )
    org = Org(f"http://127.0.0.1:{port}")
    org.set_up()
    return pid, org


def measure(args: argparse.Namespace, database_url: str | None, tmp: Path) -> dict[str, Any]:
    """Every side's kinds and the bare route, in rounds, the order turning each round."""
    sides: dict[str, str | None] = {"yswd": None}
    for pair in args.compare or []:
        name, _, src = pair.partition("=")
        sides[name] = src
    kinds = [k for k in KINDS if k in args.kinds.split(",")]
    with ExitStack() as stack:
        bare_port = free_port()
        bare_pid = stack.enter_context(
            process(
                [sys.executable, "-m", "bench.server", "bare", str(bare_port)],
                {**os.environ, **store_env(tmp / "bare")},
                tmp / "bare.log",
                f"http://127.0.0.1:{bare_port}/bench/ready",
            )
        )
        bare = f"http://127.0.0.1:{bare_port}"
        pids: dict[str, int] = {}
        loads: dict[str, Load] = {}
        answering = sum(k in ("respond", "refer") for k in kinds)
        for name, src in sides.items():
            pids[name], org = start_yswd(stack, name, src, database_url, tmp)
            loads[name] = Load(org, bare, args.clients)
            loads[name].stock(answering * (args.requests + args.clients * 2))
            for kind in kinds:  # warm up: every code path once, and the connections
                loads[name].run(kind, args.clients * 2)
        # (side, kind) pairs; the bare route once per round
        turns = [(name, kind) for kind in kinds for name in sides if kind != "bare"]
        if "bare" in kinds:
            turns.append(("bare", "bare"))
        cpu: dict[tuple[str, str], float] = dict.fromkeys(turns, 0.0)
        count: Counter[tuple[str, str]] = Counter()
        latencies: dict[tuple[str, str], list[float]] = {turn: [] for turn in turns}
        part = max(args.requests // args.rounds, args.clients)
        for round_ in range(args.rounds):
            for name, kind in turns if round_ % 2 == 0 else turns[::-1]:
                pid = bare_pid if kind == "bare" else pids[name]
                load = loads[next(iter(sides))] if kind == "bare" else loads[name]
                out = None
                if args.profile is not None and round_ == 0:
                    store = "pg" if database_url else "sqlite"
                    out = Path(args.profile) / f"{store}-{name}-{kind}.txt"
                if kind != "bare":
                    time.sleep(args.settle)  # the embedded projector's batch of the last turn
                with profiled(pid, out):
                    before = cpu_seconds(pid)
                    found = load.run(kind, part)
                    if kind != "bare" and database_url is None:
                        time.sleep(args.settle)  # and its batch of these writes, counted
                    cpu[name, kind] += cpu_seconds(pid) - before
                count[name, kind] += len(found)
                latencies[name, kind] += found
    per = {turn: 1000 * cpu[turn] / count[turn] for turn in turns}
    bare_ms = per.get(("bare", "bare"))
    return {
        "store": "postgresql" if database_url else "sqlite",
        "load": os.getloadavg()[0],
        "cpu_ms": {f"{name} {kind}": ms for (name, kind), ms in per.items()},
        "ratio": {f"{name} {kind}": ms / bare_ms for (name, kind), ms in per.items()}
        if bare_ms
        else {},
        "p50_ms": {f"{n} {k}": percentile(latencies[n, k], 50) for n, k in turns},
        "requests": {f"{n} {k}": count[n, k] for n, k in turns},
    }


@contextmanager
def kept_logs(tmp: Path) -> Iterator[None]:
    """On a failure, the servers' logs are copied to /tmp/cpu-per-write-logs first."""
    try:
        yield
    except BaseException:
        keep = Path("/tmp/cpu-per-write-logs")
        keep.mkdir(exist_ok=True)
        for log in tmp.glob("*.log"):
            shutil.copy(log, keep / log.name)
        print(f"server logs kept in {keep}", file=sys.stderr)
        raise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_write")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL (a private cluster)")
    parser.add_argument("--requests", type=int, default=300, help="per kind")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--settle", type=float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="folder for py-spy's collapsed stacks (round 1)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--compare",
        action="append",
        metavar="NAME=SRC",
        help="also a yswd server from another tree's src, alternated with this one",
    )
    args = parser.parse_args(argv)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    with tempdir("cpu") as tmp, kept_logs(tmp):
        if args.pg:
            from tests.integration.servers import running_postgres

            with running_postgres() as pg:
                pg.psql(f"ALTER ROLE {pg.user} CREATEDB")  # the bare route's own database
                os.environ[PG_ENV] = pg.url
                try:
                    result = measure(args, pg.url, tmp)  # each server its own database
                finally:
                    os.environ.pop(PG_ENV, None)
        else:
            result = measure(args, None, tmp)
    print(json.dumps(result))
    print(f"{result['store']}, load {result['load']:.1f}: server CPU ms a request (x bare)")
    for turn, ms in result["cpu_ms"].items():
        print(f"  {turn:<16} {ms:6.2f} ms  {result['ratio'].get(turn, 0):5.2f}x")
    if args.profile:
        for turn in result["cpu_ms"]:
            name, kind = turn.split()
            path = Path(args.profile) / f"{'pg' if args.pg else 'sqlite'}-{name}-{kind}.txt"
            if not path.exists():
                continue
            print(f"\n== {turn}: inclusive / self share of samples")
            for frame, incl, own in top_frames(path, args.top):
                print(f"  {incl:6.1%} {own:6.1%}  {frame}")


if __name__ == "__main__":
    main()
