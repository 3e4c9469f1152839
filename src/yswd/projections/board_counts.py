"""A board's counts kept per unit, so an area's board does not count every item under it.

``rm_board_counts`` (in ``item_tables``; ``staff_items`` writes it in the same
transaction as the item rows) holds, per unit path and status, how many published items
there are (``theme`` ``''``) and how many of those carry each theme. A board's
counts, its total and its list of themes are sums over the rows of the units
in its subtree: a region's board reads a row per unit, status and theme (some
thousands) instead of every published item under it (a quarter of a million
in the 1M-event bench store, 1.75 s a board on SQLite).

The counts move by differences: before a batch's rows are written, what each
touched item counted for is read back from its stored row, and only what
changed is added or taken away. So the counts always equal a count over
``rm_items``, whichever way the rows were written (event by event, in a
rebuild, or both after a crash); the tests hold them to that.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, delete, func, select

from yswd.projections.item_tables import board_counts_table, items
from yswd.projections.sql import driver_sql

#: the ``theme`` of a row counting every published item of a unit and status
EVERY_ITEM = ""
#: item ids read back in one query (well under every driver's parameter limit)
READ_CHUNK = 500

_ADD = (
    "INSERT INTO rm_board_counts (unit_path, status, theme, n) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (unit_path, status, theme) DO UPDATE SET n = rm_board_counts.n + excluded.n"
)
_DROP_EMPTY = (
    "DELETE FROM rm_board_counts WHERE unit_path = ? AND status = ? AND theme = ? AND n = 0"
)
_FOLLOW = "UPDATE rm_board_counts_at SET position = ? WHERE id = 1 AND position = ?"
_COUNTED_UP_TO = (
    "INSERT INTO rm_board_counts_at (id, position) VALUES (1, ?) "
    "ON CONFLICT (id) DO UPDATE SET position = excluded.position"
)


class Counted(NamedTuple):
    """What one item row counts for on the boards."""

    unit_path: str
    status: str
    published: bool
    #: the row's ``themes`` column: a JSON list
    themes: str


Key = tuple[str, str, str]  # unit path, status, theme (EVERY_ITEM for all)


def changes(before: Mapping[str, Counted], after: Mapping[str, Counted]) -> dict[Key, int]:
    """What the counts must add (or take away, negative) when the items of ``after``,
    which counted for ``before`` (absent: a new item), come to count for ``after``."""
    found: dict[Key, int] = {}
    for item_id, now in after.items():
        was = before.get(item_id)
        if was == now:
            continue
        if was is not None:
            _count(found, was, -1)
        _count(found, now, 1)
    return {key: n for key, n in found.items() if n}


def _count(found: dict[Key, int], row: Counted, sign: int) -> None:
    if not row.published:
        return
    for theme in (EVERY_ITEM, *themes_of(row.themes)):
        key = (row.unit_path, row.status, theme)
        found[key] = found.get(key, 0) + sign


def themes_of(text: str | None) -> set[str]:
    """The distinct themes of a row's ``themes`` column (each counted once an item)."""
    return {theme for theme in orjson.loads(text or "[]") if isinstance(theme, str) and theme}


def stored(conn: Connection, item_ids: Iterable[str]) -> dict[str, Counted]:
    """What the stored rows of ``item_ids`` count for now (a new item has no row)."""
    found: dict[str, Counted] = {}
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), READ_CHUNK):
        chunk = tuple(ids[start : start + READ_CHUNK])
        sql = driver_sql(
            conn,
            "SELECT item_id, unit_path, status, published, themes FROM rm_items "
            f"WHERE item_id IN ({', '.join('?' for _ in chunk)})",
        )
        for item_id, unit_path, status, published, themes in conn.exec_driver_sql(sql, chunk):
            found[item_id] = Counted(unit_path, status, bool(published), themes)
    return found


@contextmanager
def moving(
    conn: Connection, after: Mapping[str, Counted], new: Collection[str] = ()
) -> Iterator[None]:
    """Around the write of the rows of ``after``'s items: what they counted for is read
    before the block, and the counts are moved to what they count for after it. Items
    in ``new`` are known to have no row yet, and are not looked for."""
    before = stored(conn, [item_id for item_id in after if item_id not in new] if new else after)
    yield
    move(conn, before, after)


def move(conn: Connection, before: Mapping[str, Counted], after: Mapping[str, Counted]) -> None:
    """Move the counts from what ``before`` counted for to what ``after`` does.

    Keys are written in one order, so two writers never deadlock; a count that
    comes to zero is deleted, so a theme no published item carries leaves the list.
    """
    found = changes(before, after)
    if not found:
        return
    keys = sorted(found)
    conn.exec_driver_sql(driver_sql(conn, _ADD), [(*key, found[key]) for key in keys])
    emptied = [key for key in keys if found[key] < 0]
    if emptied:
        conn.exec_driver_sql(driver_sql(conn, _DROP_EMPTY), emptied)


def count_all(rows: Iterable[Sequence[Any]]) -> dict[Key, int]:
    """The counts of ``(unit_path, status, themes, how many)`` groups of published rows."""
    found: dict[Key, int] = {}
    for unit_path, status, themes, n in rows:
        for theme in (EVERY_ITEM, *themes_of(themes)):
            key = (unit_path, status, theme)
            found[key] = found.get(key, 0) + int(n)
    return found


def follow(conn: Connection, before: int, last: int) -> bool:
    """Note that the counts follow the rows up to ``last``, if they followed them up to
    ``before`` (one statement a batch); if not, an older version wrote rows without
    them (or nothing noted how far they follow): count them again. False then."""
    if conn.exec_driver_sql(driver_sql(conn, _FOLLOW), (last, before)).rowcount == 1:
        return True
    count_again(conn, last)
    return False


def counted_up_to(conn: Connection, position: int) -> None:
    conn.exec_driver_sql(driver_sql(conn, _COUNTED_UP_TO), (position,))


def count_again(conn: Connection, position: int) -> None:
    """The counts from nothing, over the item rows as they stand at ``position``."""
    conn.execute(delete(board_counts_table))
    groups = conn.execute(
        select(items.c.unit_path, items.c.status, items.c.themes, func.count())
        .where(items.c.published.is_(True))
        .group_by(items.c.unit_path, items.c.status, items.c.themes)
    )
    found = count_all(groups)
    if found:
        conn.execute(
            board_counts_table.insert(),
            [
                {"unit_path": path, "status": status, "theme": theme, "n": n}
                for (path, status, theme), n in sorted(found.items())
            ],
        )
    counted_up_to(conn, position)
