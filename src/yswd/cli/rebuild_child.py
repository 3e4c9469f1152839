"""The entry point of a rebuild's second process (started by ``rebuild_process``).

    python -m yswd.cli.rebuild_child audit_chain   # settings as JSON on stdin

It builds the ordinary container from the settings it reads on stdin (the parent
left out the bootstrap administrator and organisation sign-in, which it has no
use for), replays the named read models as a rebuild's catch-up does, and prints
``{"applied": N}`` as its last line. Like the CLI, it is a way in that builds
the container; the composition root never imports it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence

from yswd.cli.store import opened
from yswd.settings import Settings

log = logging.getLogger(__name__)


def main(names: Sequence[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings.model_validate_json(sys.stdin.read())
    with opened(settings) as container:
        unknown = sorted(set(names) - set(container.read_models))
        if unknown:
            log.error("unknown read models: %s", ", ".join(unknown))
            return 2
        applied = container.runner.part(names).replay()
    print(json.dumps({"applied": applied}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
