"""The event edge: the hub's fan-out, who may receive what, history rounds, and the SSE and
WebSocket transports."""
