"""Prometheus metrics at ``/metrics``, request ids, request logs and the database deadline.

One ASGI middleware does the per-request work, so it wraps everything else:

- ``X-Request-Id``: the caller's (if it looks like an id) or a new one, on the
  response and on every log line written while handling the request;
- a :func:`~yswd.adapters.persistence.database_deadline`, so a request never
  waits long for a database that is down (it gets 503 instead);
- ``yswd_http_requests_total`` and ``yswd_http_request_duration_seconds`` by
  method, route *template* (``/api/v1/items/{item_id}``, never the raw path, so
  no ids in labels) and status;
- one log line per request (route template, status, duration; nothing personal).

Read model and relay lag are computed when Prometheus scrapes, from the
runner's and relay's public reads (:class:`LagCollector`), so every replica
reports the same figures. ``yswd worker --metrics-port`` serves the same
collector, with the relay's lag, on its own port.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from yswd.adapters.logs import access_log, request_id_var, sane_request_id
from yswd.adapters.persistence import database_deadline

if TYPE_CHECKING:
    from yswd.adapters.container import Container
    from yswd.adapters.nats_relay import NatsRelay
    from yswd.projections.answers import AnswerCache
    from yswd.projections.runner import ProjectionRunner

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: how long a scrape may wait for the database before it reports it as down
SCRAPE_DEADLINE_SECONDS = 2.0


class HttpMetrics:
    """The request counters and latency histograms of one web app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "yswd_http_requests",
            "HTTP requests handled, by method, route template and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "yswd_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


def route_template(scope: Scope) -> str:
    """The matched route's path template; never the raw path (it holds ids)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class ObservabilityMiddleware:
    """Request id, database deadline, metrics and a log line for every HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, db_wait_seconds: float = 3.0) -> None:
        self.app = app
        self.metrics = metrics
        self.db_wait_seconds = db_wait_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                incoming = sane_request_id(value.decode("latin-1"))
                break
        request_id = incoming or uuid.uuid4().hex
        status = 500  # unless a response starts: an exception escaped every handler

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            with database_deadline(self.db_wait_seconds):
                await self.app(scope, receive, send_with_id)
        finally:
            duration = time.perf_counter() - started
            method = str(scope.get("method", "GET"))
            route = route_template(scope)
            self.metrics.observe(method, route, status, duration)
            access_log.log(
                logging.WARNING if status >= 500 else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
            request_id_var.reset(token)


class LagCollector(Collector):
    """Read model lag (events and seconds), and the relay's when it runs here.

    Lag in seconds is the age of the oldest event a read model has not applied
    yet (0 when it is up to date). A scrape while the database is down reports
    ``yswd_database_up 0`` instead of failing.
    """

    def __init__(self, runner: ProjectionRunner, relay: NatsRelay | None = None) -> None:
        self.runner = runner
        self.relay = relay
        self._recorded_at: dict[int, float] = {}

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("yswd_database_up", "1 if the database answered this scrape.")
        try:
            with database_deadline(SCRAPE_DEADLINE_SECONDS):
                families = list(self._lag_families())
        except Exception as error:  # a scrape must not fail: report the outage
            log.warning("metrics: the database could not be read (%s)", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _lag_families(self) -> Iterator[Metric]:
        head = self.runner.head()
        now = time.time()
        head_family = GaugeMetricFamily(
            "yswd_event_log_head", "Position of the newest stored event in the log."
        )
        head_family.add_metric([], head)
        yield head_family
        events = GaugeMetricFamily(
            "yswd_projection_lag_events",
            "Stored events a read model has not applied yet.",
            labels=["read_model"],
        )
        seconds = GaugeMetricFamily(
            "yswd_projection_lag_seconds",
            "Age of the oldest event a read model has not applied yet (0 when up to date).",
            labels=["read_model"],
        )
        for name, position in self.runner.positions().items():
            events.add_metric([name], max(head - position, 0))
            seconds.add_metric([name], self._age(position, head, now))
        yield events
        yield seconds
        if self.relay is None:
            return
        relayed = self.relay.recorded_position()
        relay_events = GaugeMetricFamily(
            "yswd_relay_lag_events",
            "Stored events not yet acknowledged by NATS JetStream.",
        )
        relay_events.add_metric([], max(head - relayed, 0))
        yield relay_events
        relay_seconds = GaugeMetricFamily(
            "yswd_relay_lag_seconds",
            "Age of the oldest event not yet acknowledged by JetStream (0 when up to date).",
        )
        relay_seconds.add_metric([], self._age(relayed, head, now))
        yield relay_seconds
        published = CounterMetricFamily(
            "yswd_relay_published", "Messages this process published to JetStream."
        )
        published.add_metric([], self.relay.published)
        yield published

    def _age(self, position: int, head: int, now: float) -> float:
        """Seconds since the event after ``position`` was recorded."""
        if position >= head:
            return 0.0
        following = position + 1
        recorded = self._recorded_at.get(following)
        if recorded is None:
            app = self.runner.app
            found = app.recorder.select_notifications(start=following, limit=1)
            if not found:
                return 0.0
            timestamp = getattr(app.mapper.to_domain_event(found[0]), "timestamp", None)
            if timestamp is None:
                return 0.0
            recorded = float(timestamp.timestamp())
            if len(self._recorded_at) > 1000:
                self._recorded_at.clear()
            self._recorded_at[following] = recorded
        return max(now - recorded, 0.0)


class SafeguardingCollector(Collector):
    """Open safeguarding flags nobody has acknowledged by their acknowledgement time."""

    def __init__(self, overdue: Callable[[], int]) -> None:
        self.overdue = overdue

    def collect(self) -> Iterator[Metric]:
        try:
            with database_deadline(SCRAPE_DEADLINE_SECONDS):
                count = self.overdue()
        except Exception as error:  # yswd_database_up says so; a scrape must not fail
            log.warning("metrics: safeguarding flags could not be read (%s)", type(error).__name__)
            return
        family = GaugeMetricFamily(
            "yswd_safeguarding_ack_overdue",
            "Open safeguarding flags past their acknowledgement time.",
        )
        family.add_metric([], count)
        yield family


class AnswerCacheCollector(Collector):
    """The public answers this process keeps (``projections.answers.AnswerCache``)."""

    def __init__(self, answers: AnswerCache) -> None:
        self.answers = answers

    def collect(self) -> Iterator[Metric]:
        kept = GaugeMetricFamily(
            "yswd_answer_cache_bytes", "Bytes counted for the public answers kept in memory."
        )
        kept.add_metric([], self.answers.kept_bytes)
        yield kept
        bound = GaugeMetricFamily(
            "yswd_answer_cache_max_bytes", "The most the public answers kept may count."
        )
        bound.add_metric([], self.answers.max_bytes)
        yield bound
        reads = CounterMetricFamily(
            "yswd_answer_cache_reads",
            "Public answers read: from memory (hit), computed (miss), or waited for while "
            "another read computed them (shared).",
            labels=["result"],
        )
        reads.add_metric(["hit"], self.answers.hits)
        reads.add_metric(["miss"], self.answers.misses)
        reads.add_metric(["shared"], self.answers.shared)
        yield reads


def metrics_registry(runner: ProjectionRunner, relay: NatsRelay | None = None) -> CollectorRegistry:
    """A registry with the process's and the lag metrics (HTTP metrics are added to it)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(LagCollector(runner, relay))
    return registry


def install_metrics(app: FastAPI, container: Container) -> None:
    """Serve ``/metrics`` and wrap the app in :class:`ObservabilityMiddleware`.

    Call it last in ``create_app``, so the middleware is the outermost one.
    """
    registry = metrics_registry(container.runner)
    registry.register(SafeguardingCollector(container.safeguarding_ack_overdue))
    registry.register(AnswerCacheCollector(container.runner.answers))
    app.add_middleware(
        ObservabilityMiddleware,
        metrics=HttpMetrics(registry),
        db_wait_seconds=container.settings.db_wait_seconds,
    )

    def metrics(_: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        "/metrics", metrics, methods=["GET"], include_in_schema=False, tags=["operations"]
    )


def serve_metrics(port: int, registry: CollectorRegistry, host: str = "0.0.0.0") -> Any:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread (the worker)."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
