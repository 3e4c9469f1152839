"""The soak (issue 19, R1): Locust users against the scaled-out topology.

Run it through ``python -m bench.soak`` (which starts ``scripts/dev-topology.sh``,
runs Locust headless and checks the pass criteria afterwards), or by hand against a
running topology:

    YSWD_SOAK_HOSTS=http://127.0.0.1:8101,http://127.0.0.1:8102 \\
    YSWD_SOAK_ADMIN_TOKEN=... YSWD_SOAK_METRICS_URL=http://127.0.0.1:9101/metrics \\
    YSWD_SOAK_OUT=/tmp/soak locust -f bench/locustfile.py --headless -u 200 -r 10 -t 10m \\
        --host http://127.0.0.1:8101
    python -m bench.soak --check-only /tmp/soak

Who is simulated (weights out of 200 users; see bench/README.md for the peak they
stand for):

- ``Secretary`` (28): raises the items of a ward's meeting, reads back what came
  back, and now and then reads its own write from the *other* replica with
  ``?min_position=`` (cross-replica read-your-writes, checked).
- ``Manager`` (36): answers items of its hospital: refer, respond, complete,
  decline, each with ``If-Match`` (a 409 from a colleague who got there first is an
  expected answer, counted apart, not a failure).
- ``Moderator`` (6): publishes raised items, so boards fill up.
- ``PublicReader`` (110): boards (JSON and HTML), metrics and Atom feeds of wards,
  hospitals, providers and the whole region.
- ``GapBoxCrowd`` (20): reads a gap box, and in burst windows posts suggestions
  fast, each from its own loopback address (127.x.y.z), as a crowd would, so the
  per-address rate limit is exercised but not the whole crowd's limit.

Everything the run needs afterwards goes to ``$YSWD_SOAK_OUT/soak-run.json``: every
acknowledged item id with its ``X-Yswd-Position`` and the time of its answer, every
write's position, the read models' positions sampled from the worker's
``/metrics`` every 0.2 s, status counts, and Locust's per-request percentiles.
"""

from __future__ import annotations

# isort: off
# locust first: it patches the standard library with gevent, which must happen before
# ssl is imported (``python -m bench.locustfile setup`` has no ``locust`` command before it)
import locust  # noqa: F401

# isort: on
import itertools
import json
import os
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import gevent
import requests
from locust import HttpUser, between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from requests.adapters import HTTPAdapter

POSITION = "X-Yswd-Position"
#: seconds between two samples of the read models' positions
SAMPLE_SECONDS = 0.2


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"YSWD_SOAK_{name}", default)


def _hosts() -> list[str]:
    return [h.rstrip("/") for h in _env("HOSTS", "http://127.0.0.1:8101").split(",") if h]


# -- shared state of one run ----------------------------------------------------------


@dataclass
class Organisation:
    prefix: str
    region: str
    providers: list[str]
    hospitals: list[str]
    wards: list[str]
    #: ward -> its hospital
    hospital_of: dict[str, str]
    #: ward -> secretary token
    secretaries: dict[str, str]
    #: hospital -> manager tokens
    managers: dict[str, list[str]]
    #: provider -> moderator token
    moderators: dict[str, str]
    #: hospital -> gap box id
    boxes: dict[str, str]
    #: the items made during set-up
    seeded: list[str] = field(default_factory=list)


@dataclass
class Run:
    org: Organisation | None = None
    started: float = 0.0
    #: every item the service acknowledged creating: (id, kind, answered at, position)
    items: list[tuple[str, str, float, int]] = field(default_factory=list)
    #: every acknowledged write: (answered at, position, kind)
    writes: list[tuple[float, int, str]] = field(default_factory=list)
    #: (sampled at, staff_items position, lowest position of any read model, head)
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    conflicts: Counter[str] = field(default_factory=Counter)
    #: cross-replica ?min_position= reads: (seen, seconds)
    visibility: list[tuple[bool, float]] = field(default_factory=list)
    sampler_errors: int = 0
    setup_seconds: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)


RUN = Run()
_lock = threading.Lock()
_addresses = itertools.count(1)


def _acknowledge_write(kind: str, response: Any, item_id: str | None = None) -> None:
    raw = response.headers.get(POSITION) or response.headers.get(POSITION.lower())
    if raw is None:
        return
    now = time.time()
    position = int(raw)
    with _lock:
        RUN.writes.append((now, position, kind))
        if item_id is not None:
            RUN.items.append((item_id, kind, now, position))


def _burst_now() -> bool:
    """Whether the gap-box crowd is in a burst: ``YSWD_SOAK_BURST=period,start,length``."""
    period, start, length = (float(x) for x in _env("BURST", "180,60,60").split(","))
    since = time.time() - RUN.started
    return start <= since % period < start + length


# -- setting up: units, forums, users, gap boxes, some items (admin API) ------------------


class Admin:
    def __init__(self, host: str, token: str) -> None:
        self.host = host
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.session.post(f"{self.host}{path}", json=body, headers=headers, timeout=30)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"set-up {path}: {response.status_code} {response.text[:300]}")
        return response


def set_up(host: str, admin_token: str, wards_per_hospital: int = 6) -> Organisation:
    """A region of 2 providers x 2 hospitals x ``wards_per_hospital`` wards, with staff."""
    admin = Admin(host, admin_token)
    prefix = _env("PREFIX") or f"s{random.randrange(16**6):06x}"
    region = f"{prefix}-region"
    today = datetime.now(UTC).date()
    admin.post("/api/v1/units", {"id": region, "name": "Soak region", "parent_id": None})
    org = Organisation(prefix, region, [], [], [], {}, {}, {}, {}, {})
    for p in range(2):
        provider = f"{prefix}-trust-{p}"
        admin.post("/api/v1/units", {"id": provider, "name": f"Trust {p}", "parent_id": region})
        org.providers.append(provider)
        moderator = admin.post(
            "/api/v1/users", {"name": f"Moderator {p}", "role": "moderator", "scopes": [provider]}
        ).json()
        org.moderators[provider] = moderator["token"]
        for h in range(2):
            hospital = f"{provider}-h{h}"
            admin.post(
                "/api/v1/units",
                {"id": hospital, "name": f"Hospital {p}.{h}", "parent_id": provider},
            )
            org.hospitals.append(hospital)
            council = f"{hospital}-council"
            admin.post(
                "/api/v1/forums",
                {
                    "id": council,
                    "name": "Service user council",
                    "unit_id": hospital,
                    "kind": "service_user_council",
                },
            )
            box = f"{hospital}-box"
            admin.post(
                "/api/v1/gap-boxes",
                {
                    "id": box,
                    "unit_id": hospital,
                    "forum_id": council,
                    "question": "What one thing would make this hospital better?",
                    "opens_on": today.isoformat(),
                    "closes_on": (today + timedelta(days=30)).isoformat(),
                },
                token=moderator["token"],
            )
            org.boxes[hospital] = box
            org.managers[hospital] = [
                admin.post(
                    "/api/v1/users",
                    {"name": f"Manager {p}.{h}.{m}", "role": "manager", "scopes": [hospital]},
                ).json()["token"]
                for m in range(2)
            ]
            for w in range(wards_per_hospital):
                ward = f"{hospital}-w{w}"
                admin.post(
                    "/api/v1/units",
                    {"id": ward, "name": f"Ward {p}.{h}.{w}", "parent_id": hospital},
                )
                admin.post(
                    "/api/v1/forums",
                    {
                        "id": f"{ward}-cm",
                        "name": "Community meeting",
                        "unit_id": ward,
                        "kind": "community_meeting",
                    },
                )
                org.wards.append(ward)
                org.hospital_of[ward] = hospital
                org.secretaries[ward] = admin.post(
                    "/api/v1/users",
                    {"name": f"Secretary {ward}", "role": "secretary", "scopes": [ward]},
                ).json()["token"]
    # a few items per ward, half of them published, so boards and inboxes have work
    for ward in org.wards:
        for n in range(4):
            item = admin.post(
                "/api/v1/items", new_item(ward, n), token=org.secretaries[ward]
            ).json()
            org.seeded.append(item["id"])
            if n % 2 == 0:
                provider = ward.rsplit("-h", 1)[0]
                admin.post(
                    f"/api/v1/items/{item['id']}/publish", {}, token=org.moderators[provider]
                )
    return org


TOPICS = [
    ("Laundry", "The washing machine on the ward has been broken for two weeks."),
    ("Menus", "The evening menu has not changed in months; we would like more choice."),
    ("Garden", "We cannot use the garden after 4pm because there are not enough staff."),
    ("Phones", "The ward phone is in the corridor, so calls home are not private."),
    ("Activities", "There is nothing to do at weekends. Could we have a film night?"),
    ("Leave", "Escorted leave is often cancelled at short notice."),
    ("Noise", "Night checks wake people up; could they be quieter?"),
    ("Smoking", "We would like help to stop smoking, such as patches and a group."),
]


def new_item(ward: str, n: int) -> dict[str, Any]:
    title, said = TOPICS[n % len(TOPICS)]
    body: dict[str, Any] = {
        "forum_id": f"{ward}-cm",
        "channel": "community_meeting",
        "raised_on": date.today().isoformat(),
        "title": f"{title} {n}",
        "you_said": said,
        "themes": [title.lower()],
    }
    if n % 3 == 0:  # personal data: sealed under the contributor's own key
        body["contributor"] = f"Patient {random.randrange(10_000)}"
        body["detail"] = "Raised in the meeting; follow up in person."
    return body


# -- the lag sampler: the read models' positions, from the worker's /metrics ------------

_METRIC = re.compile(
    r'^(yswd_event_log_head|yswd_projection_lag_events)(?:\{read_model="([^"]+)"\})? ([0-9.e+]+)$'
)


def sample_positions(url: str, session: requests.Session) -> tuple[int, int, int] | None:
    """(staff_items position, lowest read model position, head) from one scrape."""
    text = session.get(url, timeout=5).text
    head = None
    lags: dict[str, float] = {}
    for line in text.splitlines():
        found = _METRIC.match(line)
        if not found:
            continue
        name, model, value = found.groups()
        if name == "yswd_event_log_head":
            head = int(float(value))
        elif model:
            lags[model] = float(value)
    if head is None or not lags:
        return None
    staff = head - int(lags.get("staff_items", max(lags.values())))
    lowest = head - int(max(lags.values()))
    return staff, lowest, head


def sampler(url: str) -> None:
    session = requests.Session()
    while not RUN.stop.is_set():
        try:
            found = sample_positions(url, session)
            if found is not None:
                with _lock:
                    RUN.samples.append((time.time(), *found))
        except Exception:
            RUN.sampler_errors += 1
        gevent.sleep(SAMPLE_SECONDS)


def _final_samples(url: str, seconds: float = 20) -> None:
    """After the load stops: sample on until every read model has every answered write
    (or ``seconds`` pass), so the last writes' lag is measured too."""
    if not url or not RUN.writes:
        return
    target = max(position for _, position, _ in RUN.writes)
    session = requests.Session()
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            found = sample_positions(url, session)
        except Exception:
            RUN.sampler_errors += 1
            found = None
        if found is not None:
            with _lock:
                RUN.samples.append((time.time(), *found))
            if found[1] >= target:
                return
        gevent.sleep(SAMPLE_SECONDS)


# -- events -------------------------------------------------------------------------------


@events.request.add_listener
def _count_status(response: Any = None, exception: Any = None, **_: Any) -> None:
    code = getattr(response, "status_code", None) if response is not None else None
    if not code:
        RUN.statuses["connection error"] += 1
    else:
        RUN.statuses[f"{code // 100}xx"] += 1
        if code >= 500:
            RUN.statuses[str(code)] += 1


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    if RUN.org is not None:
        return
    started = time.monotonic()
    made = _env("ORG")  # set up beforehand (``python -m bench.locustfile setup``)
    if made and Path(made).exists():
        RUN.org = Organisation(**json.loads(Path(made).read_text()))
    else:
        RUN.org = set_up(_hosts()[0], _env("ADMIN_TOKEN"), int(_env("WARDS_PER_HOSPITAL", "6")))
    RUN.setup_seconds = time.monotonic() - started
    RUN.items.extend((item_id, "setup", time.time(), 0) for item_id in RUN.org.seeded)
    RUN.started = time.time()
    metrics = _env("METRICS_URL")
    if metrics:
        gevent.spawn(sampler, metrics)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    RUN.stop.set()
    _final_samples(_env("METRICS_URL"))
    out = Path(_env("OUT", "soak-out"))
    out.mkdir(parents=True, exist_ok=True)
    stats = []
    for (name, method), entry in sorted(environment.stats.entries.items()):
        stats.append(_entry(name, method, entry))
    total = _entry("Aggregated", "", environment.stats.total)
    payload = {
        "hosts": _hosts(),
        "users": environment.parsed_options.num_users if environment.parsed_options else None,
        "run_started": RUN.started,
        "run_ended": time.time(),
        "setup_seconds": RUN.setup_seconds,
        "items": RUN.items,
        "writes": RUN.writes,
        "samples": RUN.samples,
        "sampler_errors": RUN.sampler_errors,
        "statuses": dict(RUN.statuses),
        "conflicts": dict(RUN.conflicts),
        "visibility": RUN.visibility,
        "stats": stats,
        "total": total,
        "failures": [
            {
                "name": e.name,
                "method": e.method,
                "error": str(e.error)[:300],
                "count": e.occurrences,
            }
            for e in environment.stats.errors.values()
        ],
    }
    (out / "soak-run.json").write_text(json.dumps(payload))


def _entry(name: str, method: str, entry: Any) -> dict[str, Any]:
    return {
        "name": name,
        "method": method,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "rps": entry.total_rps,
        "avg_ms": entry.avg_response_time,
        "p50_ms": entry.get_response_time_percentile(0.50),
        "p95_ms": entry.get_response_time_percentile(0.95),
        "p99_ms": entry.get_response_time_percentile(0.99),
        "max_ms": entry.max_response_time,
    }


# -- users --------------------------------------------------------------------------------


def org() -> Organisation:
    assert RUN.org is not None, "set-up has not run"
    return RUN.org


class Staff(FastHttpUser):
    abstract = True
    host = _hosts()[0]
    token = ""

    def on_start(self) -> None:
        hosts = _hosts()
        self.base = hosts[random.randrange(len(hosts))]
        self.other = hosts[(hosts.index(self.base) + 1) % len(hosts)]

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def list_items(self, query: str, name: str, base: str | None = None) -> list[dict[str, Any]]:
        with self.client.get(
            f"{base or self.base}/api/v1/items?{query}",
            headers=self.auth(),
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return []
            return list(response.json()["items"])

    def command(self, item: dict[str, Any], action: str, body: dict[str, Any]) -> None:
        """An item command with If-Match; a 409 (someone got there first) is expected."""
        headers = {**self.auth(), "If-Match": str(item["version"])}
        with self.client.post(
            f"{self.base}/api/v1/items/{item['id']}/{action}",
            json=body,
            headers=headers,
            name=f"POST /api/v1/items/[id]/{action}",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                _acknowledge_write(action, response)
            elif response.status_code == 409:
                RUN.conflicts[action] += 1
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")


class Secretary(Staff):
    """Logs a ward meeting's items and reads back what came back since last time."""

    weight = 28
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.ward = random.choice(org().wards)
        self.token = org().secretaries[self.ward]
        self.count = 0

    @task(3)
    def raise_item(self) -> None:
        self.count += 1
        with self.client.post(
            f"{self.base}/api/v1/items",
            json=new_item(self.ward, self.count),
            headers=self.auth(),
            name="POST /api/v1/items (submit)",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return
            item_id = response.json()["id"]
            _acknowledge_write("raise", response, item_id)
            position = response.headers.get(POSITION) or response.headers.get(POSITION.lower())
        if position and random.random() < 0.25:
            self.read_own_write_elsewhere(item_id, int(position))

    def read_own_write_elsewhere(self, item_id: str, position: int) -> None:
        """The other replica, asked to wait for this write (``?min_position=``), lists it."""
        started = time.monotonic()
        found = self.list_items(
            f"forum_id={self.ward}-cm&limit=50&min_position={position}",
            "GET /api/v1/items?min_position= (other replica)",
            base=self.other,
        )
        seen = any(item["id"] == item_id for item in found)
        with _lock:
            RUN.visibility.append((seen, time.monotonic() - started))

    @task(2)
    def read_back(self) -> None:
        self.list_items(
            f"forum_id={self.ward}-cm&status=responded", "GET /api/v1/items?forum_id&status"
        )

    @task(1)
    def meeting_log(self) -> None:
        self.list_items(f"forum_id={self.ward}-cm&limit=100", "GET /api/v1/items?forum_id")


class Manager(Staff):
    """Answers the items referred to or raised in its hospital."""

    weight = 36
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.hospital = random.choice(org().hospitals)
        self.token = random.choice(org().managers[self.hospital])

    @task(3)
    def answer_new(self) -> None:
        items = self.list_items(
            f"unit_id={self.hospital}&status=raised&limit=30", "GET /api/v1/items?unit_id&status"
        )
        if not items:
            return
        item = random.choice(items)
        roll = random.random()
        if roll < 0.35:
            self.command(item, "refer", {"to_unit_id": self.hospital, "note": "Passed to estates."})
        elif roll < 0.75:
            self.command(
                item, "respond", {"response": "We have ordered a new one; it comes next week."}
            )
        elif roll < 0.9:
            self.command(item, "complete", {"we_did": "Fixed on Monday."})
        else:
            self.command(
                item,
                "decline",
                {
                    "because": "The budget for this year is spent.",
                    "instead": "We will ask again in April.",
                },
            )

    @task(2)
    def follow_up(self) -> None:
        status = random.choice(("referred", "responded"))
        items = self.list_items(
            f"unit_id={self.hospital}&status={status}&limit=30", "GET /api/v1/items?unit_id&status"
        )
        if not items:
            return
        item = random.choice(items)
        if status == "referred":
            self.command(item, "respond", {"response": "Estates will visit on Thursday."})
        else:
            self.command(item, "complete", {"we_did": "Done, and checked with the ward."})


class Moderator(Staff):
    """Approves the public wording of new items."""

    weight = 6
    wait_time = between(1, 3)

    def on_start(self) -> None:
        super().on_start()
        self.provider = random.choice(org().providers)
        self.token = org().moderators[self.provider]

    @task
    def publish(self) -> None:
        items = self.list_items(
            f"unit_id={self.provider}&status=raised&limit=50",
            "GET /api/v1/items?unit_id&status (moderation queue)",
        )
        waiting = [item for item in items if not item.get("published")]
        if waiting:
            self.command(random.choice(waiting), "publish", {})


class PublicReader(FastHttpUser):
    """Reads the "You Said, We Did" boards, metrics and feeds. No token."""

    weight = 110
    wait_time = between(1, 3)
    host = _hosts()[0]

    def on_start(self) -> None:
        hosts = _hosts()
        self.base = hosts[random.randrange(len(hosts))]

    def unit(self) -> str:
        o = org()
        roll = random.random()
        if roll < 0.6:
            return random.choice(o.wards)
        if roll < 0.85:
            return random.choice(o.hospitals)
        if roll < 0.95:
            return random.choice(o.providers)
        return o.region

    @task(5)
    def board(self) -> None:
        self.client.get(
            f"{self.base}/public/api/v1/boards/{self.unit()}",
            name="GET /public/api/v1/boards/[unit]",
        )

    @task(2)
    def metrics(self) -> None:
        self.client.get(
            f"{self.base}/public/api/v1/metrics?unit_id={self.unit()}",
            name="GET /public/api/v1/metrics",
        )

    @task(2)
    def feed(self) -> None:
        self.client.get(
            f"{self.base}/public/boards/{self.unit()}/feed.atom",
            name="GET /public/boards/[unit]/feed.atom",
        )

    @task(1)
    def board_page(self) -> None:
        self.client.get(
            f"{self.base}/public/boards/{self.unit()}", name="GET /public/boards/[unit]"
        )


class SourceAddressAdapter(HTTPAdapter):
    """Connections from one loopback address of 127.0.0.0/8 (one member of the public)."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def next_public_address() -> str:
    n = next(_addresses)
    return f"127.{(n >> 16) % 254 + 1}.{(n >> 8) & 255}.{n & 255 or 1}"


class GapBoxCrowd(HttpUser):
    """The public reading a gap box, and a burst of suggestions when a story breaks."""

    weight = 20
    host = _hosts()[0]

    def wait_time(self) -> float:
        return random.uniform(0.3, 1.0) if _burst_now() else random.uniform(4, 8)

    def on_start(self) -> None:
        hosts = _hosts()
        self.base = hosts[random.randrange(len(hosts))]
        self.hospital = random.choice(org().hospitals)
        self.box = org().boxes[self.hospital]

    @task
    def visit(self) -> None:
        # a new visitor each time: a fresh connection from their own address (no
        # idle keep-alive connection is reused after the server has closed it)
        adapter = SourceAddressAdapter(next_public_address())
        self.client.mount("http://", adapter)
        try:
            self.client.get(
                f"{self.base}/public/api/v1/gap-boxes/{self.box}",
                name="GET /public/api/v1/gap-boxes/[id]",
            )
            if not _burst_now() and random.random() < 0.8:
                return
            with self.client.post(
                f"{self.base}/public/api/v1/gap-boxes/{self.box}/suggestions",
                json={"suggestion": random.choice(TOPICS)[1]},
                name="POST /public/api/v1/gap-boxes/[id]/suggestions (submit)",
                catch_response=True,
            ) as response:
                if response.status_code != 201:
                    response.failure(f"{response.status_code}: {response.text[:200]}")
                    return
                _acknowledge_write("suggestion", response, response.json()["id"])
        finally:
            adapter.close()


if __name__ == "__main__":
    # python -m bench.locustfile setup FILE: make the organisation before the timed run
    import dataclasses
    import sys

    if sys.argv[1:2] != ["setup"] or len(sys.argv) != 3:
        sys.exit("usage: python -m bench.locustfile setup FILE")
    began = time.monotonic()
    made = set_up(_hosts()[0], _env("ADMIN_TOKEN"), int(_env("WARDS_PER_HOSPITAL", "6")))
    Path(sys.argv[2]).write_text(json.dumps(dataclasses.asdict(made)))
    print(f"set up {len(made.wards)} wards in {time.monotonic() - began:.1f} s")
