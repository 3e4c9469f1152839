"""A rebuild's second process (``yswd.projections.ports.RebuildHelper``).

A rebuild is CPU-bound Python, so one process uses one core. The runner hands
the models that may be rebuilt apart (the audit chain: it needs nothing but the
stored bytes) to a child process, which opens the same store and replays them
while the parent replays the rest:

    python -m yswd.adapters.rebuild_process audit_chain   # settings as JSON on stdin

The settings go over stdin, not the command line or the environment, so that
secrets in them do not show in the process list. The child builds the ordinary
container (without the bootstrap administrator or organisation sign-in, which
it has no use for) and runs ``ProjectionRunner.part(names).replay()``: the
ordinary catch-up, batch by batch, each batch committed with its tracking
position. So a child that dies, or is killed, leaves its models where its last
batch left them, and the parent's last catch-up goes on from there.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence

from yswd.settings import Settings

log = logging.getLogger(__name__)


class RebuildProcessFailed(RuntimeError):
    """The child process ended without saying what it applied."""


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ProcessRebuild:
    """Starts ``python -m yswd.adapters.rebuild_process`` for the named read models."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy(update={"admin_token": None, "oidc_issuer": None})

    def start(self, names: Sequence[str]) -> RunningProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", __name__, *names],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None
        try:
            process.stdin.write(self.settings.model_dump_json())
            process.stdin.close()
        except BrokenPipeError:
            pass  # it died at once: ``wait`` says so
        return RunningProcess(process)


class RunningProcess:
    """One child rebuilding; ``wait`` for what it applied."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def wait(self) -> int:
        assert self.process.stdout is not None
        try:
            out = self.process.stdout.read()
            self.process.wait()
        except BaseException:
            self.process.kill()  # the parent was interrupted: so is its child
            self.process.wait()
            raise
        lines = out.strip().splitlines()
        if self.process.returncode != 0 or not lines:
            raise RebuildProcessFailed(
                f"the rebuild process ended with exit status {self.process.returncode}"
            )
        return int(json.loads(lines[-1])["applied"])


def main(names: Sequence[str]) -> int:
    from yswd.bootstrap import build  # the composition root, as the CLI uses it

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = Settings.model_validate_json(sys.stdin.read())
    container = build(settings)
    try:
        unknown = sorted(set(names) - set(container.read_models))
        if unknown:
            log.error("unknown read models: %s", ", ".join(unknown))
            return 2
        applied = container.runner.part(names).replay()
    finally:
        container.close()
    print(json.dumps({"applied": applied}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
