"""The HTTP plumbing every role's server shares, below the edge and the services.

- :mod:`ops.http`: JSON errors (one status table searched along the MRO), the JSON handler base;
- :mod:`ops.metrics`: Prometheus collectors and per-route HTTP metrics;
- :mod:`ops.handlers`: ``/health``, ``/ready``, ``/metrics``;
- :mod:`ops.server`: listening, graceful close, and the ops-only server of the ``api`` and
  ``worker`` roles (so a worker never imports the Tornado edge, ``frontend_server``).
"""
