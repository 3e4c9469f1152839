"""What the runner needs of a read model, and how it hands one model one batch.

``ReadModel`` is the interface every read model meets (and the optional methods
the runner looks for). ``feed`` applies a batch to a model inside the batch's
transaction; ``prepare`` and ``write`` split that in two for models that can work
out their rows before the transaction (a rebuild's staff items and audit chain).
All three turn a model's own error into ``ModelFailed`` (the runner retries the
batch, then splits it and dead-letters what still fails) and let a database
outage through unchanged (the whole batch is retried later).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, MetaData

from yswd.projections.feeds import PLAIN, form_of
from yswd.projections.ports import ReadModelDatabase

#: the collector's first threshold during a rebuild (Python's default is 700)
REBUILD_GC_THRESHOLD = 100_000


class ReadModel(Protocol):
    """What the runner needs of a read model.

    A model may also define ``apply_batch(conn, events)`` (a list of
    ``(position, event)`` pairs in order), which the runner prefers to
    ``apply``; ``topic_prefixes``, a tuple of topic prefixes it cares about
    (events with other topics are neither decoded nor given to it); and
    ``bulk_indexes``, secondary indexes its writes never read through, which a
    rebuild drops first and builds again at the end; ``prepare_batch(conn, events,
    after)`` and ``write_batch(conn, prepared)``, which split ``apply_batch`` into
    the work done before the batch's write transaction (on a read connection;
    ``after`` is the model's position) and the writes done in it; and
    ``rebuilds_apart``, True when a rebuild may replay it in another process; and
    ``prepares_ahead``, True when a rebuild may have another process prepare its
    batches (``ahead``; it must then have one of the two ``prepare`` methods).
    """

    name: str
    metadata: MetaData
    #: True: ``apply`` gets the stored Notification (raw bytes, e.g. for hashing)
    #: instead of the decoded domain event
    wants_stored_form: bool

    def apply(self, conn: Connection, event: Any, position: int) -> None:
        """Apply one event. Called inside the batch's transaction."""

    def reset(self, conn: Connection) -> None:
        """Delete every row, before a rebuild."""


class ModelFailed(RuntimeError):
    """A read model raised while applying events (not a database outage)."""

    def __init__(self, model: ReadModel, error: Exception) -> None:
        super().__init__(f"read model {model.name} failed: {type(error).__name__}")
        self.model = model
        self.error = error


@contextmanager
def blamed(database: ReadModelDatabase, model: ReadModel) -> Iterator[None]:
    """A model's error as ``ModelFailed``; the database's own failure as it is."""
    try:
        yield
    except Exception as error:
        if database.is_outage(error):
            raise
        raise ModelFailed(model, error) from error


def feed(
    database: ReadModelDatabase,
    model: ReadModel,
    conn: Connection,
    events: Sequence[tuple[int, Any]],
    plain: bool = False,
) -> None:
    """Apply ``events`` to ``model`` inside the batch's transaction, by its best method."""
    if not events:
        return
    with blamed(database, model):
        if plain and not getattr(model, "wants_stored_form", False):
            apply_plain = getattr(model, "apply_plain_batch", None)
            if apply_plain is not None:
                apply_plain(conn, events)
                return
        apply_batch = getattr(model, "apply_batch", None)
        if apply_batch is not None:
            apply_batch(conn, events)
        else:
            for position, event in events:
                model.apply(conn, event, position)


def prepare(
    database: ReadModelDatabase,
    models: Sequence[ReadModel],
    seen: dict[str, int],
    feeds: dict[str, list[tuple[int, Any]]],
) -> dict[str, Any]:
    """What a rebuild's models will write, worked out before the batch's transaction.

    On SQLite the batch's transaction holds the database's one write lock, so
    work done here, on a read connection, is work nobody waits for: the event
    writers, or a rebuild's other process. A model folding plain states prepares
    with ``prepare_plain_batch``, one given stored or domain events with
    ``prepare_batch``; a model with neither is applied in the transaction (``feed``).
    """
    preparers = {}
    for model in models:
        method = preparer_of(model)
        if method is not None and feeds[model.name]:
            preparers[model.name] = (model, method)
    if not preparers:
        return {}
    prepared: dict[str, Any] = {}
    with database.engine.connect() as read:
        for name, (model, method) in preparers.items():
            with blamed(database, model):
                prepared[name] = method(read, feeds[name], after=seen[name])
        read.rollback()
    return prepared


def preparer_of(model: ReadModel) -> Any:
    """The method a rebuild prepares ``model``'s batches with, or None (it has none)."""
    plain = form_of(model) == PLAIN
    return getattr(model, "prepare_plain_batch" if plain else "prepare_batch", None)


def followed(
    database: ReadModelDatabase,
    models: Sequence[ReadModel],
    conn: Connection,
    seen: dict[str, int],
    last: int,
) -> None:
    """Tell each model that asks (``followed``) that its position moves from ``seen`` to
    ``last`` in this transaction, whether or not it was given events."""
    for model in models:
        method = getattr(model, "followed", None)
        if method is not None:
            with blamed(database, model):
                method(conn, seen[model.name], last)


def write(database: ReadModelDatabase, model: ReadModel, conn: Connection, prepared: Any) -> None:
    """Write what ``prepare`` worked out for ``model``, inside the batch's transaction."""
    with blamed(database, model):
        model.write_batch(conn, prepared)  # type: ignore[attr-defined]


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often for the length of a rebuild.

    A rebuild allocates a few short-lived dicts per event, and at Python's default
    threshold the collector ran every 700 of them: a fifth of a rebuild's CPU
    (100k events: 3.3 s -> 2.6 s with it off). Memory is still freed by reference
    counting as it always is; only cycles wait longer. The threshold is put back after.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], REBUILD_GC_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
