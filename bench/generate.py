"""Writes realistic feedback histories through the application layer.

A region of trusts, hospitals and wards, their forums, and items raised over ten
years, each moved on the way real ones are: most are referred, many get a response
or progress notes, most close as done or couldn't-do, some are verified or reopened.

    python -m bench.generate --data-dir /tmp/yswd-data --items 20000
    python -m bench.generate --data-dir /tmp/yswd-data --events 1000000

Generation turns SQLite's ``synchronous`` down to OFF in this process only (the
data are throw-away); every benchmark that times writes uses the real settings.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import yswd.adapters.persistence as persistence
from bench.common import ADMIN_TOKEN, store_settings
from yswd.aggregates.access import Principal
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import Container, build

THEMES = [
    "food",
    "visiting",
    "discharge",
    "carers",
    "crisis care",
    "transport",
    "benefits",
    "involvement",
    "activities",
    "medication",
    "staffing",
    "environment",
    "smoking",
    "leave",
    "noise",
    "cleanliness",
    "information",
    "advocacy",
]
SAID = [
    ("Evening food", "There is nothing to eat after six in the evening."),
    ("Visiting times", "Visiting hours clash with the only bus from town."),
    ("Ward round", "We are not told when the ward round is or who will be there."),
    ("Garden access", "The garden is locked most afternoons because of staffing."),
    ("Leaflets", "Nobody explains our rights under the Mental Health Act in plain words."),
    ("Noise at night", "Doors bang all night and people cannot sleep."),
    ("Activities", "Weekends are empty: there is nothing to do on the ward."),
    ("Crisis line", "When someone is in crisis out of hours it is not clear who to phone."),
    ("Carers", "Carers are not asked what they know before discharge."),
    ("Medication", "People are not told about side effects of new medication."),
]
RESPONSES = [
    "The matron is looking at this with the ward manager and will report back.",
    "We have asked the catering contractor for a costed option.",
    "This is on the agenda of the next governance meeting.",
]
DONE = [
    "A supper menu now runs until nine every evening.",
    "Visiting hours now match the bus timetable.",
    "Every patient now gets a printed ward-round time the day before.",
    "A named nurse now opens the garden every afternoon.",
]


class MovingClock:
    """A clock the generator sets to the (past) moment each command happens."""

    def __init__(self) -> None:
        self.now = datetime(2016, 1, 4, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def on(self, day: date, rng: random.Random) -> None:
        self.now = datetime.combine(day, dtime(9 + rng.randrange(8), rng.randrange(60)), UTC)


@contextmanager
def fast_sqlite() -> Iterator[None]:
    """synchronous=OFF for throw-away generated data (this process only)."""
    saved = persistence.SQLITE_PRAGMAS
    persistence.SQLITE_PRAGMAS = tuple(
        "PRAGMA synchronous=OFF" if p.startswith("PRAGMA synchronous") else p for p in saved
    )
    try:
        yield
    finally:
        persistence.SQLITE_PRAGMAS = saved


class Progress:
    """A plain-text progress bar on stderr."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total, self.label, self.enabled = max(total, 1), label, enabled
        self.done = 0
        self.started = time.perf_counter()
        self._last = 0.0

    def update(self, done: int) -> None:
        self.done = done
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.25 or done >= self.total):
            self._last = now
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            rate = done / max(now - self.started, 1e-9)
            sys.stderr.write(f"\r  {self.label} [{bar:<30}] {done:,}/{self.total:,} {rate:,.0f}/s")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def organisation(container: Container, admin: Principal) -> list[tuple[str, str]]:
    """A region: 4 trusts x 3 hospitals x 4 wards, one forum per ward and trust.

    Returns (forum_id, unit_id) pairs, plus the units items can be referred to.
    """
    app = container.app
    app.create_unit(admin, "region", "North West region", None)
    forums: list[tuple[str, str]] = []
    for t in range(4):
        trust = f"trust-{t}"
        app.create_unit(admin, trust, f"Trust {t}", "region")
        app.create_forum(
            admin,
            f"{trust}-board",
            f"Trust {t} partnership board",
            trust,
            ForumKind.PARTNERSHIP_BOARD,
        )
        forums.append((f"{trust}-board", trust))
        for h in range(3):
            hosp = f"{trust}-h{h}"
            app.create_unit(admin, hosp, f"Hospital {t}.{h}", trust)
            for w in range(4):
                ward = f"{hosp}-w{w}"
                app.create_unit(admin, ward, f"Ward {t}.{h}.{w}", hosp)
                app.create_forum(
                    admin,
                    f"{ward}-cm",
                    f"Ward {t}.{h}.{w} community meeting",
                    ward,
                    ForumKind.COMMUNITY_MEETING,
                )
                forums.append((f"{ward}-cm", ward))
    return forums


def one_item(
    container: Container,
    admin: Principal,
    clock: MovingClock,
    rng: random.Random,
    forum: tuple[str, str],
    raised_on: date,
) -> str:
    """Raise one item and move it through a plausible lifecycle."""
    app = container.app
    forum_id, unit_id = forum
    title, said = rng.choice(SAID)
    clock.on(raised_on, rng)
    item = app.raise_item(
        admin,
        forum_id=forum_id,
        channel=rng.choice(
            [
                Channel.COMMUNITY_MEETING,
                Channel.FORUM,
                Channel.GAP_BOX,
                Channel.DIARY_ROOM,
                Channel.COMPLAINT,
            ]
        ),
        raised_on=raised_on,
        title=title,
        you_said=said,
        detail="Raised by several people at the meeting." if rng.random() < 0.3 else None,
        themes=rng.sample(THEMES, rng.randrange(1, 3)),
    ).value
    item_id = item.item_id
    day = raised_on
    steps: list[Callable[[], object]] = []
    if rng.random() < 0.5:
        steps.append(lambda: app.publish(admin, item_id, None, None))
    if rng.random() < 0.7:
        parent = unit_id.rsplit("-", 1)[0] if unit_id.count("-") >= 2 else unit_id
        steps.append(
            lambda: app.refer(
                admin,
                item_id,
                parent,
                raised_on + timedelta(days=28),
                "Passed on at the meeting.",
                None,
            )
        )
    if rng.random() < 0.5:
        steps.append(lambda: app.respond(admin, item_id, rng.choice(RESPONSES), None))
    if rng.random() < 0.3:
        steps.append(lambda: app.note_progress(admin, item_id, "Still being looked at.", None))
    end = rng.random()
    if end < 0.6:
        steps.append(lambda: app.complete(admin, item_id, rng.choice(DONE), None))
        if rng.random() < 0.3:
            steps.append(lambda: app.verify(admin, item_id, True, None, None))
    elif end < 0.75:
        steps.append(
            lambda: app.decline(
                admin,
                item_id,
                "There is no budget this year.",
                "Staff will cover it in the meantime.",
                None,
            )
        )
    for step in steps:
        day = day + timedelta(days=rng.randrange(1, 20))
        clock.on(day, rng)
        step()
    return item_id


def id_factory(seed: int) -> Callable[[], str]:
    """Seeded ids, so that two stores made with one seed share their first items."""
    rng = random.Random(seed * 1000 + 1)
    return lambda: f"{rng.getrandbits(64):016x}"


def first_item_id(seed: int = 8) -> str:
    return id_factory(seed)()


def generate(
    data_dir: Path,
    *,
    items: int | None = None,
    events: int | None = None,
    seed: int = 8,
    progress: bool = True,
    catch_up: bool = True,
) -> dict[str, int]:
    """Fill ``data_dir`` with ``items`` items (or about ``events`` events)."""
    if items is None and events is None:
        raise ValueError("give items or events")
    rng = random.Random(seed)
    clock = MovingClock()
    with fast_sqlite():
        container = build(
            store_settings(data_dir, admin_token=ADMIN_TOKEN),
            clock=clock,
            ids=id_factory(seed),
        )
        try:
            app = container.app
            admin = app.authenticate(ADMIN_TOKEN)
            forums = organisation(container, admin)
            start = date(2016, 1, 4)
            total = items if items is not None else int(events or 0)
            bar = Progress(total, "items" if items is not None else "events", progress)
            made = 0
            while True:
                done = made if items is not None else (app.recorder.max_notification_id() or 0)
                bar.update(done)
                if done >= total:
                    break
                raised_on = start + timedelta(days=rng.randrange(3650))
                one_item(container, admin, clock, rng, rng.choice(forums), raised_on)
                made += 1
            bar.close()
            head = app.recorder.max_notification_id() or 0
            if catch_up:
                proj = Progress(head, "projecting", progress)
                applied = [0]

                def tick(n: int) -> None:
                    applied[0] += n
                    proj.update(applied[0])

                container.runner.catch_up(tick)
                proj.close()
            return {"items": made, "events": head}
        finally:
            container.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.generate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--items", type=int)
    group.add_argument("--events", type=int)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    made = generate(args.data_dir, items=args.items, events=args.events, seed=args.seed)
    print(
        f"wrote {made['items']:,} items, {made['events']:,} events to {args.data_dir} "
        f"in {time.perf_counter() - t0:.1f}s"
    )


if __name__ == "__main__":
    main()
