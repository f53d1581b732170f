"""WebSocket: the wire format, the handler of ``/api/v2/events/ws`` and one socket's
subscriptions."""
