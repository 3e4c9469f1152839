"""The entry point of a rebuild's second process (started by ``rebuild_process``).

    python -m yswd.cli.rebuild_child audit_chain   # settings as JSON on stdin
    python -m yswd.cli.rebuild_child --ahead staff_items audit_chain

It builds the ordinary container from the settings it reads on stdin (the parent
left out the bootstrap administrator and organisation sign-in, which it has no
use for), without making tables: the parent made them, and has just dropped the
indexes a rebuild builds at its end. Then either it replays the named read
models as a rebuild's catch-up does, and prints ``{"applied": N}`` as its last
line; or (``--ahead``) it waits for a second line, ``{"positions": {...},
"batch_size": N}`` (sent once the parent has emptied the models), and sends what
the models prepare for each batch from there, one pickled message a batch on its
standard output, and ``None`` at the end (``ProjectionRunner.prepared_ahead``).
Like the CLI, it is a way in that builds the container; the composition root
never imports it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing.connection
import os
import sys
from collections.abc import Sequence

from yswd.cli.store import opened
from yswd.projections.batches import fewer_collections
from yswd.settings import Settings

log = logging.getLogger(__name__)


def main(argv: Sequence[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if argv[:1] == ["--ahead"]:
        return ahead(argv[1:])
    names = argv
    settings = Settings.model_validate_json(sys.stdin.read())
    with opened(settings, schema=False) as container:
        unknown = sorted(set(names) - set(container.read_models))
        if unknown:
            log.error("unknown read models: %s", ", ".join(unknown))
            return 2
        applied = container.runner.part(names).replay()
    print(json.dumps({"applied": applied}), flush=True)
    return 0


def ahead(names: Sequence[str]) -> int:
    """Prepare the named models' batches for the parent, one message a batch."""
    # the messages have standard output to themselves: anything printed goes to stderr
    messages = multiprocessing.connection.Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    settings = Settings.model_validate_json(sys.stdin.readline())
    with opened(settings, schema=False) as container:
        if sorted(set(names) - set(container.read_models)):
            log.error("unknown read models: %s", ", ".join(names))
            return 2
        line = sys.stdin.readline()
        if not line:  # the parent went on without this process
            return 0
        go = json.loads(line)
        part = container.runner.part(names)
        try:
            with fewer_collections():
                for batch in part.prepared_ahead(go["positions"], go["batch_size"]):
                    messages.send(batch)
                messages.send(None)
        except (BrokenPipeError, ConnectionResetError):
            return 0  # the parent stopped reading: it prepares the rest itself
        finally:
            if part.bulk is not None:
                part.bulk.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
