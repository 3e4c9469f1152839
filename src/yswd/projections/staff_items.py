"""The staff item list and inbox: every item with its current staff view.

One row per item holds the filterable columns (unit paths for scope checks,
status, dates for overdue and due-date ordering) and the full staff view as
JSON, so a list is one indexed query. The item's state is folded by the
domain's own events, so the row always equals what ``GET /items/{id}`` shows.
The tables are in ``item_tables``; this module writes them.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC
from itertools import islice
from typing import Any, NamedTuple

import orjson
from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import Connection, delete, update

from yswd.aggregates.item import Item, item_aggregate_id
from yswd.aggregates.item_views import item_view
from yswd.aggregates.topics import CONTRIBUTOR_ERASED_RECORDED, event_topics
from yswd.projections import board_counts, item_fold, tracking
from yswd.projections.item_tables import (
    board_counts_at,
    board_counts_table,
    items,
    metadata,
    reveals,
    safeguarding,
    unit_changes,
)
from yswd.projections.ports import AggregateSource, StoredRecord
from yswd.projections.sql import driver_sql, insert_many, path_text, upsert

log = logging.getLogger(__name__)

_UNIT_PATH = item_fold.STAFF_COLUMNS.index("unit_path")
_COUNT_CHANGE = (
    "INSERT INTO rm_items_changes (id, changes) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET changes = rm_items_changes.changes + 1"
)
_COUNT_UNIT_CHANGE = (
    "INSERT INTO rm_unit_changes (unit_id, changes) VALUES (?, 1) "
    "ON CONFLICT (unit_id) DO UPDATE SET changes = rm_unit_changes.changes + 1"
)

#: where a rebuild's row tuple holds what the board counts read
_COUNTED = tuple(
    item_fold.STAFF_COLUMNS.index(name)
    for name in ("item_id", "unit_path", "status", "published", "themes")
)


def _count_changes(conn: Connection, unit_paths: Iterable[str]) -> None:
    """Count a batch that changed items raised under ``unit_paths``: once in all, and
    once for each unit on those paths (in one order, so two writers never deadlock)."""
    conn.exec_driver_sql(_COUNT_CHANGE)
    # a batch's thousands of rows lie on a few dozen paths: each path is split once
    units = sorted({unit for path in set(unit_paths) for unit in path.strip("/").split("/")})
    if units:
        conn.exec_driver_sql(driver_sql(conn, _COUNT_UNIT_CHANGE), [(unit,) for unit in units])


#: what ``sql.upsert`` adds to an insert of ``rm_items`` rows, for the rows of a rebuild,
#: which are tuples in ``item_fold.STAFF_COLUMNS`` order (``write_batch``)
_UPSERT_ITEM = " ON CONFLICT (item_id) DO UPDATE SET " + ", ".join(
    f"{name} = excluded.{name}" for name in item_fold.STAFF_COLUMNS if name != "item_id"
)


class StaffItems:
    """Read model ``staff_items``: one row per item, in every status."""

    name = "staff_items"
    metadata = metadata
    wants_stored_form = False
    #: only item events, and erasures, are decoded for this model
    topic_prefixes = (*event_topics(Item), CONTRIBUTOR_ERASED_RECORDED)
    #: writes go by primary key only: a rebuild builds these once, at the end
    bulk_indexes = tuple(items.indexes)
    #: a rebuild may fold this model's batches in another process, a batch ahead of the
    #: runner's writes (``ProjectionRunner.rebuild``): the fold and the decoding it needs
    #: are most of a rebuild's Python
    prepares_ahead = True
    #: emptied for a rebuild with TRUNCATE on PostgreSQL (``ProjectionRunner.rebuild``)
    bulk_tables = (items, board_counts_table)

    def __init__(self, app: AggregateSource, cache_size: int = 10_000) -> None:
        self.app = app
        self.target_days = app.target_days
        self._cache: OrderedDict[str, Item] = OrderedDict()
        self._cache_size = cache_size
        self._paths: dict[str, str] = {}
        #: a rebuild's items as plain staff views (``item_fold``), by aggregate id, the
        #: most recently folded last (``_keep_views``)
        self._views: dict[str, item_fold.View] = {}

    # -- writing ------------------------------------------------------------

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        self.apply_batch(conn, [(position, event)])

    def apply_batch(self, conn: Connection, events: list[tuple[int, Any]]) -> None:
        """Fold every event of the batch first, then write each touched item once."""
        touched: dict[str, Item] = {}
        revealed: list[dict[str, Any]] = []
        for _, event in events:
            if isinstance(event, Item.Event):
                touched[event.originator_id] = item = self._fold(event)
                if isinstance(event, Item.ContributorRevealed):
                    revealed.append(self.reveal_row(item, event))
            elif _is_erasure(event):
                touched.update(self._render_erased(event.item_ids))
        if touched:
            rows = [self.row(item) for item in touched.values()]
            counted = {
                row["item_id"]: board_counts.Counted(
                    row["unit_path"], row["status"], row["published"], row["themes"]
                )
                for row in rows
            }
            with board_counts.moving(conn, counted):
                upsert(conn, items, rows, "item_id")
            flagged = [item for item in touched.values() if item.safeguarding is not None]
            if flagged:
                upsert(conn, safeguarding, [self.flag_row(item) for item in flagged], "item_id")
            if revealed:
                upsert(conn, reveals, revealed, "reveal_id")
            _count_changes(conn, (row["unit_path"] for row in rows))

    def apply_plain_batch(
        self, conn: Connection, events: list[tuple[int, tuple[StoredRecord, dict[str, Any]]]]
    ) -> None:
        """``apply_batch`` for a rebuild: plain stored states, folded by ``item_fold``.

        Writes the same rows as ``apply_batch`` would (the tests hold them equal).
        An erasure, and any item whose view is not at the version just before an
        event (a cache miss whose row is stale, a batch tried again), is handed to
        the domain, as ``apply_batch`` does.
        """
        self.write_batch(conn, self.prepare_plain_batch(conn, events))

    def prepare_plain_batch(
        self,
        conn: Connection,
        events: list[tuple[int, tuple[StoredRecord, dict[str, Any]]]],
        after: int | None = None,
    ) -> PlainRows:
        """The rows ``apply_plain_batch`` writes, worked out without writing.

        ``conn`` may be a read connection (a view not kept is read from its row):
        the runner folds before the batch's write transaction, so on SQLite the
        write lock is held for the writes only. The views are kept at once; if the
        write fails, the runner drops them (``forget_cache``).
        """
        try:
            return self._fold_plain(conn, events)
        except Exception:
            self._views.clear()  # views folded half way through the batch are no one's
            raise

    def write_batch(self, conn: Connection, rows: PlainRows) -> None:
        """Write what ``prepare_plain_batch`` worked out, inside the batch's transaction."""
        if rows.items:
            at = _COUNTED
            counted = {
                row[at[0]]: board_counts.Counted(row[at[1]], row[at[2]], row[at[3]], row[at[4]])
                for row in rows.items
            }
            with board_counts.moving(conn, counted, new=rows.new):
                insert_many(conn, items.name, item_fold.STAFF_COLUMNS, rows.items, _UPSERT_ITEM)
            if rows.flags:
                upsert(conn, safeguarding, rows.flags, "item_id")
            if rows.reveals:
                upsert(conn, reveals, rows.reveals, "reveal_id")
            _count_changes(conn, (row[_UNIT_PATH] for row in rows.items))

    def _fold_plain(
        self, conn: Connection, events: list[tuple[int, tuple[StoredRecord, dict[str, Any]]]]
    ) -> PlainRows:
        """The fold of a rebuild's batch, one pass with no call per event but the handler's.

        This loop runs once per stored item event (100k per 100k-event rebuild), so
        ``item_fold.apply`` and the lookup of the view before are written out here,
        and the views are kept for later batches once per batch, not once per event.
        """
        touched: dict[str, item_fold.View] = {}
        revealed: list[dict[str, Any]] = []
        new: set[str] = set()
        kept = self._views
        handlers, raised = item_fold.HANDLERS, item_fold.raised
        raised_topic, revealed_topic = item_fold.RAISED, item_fold.REVEALED
        for _, (record, state) in events:
            _, aggregate_id, version, topic, _ = record
            if topic == raised_topic:
                touched[aggregate_id] = raised(aggregate_id, state, version)
                new.add(item_fold.item_id_of(aggregate_id))
                continue
            if topic == CONTRIBUTOR_ERASED_RECORDED:
                for erased_id, item in self._render_erased(state.get("item_ids", [])).items():
                    touched[erased_id] = item_view(item)
                continue
            handler, quiet = handlers[topic]
            view = touched.get(aggregate_id) or kept.get(aggregate_id)
            if view is None or view["version"] != version - 1:
                view = self._view_before(conn, aggregate_id, version)
            at = state["timestamp"]  # ``item_fold.apply`` from here on
            if type(at) is dict:
                at = at["_data_"]
            handler(view, state, at)
            view["version"] = version
            if not quiet:
                view["updated_at"] = at
            touched[aggregate_id] = view
            if topic == revealed_topic:
                revealed.append(item_fold.reveal_row(view, state, version, self._path))
        if not touched:
            return PlainRows([], [], revealed)
        path, target_days = self._path, self.target_days
        views = [item_fold.finished(view) for view in touched.values()]
        rows = [item_fold.staff_values(view, path, target_days) for view in views]
        flagged = [item_fold.flag_row(v, path) for v in views if "safeguarding" in v]
        self._keep_views(touched)
        return PlainRows(rows, flagged, revealed, frozenset(new))

    def _keep_views(self, touched: dict[str, item_fold.View]) -> None:
        """Keep a batch's views for the batches after it, the most recent ``cache_size``.

        The batch's items move to the newest end, and the oldest beyond the size
        go, all at once: an item's view is almost always needed again within a
        batch or two of its last event, and a view that went is read from its row.
        """
        kept = self._views
        for aggregate_id in touched.keys() & kept.keys():
            del kept[aggregate_id]
        kept.update(touched)
        excess = len(kept) - self._cache_size
        if excess > 0:
            for aggregate_id in list(islice(kept, excess)):
                del kept[aggregate_id]

    def _view_before(self, conn: Connection, aggregate_id: str, version: int) -> item_fold.View:
        """The item's view at ``version - 1`` when none is kept: its row, else the domain's."""
        doc = conn.exec_driver_sql(
            driver_sql(conn, "SELECT doc FROM rm_items WHERE item_id = ?"),
            (item_fold.item_id_of(aggregate_id),),
        ).scalar()
        if doc is not None:
            stored: item_fold.View = orjson.loads(doc)
            if stored["version"] == version - 1:
                return stored
        return item_view(self.app.repository.get(aggregate_id, version=version - 1))

    def prepare_tables(self, conn: Connection, created: set[str]) -> None:
        """At start, after the tables are made: counts this version added are counted.

        A store made before the counts (or before the position they follow) gets them
        counted from its rows. Only then: at any other start a batch already running
        in another process may be moving them, and the next batch checks them anyway.
        """
        if items.name in created:
            board_counts.counted_up_to(conn, 0)
        elif created & {board_counts_table.name, board_counts_at.name}:
            (position,) = tracking.read_positions(conn, [self.name]).values()
            board_counts.count_again(conn, position)

    def followed(self, conn: Connection, before: int, last: int) -> None:
        """The runner applied this model's events after ``before`` up to ``last`` in this
        transaction: the counts follow them, or are counted again if they did not follow
        up to ``before``."""
        if not board_counts.follow(conn, before, last):
            log.warning(
                "rm_board_counts did not follow rm_items up to position %s "
                "(an older version wrote items): counted again",
                before,
            )

    def reset(self, conn: Connection) -> None:
        conn.execute(delete(board_counts_table))
        board_counts.counted_up_to(conn, 0)  # a rebuild starts from position 0
        conn.execute(delete(reveals))
        conn.execute(delete(safeguarding))
        conn.execute(delete(items))
        conn.exec_driver_sql(_COUNT_CHANGE)
        # every unit's answers are thrown away; a count is never seen twice
        conn.execute(update(unit_changes).values(changes=unit_changes.c.changes + 1))
        self._cache.clear()
        self._views.clear()

    def row(self, item: Item) -> dict[str, Any]:
        view = item_view(item)
        return {
            "item_id": item.item_id,
            "forum_id": item.forum_id,
            "unit_id": item.unit_id,
            "unit_path": self._path(item.unit_id),
            "referred_to": item.referred_to,
            "referred_path": self._path(item.referred_to) if item.referred_to else None,
            "channel": item.channel.value,
            "status": item.status.value,
            # what every public answer reads: an item under a safeguarding restriction
            # is not on public boards, metrics, feeds or Open311, even once published
            "published": item.on_public_boards,
            "verified": item.verified,
            "raised_on": item.raised_on.isoformat(),
            "due_on": item.due_on.isoformat() if item.due_on else None,
            "target_on": item.target_on(self.target_days).isoformat(),
            "first_response_on": _utc_date(item.first_response_at),
            "closed_on": _utc_date(item.closed_at),
            "themes": json.dumps(list(item.themes)),
            "contributor": item.contributor,
            "created_at": view["created_at"],
            "updated_at": view["updated_at"],
            "version": item.version,
            "doc": orjson.dumps(view).decode(),
        }

    def flag_row(self, item: Item) -> dict[str, Any]:
        flag = item.safeguarding
        assert flag is not None
        return {
            "item_id": item.item_id,
            "unit_path": self._path(item.unit_id),
            "referred_path": self._path(item.referred_to) if item.referred_to else None,
            "flagged_at": _iso(flag["flagged_at"]),
            "ack_due_at": _iso(flag["ack_due_at"]),
            "acknowledged_at": _iso(flag["acknowledged_at"]),
            "closed_at": _iso(flag["closed_at"]),
            "open": item.safeguarding_open,
            "restricted": item.restricted,
        }

    def reveal_row(self, item: Item, event: Any) -> dict[str, Any]:
        return {
            "reveal_id": f"{item.item_id}:{event.originator_version}",
            "item_id": item.item_id,
            "version": event.originator_version,
            "unit_path": self._path(item.unit_id),
            "referred_path": self._path(item.referred_to) if item.referred_to else None,
            "user_id": event.actor,
            "reason": event.reason,
            "at": event.timestamp.isoformat(),
        }

    def _path(self, unit_id: str) -> str:
        """A unit's path text (units never move once created, so it is kept)."""
        found = self._paths.get(unit_id)
        if found is None:
            found = self._paths[unit_id] = path_text(self.app.unit(unit_id).path)
        return found

    def _fold(self, event: Item.Event) -> Item:
        """The item after ``event``, from the cache or the store, folded by the domain."""
        item_id = event.originator_id
        item = self._cache.pop(item_id, None)
        if isinstance(event, Item.Raised):
            item = event.mutate(None)
        else:
            if item is None or item.version != event.originator_version - 1:
                item = self.app.repository.get(item_id, version=event.originator_version - 1)
            event.mutate(item)
        assert isinstance(item, Item)
        self._cache[item_id] = item
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return item

    def _render_erased(self, item_ids: list[str]) -> dict[str, Item]:
        """Items of an erased contributor, loaded afresh (their key is gone).

        Another process may have folded one of them from a cached, decrypted copy
        after the key was destroyed; loading from the store again shows the fields
        as erased, whatever any cache held.
        """
        fresh: dict[str, Item] = {}
        for item_id in item_ids:
            aggregate_id = item_aggregate_id(item_id)
            self._cache.pop(aggregate_id, None)
            try:
                fresh[aggregate_id] = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                continue
        return fresh

    def forget_cache(self) -> None:
        self._cache.clear()
        self._views.clear()


class PlainRows(NamedTuple):
    """A rebuild batch's rows for ``rm_items``, ``rm_safeguarding`` and ``rm_reveals``."""

    #: ``item_fold.staff_values``: tuples in ``item_fold.STAFF_COLUMNS`` order
    items: list[tuple[Any, ...]]
    flags: list[dict[str, Any]]
    reveals: list[dict[str, Any]]
    #: the items raised in the batch: none has a row yet (an item's row is written only
    #: by its events, and ``Raised`` is the first), so the board counts read none back
    new: frozenset[str] = frozenset()


def _is_erasure(event: Any) -> bool:
    stored_as = getattr(type(event), "TOPIC", None)
    return stored_as == CONTRIBUTOR_ERASED_RECORDED and hasattr(event, "item_ids")


def _iso(value: Any) -> str | None:
    """An instant as UTC ISO text, so that instants compare as text."""
    return None if value is None else str(value.astimezone(UTC).isoformat())


def _utc_date(value: Any) -> str | None:
    if value is None:
        return None
    return str(value.astimezone(UTC).date().isoformat())
