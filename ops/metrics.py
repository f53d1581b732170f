"""Prometheus metrics of a role: collectors read at scrape time, and per-route HTTP metrics.

Metrics live in a :class:`prometheus_client.CollectorRegistry` owned by one application (never
the global default registry, so several apps in one process — as in tests — stay apart).
Hub and process figures are read at scrape time by custom collectors; HTTP figures are
recorded by :meth:`HttpMetrics.observe`, installed as the application's ``log_function``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from tornado.web import RequestHandler

from mesh.connection import MeshConnection
from ops.http import RequestRecord, request_summary

log = logging.getLogger(__name__)
access_log = logging.getLogger("tornado.access")

StatsValue = float | int | bool | Mapping[str, float | int]
ExtraStats = Callable[[], Mapping[str, StatsValue] | object]
"""Returns the figures of a role (a mapping or a dataclass) for ``/metrics``."""


class HubStats(Protocol):
    """What ``EventHub.stats()`` returns (read attributes only)."""

    @property
    def connected_clients(self) -> int: ...
    @property
    def events_dispatched(self) -> int: ...
    @property
    def events_sent_by_type(self) -> Mapping[str, int]: ...
    @property
    def replays(self) -> int: ...
    @property
    def slow_client_drops(self) -> int: ...
    @property
    def nats_reconnects(self) -> int: ...
    @property
    def healthy(self) -> bool: ...
    @property
    def resets(self) -> int: ...
    @property
    def catch_up_rounds(self) -> int: ...
    @property
    def feed_resubscribes(self) -> int: ...
    @property
    def held_events(self) -> int: ...
    @property
    def fence_marks_waited(self) -> int: ...


class StatsSource(Protocol):
    """Anything with ``stats()`` like the SSE hub."""

    def stats(self) -> HubStats: ...


class HubCollector(Collector):
    """Exports the SSE hub's figures at scrape time."""

    def __init__(self, hub: StatsSource) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        """One family per figure."""
        s = self._hub.stats()
        yield GaugeMetricFamily(
            "culto_sse_connected_clients", "Open SSE streams", value=s.connected_clients
        )
        sent = CounterMetricFamily(
            "culto_sse_events_sent", "Events written to SSE clients, by type", labels=["type"]
        )
        for event_type, count in sorted(s.events_sent_by_type.items()):
            sent.add_metric([event_type], count)
        yield sent
        yield CounterMetricFamily(
            "culto_sse_events_dispatched", "Events fanned out by the hub", value=s.events_dispatched
        )
        yield CounterMetricFamily(
            "culto_sse_replays", "Replays served to resuming or joining clients", value=s.replays
        )
        yield CounterMetricFamily(
            "culto_sse_stream_resets",
            "stream.reset events: resume points trimmed by retention or unknown to the stream",
            value=s.resets,
        )
        yield CounterMetricFamily(
            "culto_sse_catch_up_rounds",
            "Extra replay rounds for clients whose live queue overflowed while catching up",
            value=s.catch_up_rounds,
        )
        yield CounterMetricFamily(
            "culto_sse_slow_client_drops",
            "Clients disconnected for falling behind",
            value=s.slow_client_drops,
        )
        yield CounterMetricFamily(
            "culto_sse_nats_reconnects", "NATS reconnects seen by the hub", value=s.nats_reconnects
        )
        yield GaugeMetricFamily(
            "culto_sse_healthy", "1 when the hub's live feed is running", value=int(s.healthy)
        )
        yield CounterMetricFamily(
            "culto_sse_feed_resubscribes",
            "Times the live feed resubscribed after its consumer was lost",
            value=s.feed_resubscribes,
        )
        yield GaugeMetricFamily(
            "culto_sse_held_events",
            "Live events held until the identity view is known current again",
            value=s.held_events,
        )
        yield CounterMetricFamily(
            "culto_sse_fence_marks_waited",
            "Identity fence marks read before the identity view held them (events waited)",
            value=s.fence_marks_waited,
        )


class MeshCollector(Collector):
    """Connection state of the process's NATS client."""

    def __init__(self, mesh: MeshConnection) -> None:
        self._mesh = mesh

    def collect(self) -> Iterator[Metric]:
        """Connected flag, reconnects and slow-consumer errors."""
        yield GaugeMetricFamily(
            "culto_nats_connected", "1 while connected to NATS", value=int(self._mesh.is_connected)
        )
        yield CounterMetricFamily(
            "culto_nats_reconnects", "NATS reconnects of this process", value=self._mesh.reconnects
        )
        yield CounterMetricFamily(
            "culto_nats_slow_consumer_errors",
            "Messages dropped by the NATS client for slow subscriptions",
            value=self._mesh.slow_consumer_errors,
        )


class ExtraStatsCollector(Collector):
    """Gauges ``culto_<prefix>_<name>`` from a role's stats (numbers or ``{label: number}``)."""

    def __init__(self, prefix: str, source: ExtraStats) -> None:
        self._prefix = _metric_name(prefix) if prefix else ""
        self._source = source

    def collect(self) -> Iterator[Metric]:
        """Read the stats now; a failing source exports nothing rather than breaking scrapes."""
        try:
            raw = self._source()
        except Exception:
            log.exception("stats source failed")
            return
        items: Mapping[str, Any]
        if dataclasses.is_dataclass(raw) and not isinstance(raw, type):
            items = dataclasses.asdict(raw)
        elif isinstance(raw, Mapping):
            items = raw
        else:
            return
        head = f"culto_{self._prefix}_" if self._prefix else "culto_"
        for key, value in sorted(items.items()):
            name = f"{head}{_metric_name(key)}"
            if isinstance(value, bool | int | float):
                yield GaugeMetricFamily(name, f"{self._prefix} {key}", value=float(value))
            elif isinstance(value, Mapping):
                family = GaugeMetricFamily(name, f"{self._prefix} {key}", labels=["key"])
                for label, number in sorted(value.items()):
                    if isinstance(number, bool | int | float):
                        family.add_metric([str(label)], float(number))
                yield family


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods that keep their own ``method`` label; any other is counted as ``other``."""


def method_label(method: str | None) -> str:
    """The ``method`` label of a request: a known method, else ``other``.

    The method is whatever the client wrote on the request line; as a label it would let any
    client create time series without bound (one per made-up method).
    """
    return method if method in METHODS else "other"


def _metric_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", text).strip("_").lower() or "value"


class HttpMetrics:
    """Request counts and latency by route template, method and status.

    Args:
        registry: The application's registry.
        route_names: Handler class → route template (bounded label values).
    """

    def __init__(
        self, registry: CollectorRegistry, route_names: Mapping[type[RequestHandler], str]
    ) -> None:
        self._routes = dict(route_names)
        self.requests = Counter(
            "culto_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "culto_http_request_duration_seconds",
            "HTTP request duration by route and method (SSE streams count their lifetime)",
            ["route", "method"],
            registry=registry,
        )

    def observe(self, handler: RequestHandler | RequestRecord) -> None:
        """Record one finished request (or a stream at its close: :class:`RequestRecord`), then
        write the usual access log line."""
        kind = handler.handler_class if isinstance(handler, RequestRecord) else type(handler)
        route = self._routes.get(kind, "unmatched")
        method = method_label(handler.request.method)
        status = int(handler.get_status())
        duration = handler.request.request_time()
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(duration)
        level = logging.INFO if status < 400 else logging.WARNING
        if status >= 500:
            level = logging.ERROR
        summary = request_summary(handler)  # the client's method and URI escaped
        access_log.log(level, "%d %s %.2fms", status, summary, 1000.0 * duration)


def make_registry(
    mesh: MeshConnection,
    *,
    hub: StatsSource | None = None,
    extra: Mapping[str, ExtraStats] | ExtraStats | None = None,
    collectors: Sequence[Collector] = (),
) -> CollectorRegistry:
    """A fresh registry with the mesh collector, and the hub/extra collectors if given.

    Args:
        mesh: The process's connection.
        hub: The SSE hub (frontend role).
        extra: A role's stats: one callable (exported as ``culto_<name>``) or
            ``{prefix: callable}`` (exported as ``culto_<prefix>_<name>``).
        collectors: Further collectors (worker durations, the job backlog, replay times).
    """
    registry = CollectorRegistry(auto_describe=True)
    registry.register(MeshCollector(mesh))
    if hub is not None:
        registry.register(HubCollector(hub))
    sources: Mapping[str, ExtraStats] = (
        {"": extra} if callable(extra) else extra if extra is not None else {}
    )
    for prefix, source in sources.items():
        registry.register(ExtraStatsCollector(prefix, source))
    for collector in collectors:
        registry.register(collector)
    return registry
