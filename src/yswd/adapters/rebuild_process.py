"""A rebuild's second process (``yswd.projections.ports.RebuildHelper``).

A rebuild is CPU-bound Python, so one process uses one core. The runner hands
the models that may be rebuilt apart (the audit chain: it needs nothing but the
stored bytes) to a child process, which opens the same store and replays them
while the parent replays the rest:

    python -m yswd.cli.rebuild_child audit_chain   # settings as JSON on stdin

The settings go over stdin, not the command line or the environment, so that
secrets in them do not show in the process list. The child (``rebuild_child``, an
entry point of its own so that the composition root, which builds this starter,
is not imported back by it) builds the ordinary container and runs
``ProjectionRunner.part(names).replay()``: the ordinary catch-up, batch by batch,
each batch committed with its tracking position. So a child that dies, or is
killed, leaves its models where its last batch left them, and the parent's last
catch-up goes on from there.
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

#: the child's module (``python -m``)
CHILD = "yswd.cli.rebuild_child"


class RebuildProcessFailed(RuntimeError):
    """The child process ended without saying what it applied."""


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ProcessRebuild:
    """Starts ``python -m yswd.cli.rebuild_child`` for the named read models."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings.model_copy(update={"admin_token": None, "oidc_issuer": None})

    def start(self, names: Sequence[str]) -> RunningProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", CHILD, *names],
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
