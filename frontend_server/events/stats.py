"""The hub's counters, as one snapshot for metrics and the health endpoint."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HubStats:
    """A snapshot of the hub's counters for metrics and health."""

    connected_clients: int
    events_dispatched: int
    events_sent_by_type: dict[str, int]
    replays: int
    slow_client_drops: int
    nats_reconnects: int
    healthy: bool
    revoked: int = 0
    resets: int = 0
    catch_up_rounds: int = 0
    feed_resubscribes: int = 0
    held_events: int = 0
    """Live events the identity fence holds now (the directory is not known current)."""
    fence_marks_waited: int = 0
    """Identity fence marks read before the directory held them (events after them waited)."""
