"""A unit's subtree on real PostgreSQL: right in any collation, and read from an index.

``sql.subtree`` is a range of unit paths. A range is the set of paths with a given
beginning only in byte order, and a PostgreSQL database's default collation may be a
language's, which weighs punctuation ('/', '-') after letters and digits or not at
all. So the range is compared ``COLLATE "C"``, and ``rm_items`` has indexes on that
same expression. This runs in a database whose collation ignores punctuation at the
first level (ICU's ``en-u-ka-shifted``, as glibc's ``en_US.UTF-8`` does).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, and_, create_engine, select, text

from tests.unit.test_subtree import assert_every_subtree_is_found, both, found, item_row, put, trees
from yswd.projections.item_tables import items, metadata
from yswd.projections.sql import path_text, subtree, under_any
from yswd.projections.tracking import create_tables

from .servers import Postgres, postgres_or_skip


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from postgres_or_skip()


@pytest.fixture(scope="module")
def engine(postgres: Postgres) -> Iterator[Engine]:
    postgres.psql(
        f"CREATE DATABASE subtree_icu OWNER {postgres.user} TEMPLATE template0 "
        "LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE 'en-u-ka-shifted'"
    )
    url = postgres.url.rsplit("/", 1)[0] + "/subtree_icu"
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        metadata.create_all(conn)
    yield engine
    engine.dispose()


def test_the_database_orders_paths_by_language_not_by_byte(engine: Engine) -> None:
    """The premise: here, the same range in the database's own collation is wrong."""
    put(engine, [item_row("below-w1", ("r", "w1", "x"), None)])
    low = path_text(("r", "w1"))
    plain = and_(items.c.unit_path >= low, items.c.unit_path < low[:-1] + "0")
    assert found(engine, plain) == set()  # 'rw1x' sorts after 'rw10' with '/' ignored
    assert found(engine, subtree(items.c.unit_path, ("r", "w1"))) == {"below-w1"}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=trees(), data=st.data())
def test_a_subtree_is_the_unit_and_every_unit_below_it(
    engine: Engine, tree: dict[str, tuple[str, ...]], data: st.DataObject
) -> None:
    assert_every_subtree_is_found(engine, tree, data)


def plan(engine: Engine, query: Any) -> str:
    with engine.connect() as conn:
        compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
        return "\n".join(conn.scalars(text(f"EXPLAIN {compiled}")))


def test_a_wards_board_reads_the_ward_from_the_index_not_every_row(engine: Engine) -> None:
    """20,000 items over 50 wards: a ward's count and a manager's scope use the indexes."""
    wards = [("region", f"trust-{n % 5}", f"ward-{n}") for n in range(50)]
    put(
        engine,
        [
            item_row(f"item-{n}", wards[n % 50], wards[(n * 7) % 50] if n % 3 == 0 else None)
            for n in range(20_000)
        ],
    )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE rm_items"))
    ward = subtree(items.c.unit_path, wards[7])
    board = plan(engine, select(items.c.status).where(items.c.published.is_(True) & ward))
    assert "ix_rm_items_unit_path_bytes" in board, board
    assert "Seq Scan" not in board, board
    scope = under_any({w[-1]: w for w in wards}.get, ["ward-7"], *both())
    listed = plan(engine, select(items.c.item_id).where(scope))
    assert "ix_rm_items_unit_path_bytes" in listed and "ix_rm_items_referred_path_bytes" in listed
    assert "Seq Scan" not in listed, listed
    assert len(found(engine, ward)) == 400


def test_a_store_made_before_the_indexes_gets_them_when_it_opens(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_rm_items_unit_path_bytes"))
        conn.execute(text("DROP INDEX ix_rm_items_referred_path_bytes"))
    with engine.begin() as conn:
        create_tables(conn, [SimpleNamespace(name="staff_items", metadata=metadata)])  # type: ignore[list-item]
    with engine.connect() as conn:
        names = set(
            conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'rm_items'"))
        )
    assert {"ix_rm_items_unit_path_bytes", "ix_rm_items_referred_path_bytes"} <= names
    assert "ix_rm_items_referred_path" not in names  # SQLite's, not made here
