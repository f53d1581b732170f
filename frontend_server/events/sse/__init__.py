"""Server-Sent Events: the wire format and the Tornado handler of ``/api/v2/events/stream``."""
