"""Makes Python 3.11 sleep correctly under Debian 12's libfaketime 0.9.10 (``faketime``).

Only used when this folder is on ``PYTHONPATH``, as ``scripts/test.sh`` puts it for the
step that runs the tests with the clock moved a year ahead. Python imports
``sitecustomize`` at start-up, so this applies to the test process and to every Python
process it starts (``yswd serve``, ``yswd worker``), which inherit the environment.

Why: the tests move the *wall clock* (dates), not the monotonic clock (timeouts), so they
run under ``FAKETIME_DONT_FAKE_MONOTONIC=1``. With a faked monotonic clock every wait with
a timeout (``threading.Event.wait``, ``Lock.acquire(timeout=)``, ``queue.get(timeout=)``,
``Thread.join(timeout=)``) hangs: glibc's ``sem_clockwait`` reaches the kernel with a
faked deadline a year away (libfaketime issue #390). With the monotonic clock left real,
libfaketime 0.9.10 still shifts the absolute deadline of
``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, which is what ``time.sleep`` calls
from Python 3.11, so every ``time.sleep`` fails with ``OSError: [Errno 22]`` (issue #426,
fixed after 0.9.10). Here ``time.sleep`` waits on a lock instead, and lock waits are
timed by the (real) monotonic clock correctly. Nothing changes without libfaketime.
"""

from __future__ import annotations

import os
import threading
import time


def _sleep(seconds: float) -> None:
    """``time.sleep`` without ``clock_nanosleep``: a timed wait on a lock nobody releases."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    lock = threading.Lock()
    lock.acquire()
    lock.acquire(timeout=seconds)


if "faketime" in os.environ.get("LD_PRELOAD", "") and (
    os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC") == "1"
):
    time.sleep = _sleep
