"""A rebuild's batches prepared in other processes, a batch ahead of the runner.

Both sides of it: what a preparing process works out (``prepared_ahead``, which
``cli/rebuild_child.py --ahead`` runs), and what the runner keeps of the processes
it started (``AheadProcesses``). The processes themselves are
``adapters/rebuild_process``'s; ``ProjectionRunner.rebuild`` says when there are any.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from yswd.projections.batches import ReadModel, prepare, preparer_of
from yswd.projections.feeds import Feeds
from yswd.projections.ports import PreparedAhead, PrepareHelper, ReadModelDatabase

log = logging.getLogger(__name__)


def prepared_ahead(
    database: ReadModelDatabase,
    feeds: Feeds,
    models: Sequence[ReadModel],
    positions: dict[str, int],
    batch_size: int,
) -> Iterator[tuple[int, dict[str, int], dict[str, Any]]]:
    """What a rebuild's preparing process works out, batch after batch, for ``models``.

    The batches are the runner's: from the lowest position on, ``batch_size`` stored
    events each, ending with the first that is not full. For each: its last position,
    what each model not yet past it had seen, and what each of those prepares (None
    when the batch holds nothing for it). Each model's views and hashes are kept for
    the next batch as the runner's own would be; the rows are written by the runner.
    """
    bulk = feeds.bulk
    cannot = [model.name for model in models if preparer_of(model) is None]
    if bulk is None or cannot:
        raise ValueError(f"cannot prepare ahead: {', '.join(cannot) or 'no bulk scan'}")
    positions = dict(positions)
    while True:
        records = bulk.stored_events(min(positions.values()) + 1, batch_size)
        if not records:
            return
        last = records[-1].id
        pending = [model for model in models if positions[model.name] < last]
        seen = {model.name: positions[model.name] for model in pending}
        prepared = prepare(database, pending, seen, feeds.bulk_feeds(pending, positions, records))
        yield last, seen, {name: prepared.get(name) for name in seen}
        positions.update(dict.fromkeys(seen, last))
        if len(records) < batch_size:
            return


class AheadProcesses:
    """The preparing processes of one rebuild, one a model (none: everything is here)."""

    def __init__(self, running: Iterable[PreparedAhead] = ()) -> None:
        self.running = list(running)

    @classmethod
    def start(
        cls, preparer: PrepareHelper, models: Sequence[ReadModel], batch_size: int
    ) -> AheadProcesses:
        """A process for each of ``models`` that may be prepared ahead (``prepares_ahead``)."""
        started = []
        for model in models:
            if getattr(model, "prepares_ahead", False):
                try:
                    started.append(preparer.start([model.name], batch_size))
                except Exception:
                    log.exception("could not start the process preparing %s", model.name)
        return cls(started)

    def begin(self, positions: dict[str, int]) -> None:
        """Each process starts from its models' ``positions`` (after the reset)."""
        for process in self.running:
            process.begin({name: positions[name] for name in process.names})

    def take(self, last: int, seen: dict[str, int]) -> dict[str, Any]:
        """What the processes worked out for the runner's batch, by model (None: nothing
        to write). A process that worked out another batch, or failed, is stopped, and
        its model is prepared by the runner from this batch on."""
        prepared: dict[str, Any] = {}
        for process in list(self.running):
            got = process.next(last, seen)
            if got is None:
                process.close()
                self.running.remove(process)
            else:
                prepared.update(got)
        return prepared

    def stop(self) -> None:
        """Stop every process: the runner prepares everything from now on."""
        for process in self.running:
            process.close()
        self.running.clear()
