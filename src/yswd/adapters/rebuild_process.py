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

import contextlib
import json
import logging
import multiprocessing.connection
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

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


def for_a_child(settings: Settings) -> Settings:
    """The settings a rebuild's child gets: no bootstrap administrator, no sign-in, and
    no projections of its own (it does only what it is started for)."""
    return settings.model_copy(
        update={"admin_token": None, "oidc_issuer": None, "run_projections": False}
    )


class ProcessRebuild:
    """Starts ``python -m yswd.cli.rebuild_child`` for the named read models."""

    def __init__(self, settings: Settings) -> None:
        self.settings = for_a_child(settings)

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


#: how long the runner waits for the preparing process's next batch before going on
#: without it (its first batch comes after its start-up: an interpreter and a container)
AHEAD_WAIT_SECONDS = 60.0


class ProcessPrepare:
    """Starts ``python -m yswd.cli.rebuild_child --ahead`` for the named read models.

    ``yswd.projections.ports.PrepareHelper``: the child reads, decodes and folds the
    log one batch ahead of the runner, which writes what it sends.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = for_a_child(settings)

    def start(self, names: Sequence[str], batch_size: int) -> PreparingProcess:
        process = subprocess.Popen(
            [sys.executable, "-m", CHILD, "--ahead", *names],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert process.stdin is not None
        try:
            process.stdin.write(self.settings.model_dump_json().encode() + b"\n")
            process.stdin.flush()
        except BrokenPipeError:
            pass  # it died at once: ``next`` finds nothing
        return PreparingProcess(process, list(names), batch_size)


class PreparingProcess:
    """One child preparing batches ahead (``yswd.projections.ports.PreparedAhead``).

    The child sends each batch as one pickled message on its standard output
    (``multiprocessing.connection``: a length, then the pickle). Only this process's
    own child writes to that pipe, so nothing else is ever unpickled. The pipe holds
    64 KiB, and the child waits on it until the runner takes what it sent: a rebuild's
    batch is megabytes, so the child is about one batch ahead, and its memory is
    bounded as the runner's is.
    """

    def __init__(self, process: subprocess.Popen[bytes], names: list[str], batch_size: int):
        self.process = process
        self.names = names
        self.batch_size = batch_size
        assert process.stdout is not None
        self._messages: multiprocessing.connection.Connection | None = (
            multiprocessing.connection.Connection(os.dup(process.stdout.fileno()), writable=False)
        )
        process.stdout.close()

    def begin(self, positions: dict[str, int]) -> None:
        assert self.process.stdin is not None
        go = {"positions": positions, "batch_size": self.batch_size}
        try:
            self.process.stdin.write(json.dumps(go).encode() + b"\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it died: ``next`` finds nothing

    def next(self, last: int, seen: dict[str, int]) -> dict[str, Any] | None:
        messages = self._messages
        if messages is None:
            return None
        try:
            if not messages.poll(AHEAD_WAIT_SECONDS):
                log.warning("the rebuild's preparing process sent nothing; preparing here")
                return None
            message = messages.recv()
        except (EOFError, OSError):
            log.warning("the rebuild's preparing process ended early; preparing here")
            return None
        if message is None:  # it reached the end of the log before the runner did
            return None
        its_last, its_seen, prepared = message
        if its_last != last or its_seen != {name: seen.get(name) for name in its_seen}:
            return None  # it read another batch (events written since it did, say)
        return dict(prepared)

    def close(self) -> None:
        if self._messages is not None:
            self._messages.close()
            self._messages = None
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
