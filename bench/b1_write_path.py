"""B1: the in-process write path (raise, refer, respond, complete) with projections inline.

yswd: the ``Yswd`` application on a file SQLite data dir, its read models kept up
in the same process, in two ways:

* as served: each command notes its position (``Container.note_write``, what an API
  write does), the background runner applies pending events in batches, and every
  round ends with ``Container.before_read()`` (what the next read does), so all of
  the read-model work is inside the timed round;
* catch-up after every command (``Container.after_write``, what a page that renders
  its own write does, and what every write did before).

Baselines, same run: raw eventsourcing ``Application.save`` of an equivalent simple
aggregate (load, change, save) on the same SQLite settings; and a CRUD row updated
in place with plain sqlite3 (WAL, synchronous=FULL), the cost of keeping no history.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    ADMIN_TOKEN,
    Report,
    Ticket,
    pg_database,
    raw_app,
    store_settings,
    tempdir,
)
from yswd.aggregates.item import Channel
from yswd.aggregates.organisation import ForumKind
from yswd.bootstrap import build

TITLE = "Evening food"
SAID = "There is nothing to eat after six in the evening."


class Variant:
    """One way of writing; ``step(k)`` writes ``k`` items and returns the seconds taken."""

    def step(self, k: int) -> float:
        raise NotImplementedError

    def close(self) -> None:
        pass


class YswdWrites(Variant):
    """yswd; ``mode`` is "served", "every" (catch-up after each command) or "none"."""

    def __init__(self, data_dir: Path, mode: str) -> None:
        self.container = build(store_settings(data_dir, admin_token=ADMIN_TOKEN))
        app = self.app = self.container.app
        self.admin = app.authenticate(ADMIN_TOKEN)
        app.create_unit(self.admin, "trust", "Trust", None)
        app.create_unit(self.admin, "ward", "Ward", "trust")
        app.create_forum(self.admin, "ward-cm", "Ward meeting", "ward", ForumKind.COMMUNITY_MEETING)
        self.container.runner.catch_up()
        self.mode = mode
        if mode == "served":
            self.container.start()  # the background runner, as in ``yswd serve``

    def step(self, k: int) -> float:
        app, admin, container = self.app, self.admin, self.container
        project: Any = {
            "served": container.note_write,
            "every": container.after_write,
            "none": lambda position: None,
        }[self.mode]
        day = date(2024, 1, 8)
        t0 = time.perf_counter()
        for _ in range(k):
            written = app.raise_item(
                admin,
                forum_id="ward-cm",
                channel=Channel.COMMUNITY_MEETING,
                raised_on=day,
                title=TITLE,
                you_said=SAID,
                themes=["food"],
            )
            project(written.position)
            item_id = written.value.item_id
            written = app.refer(
                admin, item_id, "trust", day + timedelta(days=28), "Passed on.", None
            )
            project(written.position)
            project(app.respond(admin, item_id, "Catering is looking at it.", None).position)
            project(app.complete(admin, item_id, "A supper menu runs until nine.", None).position)
        if self.mode == "served":
            container.before_read()  # the next read: every write above is applied
            assert container.runner.applied() >= (app.recorder.max_notification_id() or 0)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.container.close()


class RawWrites(Variant):
    def __init__(self, data_dir: Path) -> None:
        self.app = raw_app(data_dir)

    def step(self, k: int) -> float:
        app = self.app
        day = date(2024, 1, 8).isoformat()
        t0 = time.perf_counter()
        for _ in range(k):
            ticket = Ticket(TITLE, SAID, "ward-cm", day)
            app.save(ticket)
            ticket = app.repository.get(ticket.id)
            ticket.refer("trust", "Passed on.")
            app.save(ticket)
            ticket = app.repository.get(ticket.id)
            ticket.respond("Catering is looking at it.")
            app.save(ticket)
            ticket = app.repository.get(ticket.id)
            ticket.complete("A supper menu runs until nine.")
            app.save(ticket)
        return time.perf_counter() - t0

    def close(self) -> None:
        self.app.close()


class CrudWrites(Variant):
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.pg = pg_database(data_dir)  # B6: the same row in PostgreSQL
        columns = (
            "forum_id TEXT, title TEXT, you_said TEXT, status TEXT, referred_to TEXT, "
            "response TEXT, we_did TEXT, version INTEGER"
        )
        if self.pg is not None:
            import psycopg

            self.db: Any = psycopg.connect(self.pg, autocommit=True)
            self.db.execute(f"CREATE TABLE items (id SERIAL PRIMARY KEY, {columns})")
            return
        db = self.db = sqlite3.connect(data_dir / "crud.sqlite3", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"CREATE TABLE items (id INTEGER PRIMARY KEY, {columns})")

    def tx(self, sql: str, *args: object) -> int:
        if self.pg is not None:  # one transaction per statement (autocommit)
            sql = sql.replace("?", "%s")
            if sql.startswith("INSERT"):
                return int(self.db.execute(sql + " RETURNING id", args).fetchone()[0])
            self.db.execute(sql, args)
            return 0
        self.db.execute("BEGIN IMMEDIATE")
        cur = self.db.execute(sql, args)
        self.db.execute("COMMIT")
        return int(cur.lastrowid or 0)

    def step(self, k: int) -> float:
        tx = self.tx
        t0 = time.perf_counter()
        for _ in range(k):
            row = tx(
                "INSERT INTO items (forum_id, title, you_said, status, version) "
                "VALUES (?, ?, ?, 'raised', 1)",
                "ward-cm",
                TITLE,
                SAID,
            )
            tx(
                "UPDATE items SET status='referred', referred_to=?, version=version+1 WHERE id=?",
                "trust",
                row,
            )
            tx(
                "UPDATE items SET status='responded', response=?, version=version+1 WHERE id=?",
                "Catering is looking at it.",
                row,
            )
            tx(
                "UPDATE items SET status='done', we_did=?, version=version+1 WHERE id=?",
                "A supper menu runs until nine.",
                row,
            )
        return time.perf_counter() - t0

    def close(self) -> None:
        self.db.close()


def run(quick: bool, items: int | None = None) -> Report:
    n = items or (40 if quick else 200)
    rounds = 4 if quick else 10
    report = Report("B1", f"in-process write path, {n} items x 4 commands (commands/s)")
    print(f"B1 {report.title}", flush=True)
    with tempdir("b1") as tmp:
        variants: dict[str, Variant] = {
            "raw": RawWrites(tmp / "raw"),
            "crud": CrudWrites(tmp / "crud"),
            "served": YswdWrites(tmp / "yswd", "served"),
            "every": YswdWrites(tmp / "yswd-every", "every"),
            "bare": YswdWrites(tmp / "yswd-bare", "none"),
        }
        seconds = dict.fromkeys(variants, 0.0)
        try:
            # Interleaved rounds, so that the shared machine's noise hits every variant.
            for r in range(rounds):
                k = n // rounds + (1 if r < n % rounds else 0)
                for name, variant in variants.items():
                    seconds[name] += variant.step(k)
        finally:
            for variant in variants.values():
                variant.close()
    rate = {name: 4 * n / s for name, s in seconds.items()}
    report.add(
        "yswd as served, read models current at the next read vs raw save",
        rate["served"],
        rate["raw"],
        "cmd/s",
    )
    report.add("yswd as served vs CRUD row", rate["served"], rate["crud"], "cmd/s")
    report.add(
        "yswd, catch-up after every command vs raw save", rate["every"], rate["raw"], "cmd/s"
    )
    report.add("yswd, no inline projection vs raw save", rate["bare"], rate["raw"], "cmd/s")
    report.add("raw eventsourcing save vs CRUD row", rate["raw"], rate["crud"], "cmd/s")
    return report
