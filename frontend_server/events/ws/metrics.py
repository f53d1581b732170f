"""``/metrics`` figures of the WebSocket transport and of acknowledged cursors.

SSE has the hub's figures (``culto_sse_*``, whose client count includes the hub connections of
WebSockets); these add what only the WebSocket and the cursors know.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from frontend_server.events.cursors import CursorStats

if TYPE_CHECKING:
    from frontend_server.events.ws.handler import WsStats


class TransportCollector(Collector):
    """Exports :class:`WsStats` and :class:`CursorStats` at scrape time."""

    def __init__(self, ws: WsStats, cursors: CursorStats) -> None:
        self._ws = ws
        self._cursors = cursors

    def collect(self) -> Iterator[Metric]:
        """One family per figure."""
        ws, cur = self._ws, self._cursors
        yield GaugeMetricFamily("culto_ws_connected_clients", "Open WebSockets", value=ws.open)
        yield CounterMetricFamily(
            "culto_ws_connections", "WebSockets opened (upgrades)", value=ws.opened
        )
        yield CounterMetricFamily(
            "culto_ws_messages_received", "Messages from WebSocket clients", value=ws.messages_in
        )
        yield CounterMetricFamily(
            "culto_ws_messages_sent",
            "Messages to WebSocket clients (events included)",
            value=ws.messages_out,
        )
        yield CounterMetricFamily(
            "culto_ws_errors_sent", "Error messages answered to bad requests", value=ws.errors_out
        )
        yield CounterMetricFamily("culto_cursor_acks", "Cursor acks received", value=cur.acks)
        yield CounterMetricFamily(
            "culto_cursor_flushes", "Batched cursor writes sent to the API role", value=cur.flushes
        )
        yield CounterMetricFamily(
            "culto_cursor_flushed",
            "Cursor positions written by the batched flushes (one per cursor and flush)",
            value=cur.flushed_cursors,
        )
        yield CounterMetricFamily(
            "culto_cursor_flush_failures",
            "Batched cursor writes that failed (kept for the next flush)",
            value=cur.failed_flushes,
        )
