"""``yswd worker``: projections, the NATS relay and the mail outbox, outside the web processes.

Any number of workers may run against one PostgreSQL database. The projection
runner takes an advisory lock per batch and moves positions with a
compare-and-set, so each event is applied once; the relay fences its publishes
with ``Nats-Expected-Last-Msg-Id``, so each event is published once.
Both stop cleanly on SIGTERM or SIGINT. With ``--metrics-port`` the worker also
serves Prometheus metrics (read model and relay lag) on that port.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from yswd.adapters.container import Container

log = logging.getLogger(__name__)


class Worker:
    """The worker's threads: one for projections, one for the relay (if configured)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.relay = None
        self.metrics_server: Any = None
        if container.settings.nats_url:
            from yswd.adapters.nats_relay import NatsRelay

            self.relay = NatsRelay(
                container.app,
                container.engine,
                container.settings.nats_url,
                poll_seconds=container.settings.projection_poll_seconds,
            )

        #: the mail outbox (``yswd.adapters.mail``), if YSWD_SMTP_URL is set
        self.mail_relay = container.mail_relay()

    def serve_metrics(self, port: int, host: str = "0.0.0.0") -> None:
        """Prometheus metrics on ``host:port/metrics``: read model and relay lag."""
        from yswd.adapters.http.metrics import metrics_registry, serve_metrics

        self.metrics_server = serve_metrics(
            port, metrics_registry(self.container.runner, self.relay), host
        )
        log.info("worker metrics on http://%s:%s/metrics", host, port)

    def start(self) -> None:
        runner = self.container.runner
        self.threads.append(
            threading.Thread(
                target=runner.run_forever,
                args=(self.stop_event, self.container.settings.projection_poll_seconds),
                name="yswd-projections",
                daemon=True,
            )
        )
        if self.relay is not None:
            self.threads.append(
                threading.Thread(
                    target=self.relay.run_forever,
                    args=(self.stop_event,),
                    name="yswd-nats-relay",
                    daemon=True,
                )
            )
        if self.mail_relay is not None:
            self.threads.append(
                threading.Thread(
                    target=self.mail_relay.run_forever,
                    args=(self.stop_event,),
                    name="yswd-mail-relay",
                    daemon=True,
                )
            )
        for thread in self.threads:
            thread.start()
        log.info("worker started: %s", ", ".join(t.name for t in self.threads))

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=timeout)
        self.threads.clear()
        if self.metrics_server is not None:
            self.metrics_server.shutdown()
            self.metrics_server = None

    def run_until_signalled(self) -> None:
        """Start, block until SIGTERM/SIGINT, then stop."""

        def on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("worker got signal %s; stopping", signum)
            self.stop_event.set()

        previous: dict[int, Callable[..., object] | int | None] = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)
        try:
            self.start()
            while not self.stop_event.wait(1.0):
                pass
        finally:
            self.stop()
            for number, handler in previous.items():
                signal.signal(number, handler)  # type: ignore[arg-type]
