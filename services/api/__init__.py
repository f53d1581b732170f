"""The video catalog service (NATS request/reply) and its typed client."""

from services.api.client import VideoApiClient

__all__ = ["VideoApiClient"]
