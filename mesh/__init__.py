"""Everything NATS/JetStream: connection, subjects, provisioning, events, KV, jobs, replay."""

from mesh.artifacts import ArtifactStore
from mesh.connection import MeshConnection
from mesh.embedded import EmbeddedNatsServer, nats_server_binary
from mesh.events import EventPublisher, PublishResult, StoredEvent, decode_event
from mesh.feed import LiveFeed
from mesh.jobs import JobQueue
from mesh.provision import ProvisionStep, provision, streams_present
from mesh.replay import EventReader
from mesh.videos import Versioned, VideoStore

__all__ = [
    "ArtifactStore",
    "EmbeddedNatsServer",
    "EventPublisher",
    "EventReader",
    "JobQueue",
    "LiveFeed",
    "MeshConnection",
    "ProvisionStep",
    "PublishResult",
    "StoredEvent",
    "Versioned",
    "VideoStore",
    "decode_event",
    "nats_server_binary",
    "provision",
    "streams_present",
]
