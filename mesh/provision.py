"""Idempotent provisioning of every JetStream resource the mesh needs.

Running it twice changes nothing; running it against a resource whose configuration has
drifted (retention, duplicate window, replicas, ack wait ...) updates that resource.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import nats.js.errors
from nats.js import api
from nats.js.manager import JetStreamManager

from culto.errors import ConfigError
from mesh.connection import MeshConnection
from mesh.cursors import CURSOR_TTL
from mesh.errors import nats_errors
from mesh.idempotency import INGRESS_TTL
from mesh.subjects import (
    ARTIFACTS_BUCKET,
    CURSORS_BUCKET,
    EVENTS_ALL,
    EVENTS_STREAM,
    IDENTITY_BUCKET,
    INGRESS_BUCKET,
    JOBS_ALL,
    JOBS_STREAM,
    SESSIONS_BUCKET,
    STAGING_BUCKET,
    VIDEOS_BUCKET,
    WORKERS_CONSUMER,
    YOUTUBE_INDEX_BUCKET,
)

log = logging.getLogger(__name__)

Action = Literal["created", "updated", "unchanged"]
DUPLICATE_WINDOW = 120.0
KV_HISTORY = 5
STAGING_TTL = 3600.0


@dataclass(frozen=True, slots=True)
class BucketLimits:
    """A ceiling on a bucket that clients' requests grow: at most ``max_msgs`` entries
    (revisions included) of at most ``max_msg_size`` bytes, so at most their product on disk.

    Not ``max_bytes``: JetStream *reserves* a stream's ``max_bytes`` out of the server's storage
    up front, so ceilings worth having would refuse to provision on a small volume; entries are
    counted instead, and nothing is reserved. A full bucket refuses new writes (discard new);
    what it holds keeps working.
    """

    max_msgs: int
    max_msg_size: int

    @property
    def max_bytes(self) -> int:
        """The byte ceiling these limits imply."""
        return self.max_msgs * self.max_msg_size


BUCKET_LIMITS: dict[str, BucketLimits] = {
    IDENTITY_BUCKET: BucketLimits(200_000, 4096),  # users, channels, members, tokens: 800 MiB
    SESSIONS_BUCKET: BucketLimits(500_000, 1024),  # 500 MiB
    CURSORS_BUCKET: BucketLimits(1_000_000, 512),  # 100 per user: 10,000 users' worth
    INGRESS_BUCKET: BucketLimits(1_000_000, 256),  # a day of ingress keys
    YOUTUBE_INDEX_BUCKET: BucketLimits(1_000_000, 256),
    STAGING_BUCKET: BucketLimits(4096, 256 * 1024),  # 128 KiB chunks of large submits: 1 GiB
}
"""The backstop under the per-user quotas: no client can fill JetStream's disk and take the
events, jobs and records down with it."""
"""A staged submit the API service never took (it crashed) is gone after an hour."""
SESSIONS_TTL = 15 * 86400.0
"""Sessions last 14 days (``services.identity.accounts.SESSION_DAYS``); the bucket forgets one a
day later, whether or not anyone logged out."""


@dataclass(frozen=True)
class ProvisionStep:
    """What provisioning did to one resource."""

    kind: str
    name: str
    action: Action
    changed: tuple[str, ...] = ()

    def __str__(self) -> str:
        extra = f" ({', '.join(self.changed)})" if self.changed else ""
        return f"{self.kind} {self.name}: {self.action}{extra}"


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    """How the streams, buckets and the workers' consumer are configured.

    Attributes:
        replicas: Replicas of every stream and bucket (1 on a laptop, 3 on the cluster).
        events_max_age: Retention of ``CULTO_EVENTS`` in seconds (0 = unlimited).
        job_ack_wait: Seconds a worker may hold a job without a progress ping.
        job_max_deliver: Deliveries of one job before it fails for good.
    """

    replicas: int = 1
    events_max_age: float = 30 * 86400.0
    job_ack_wait: float = 30.0
    job_max_deliver: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= 5:
            raise ConfigError(f"CULTO_STREAM_REPLICAS: must be 1 to 5, got {self.replicas}")
        if self.events_max_age < 0:
            raise ConfigError("EVENTS_MAX_AGE: must not be negative")
        if self.job_ack_wait <= 0:
            raise ConfigError("CULTO_JOB_ACK_WAIT: must be positive")
        if self.job_max_deliver < 1:
            raise ConfigError("CULTO_JOB_MAX_DELIVER: must be at least 1")


def events_stream_config(policy: StreamPolicy) -> api.StreamConfig:
    """``CULTO_EVENTS``: every event, file storage, limits retention, dedup window."""
    return api.StreamConfig(
        name=EVENTS_STREAM,
        subjects=[EVENTS_ALL],
        retention=api.RetentionPolicy.LIMITS,
        storage=api.StorageType.FILE,
        discard=api.DiscardPolicy.OLD,
        max_age=policy.events_max_age,
        duplicate_window=DUPLICATE_WINDOW,
        num_replicas=policy.replicas,
        allow_direct=True,
        description="Per-video pipeline events (culto.events.<video_id>.<type>)",
    )


def jobs_stream_config(policy: StreamPolicy) -> api.StreamConfig:
    """``CULTO_JOBS``: work queue, one message per queued processing job."""
    return api.StreamConfig(
        name=JOBS_STREAM,
        subjects=[JOBS_ALL],
        retention=api.RetentionPolicy.WORK_QUEUE,
        storage=api.StorageType.FILE,
        discard=api.DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW,
        num_replicas=policy.replicas,
        description="Processing jobs (culto.jobs.process.<video_id>)",
    )


def workers_consumer_config(policy: StreamPolicy) -> api.ConsumerConfig:
    """The durable pull consumer all workers share."""
    return api.ConsumerConfig(
        durable_name=WORKERS_CONSUMER,
        name=WORKERS_CONSUMER,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=policy.job_ack_wait,
        max_deliver=policy.job_max_deliver,
        deliver_policy=api.DeliverPolicy.ALL,
        filter_subject=JOBS_ALL,
        max_ack_pending=1000,
        num_replicas=0,
    )


_STREAM_FIELDS = (
    "subjects",
    "retention",
    "storage",
    "discard",
    "max_age",
    "duplicate_window",
    "num_replicas",
    "allow_direct",
)


def _drift(actual: Any, desired: Any, fields: tuple[str, ...]) -> tuple[str, ...]:
    changed = []
    for name in fields:
        want = getattr(desired, name)
        have = getattr(actual, name)
        if want is None:
            continue
        if isinstance(want, float) or isinstance(have, float):
            if abs(float(want or 0) - float(have or 0)) > 1e-6:
                changed.append(name)
        elif want != have:
            changed.append(name)
    return tuple(changed)


async def _ensure_stream(jsm: JetStreamManager, desired: api.StreamConfig) -> ProvisionStep:
    name = desired.name or ""
    try:
        info = await jsm.stream_info(name)
    except nats.js.errors.NotFoundError:
        await jsm.add_stream(desired)
        return ProvisionStep("stream", name, "created")
    changed = _drift(info.config, desired, _STREAM_FIELDS)
    if not changed:
        return ProvisionStep("stream", name, "unchanged")
    merged = info.config.evolve(**{f: getattr(desired, f) for f in changed})
    await jsm.update_stream(merged)
    return ProvisionStep("stream", name, "updated", changed)


async def _ensure_bucket_stream(
    jsm: JetStreamManager,
    stream: str,
    *,
    replicas: int,
    history: int | None,
    max_age: float | None = None,
    limits: BucketLimits | None = None,
) -> tuple[str, ...]:
    info = await jsm.stream_info(stream)
    updates: dict[str, Any] = {}
    if limits is not None:
        if info.config.max_msgs != limits.max_msgs:
            updates["max_msgs"] = limits.max_msgs
        if info.config.max_msg_size != limits.max_msg_size:
            updates["max_msg_size"] = limits.max_msg_size
    if info.config.num_replicas != replicas:
        updates["num_replicas"] = replicas
    if max_age is not None and info.config.max_age != max_age:
        updates["max_age"] = max_age
    if history is not None and info.config.max_msgs_per_subject != history:
        updates["max_msgs_per_subject"] = history
    if updates:
        await jsm.update_stream(info.config.evolve(**updates))
    return tuple(updates)


async def _ensure_kv(
    mesh: MeshConnection, bucket: str, policy: StreamPolicy, *, ttl: float | None = None
) -> ProvisionStep:
    try:
        await mesh.js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        await mesh.js.create_key_value(
            api.KeyValueConfig(
                bucket=bucket,
                history=KV_HISTORY,
                storage=api.StorageType.FILE,
                replicas=policy.replicas,
                ttl=ttl,
            )
        )
        created = True
    else:
        created = False
    # The limits on entries are not part of the bucket's own config: set on its stream.
    changed = await _ensure_bucket_stream(
        mesh.jsm,
        f"KV_{bucket}",
        replicas=policy.replicas,
        history=KV_HISTORY,
        max_age=ttl,
        limits=BUCKET_LIMITS.get(bucket),
    )
    if created:
        return ProvisionStep("kv", bucket, "created")
    return ProvisionStep("kv", bucket, "updated" if changed else "unchanged", changed)


async def _ensure_object_store(
    mesh: MeshConnection, bucket: str, policy: StreamPolicy, *, ttl: float | None = None
) -> ProvisionStep:
    try:
        await mesh.js.object_store(bucket)
    except nats.js.errors.BucketNotFoundError:
        await mesh.js.create_object_store(
            bucket,
            api.ObjectStoreConfig(
                storage=api.StorageType.FILE,
                replicas=policy.replicas,
                ttl=ttl,
            ),
        )
        created = True
    else:
        created = False
    changed = await _ensure_bucket_stream(
        mesh.jsm,
        f"OBJ_{bucket}",
        replicas=policy.replicas,
        history=None,
        max_age=ttl,
        limits=BUCKET_LIMITS.get(bucket),
    )
    if created:
        return ProvisionStep("object_store", bucket, "created")
    return ProvisionStep("object_store", bucket, "updated" if changed else "unchanged", changed)


async def _ensure_consumer(jsm: JetStreamManager, policy: StreamPolicy) -> ProvisionStep:
    desired = workers_consumer_config(policy)
    try:
        info = await jsm.consumer_info(JOBS_STREAM, WORKERS_CONSUMER)
    except nats.js.errors.NotFoundError:
        await jsm.add_consumer(JOBS_STREAM, desired)
        return ProvisionStep("consumer", WORKERS_CONSUMER, "created")
    changed = _drift(info.config, desired, ("ack_wait", "max_deliver", "filter_subject"))
    if changed:
        await jsm.add_consumer(JOBS_STREAM, desired)  # create-or-update by name
    return ProvisionStep(
        "consumer", WORKERS_CONSUMER, "updated" if changed else "unchanged", changed
    )


async def provision(mesh: MeshConnection, policy: StreamPolicy) -> list[ProvisionStep]:
    """Create or update every stream, bucket and consumer; return what was done.

    Raises:
        MeshError: when JetStream refuses (e.g. a storage type cannot change in place).
    """
    steps: list[ProvisionStep] = []
    with nats_errors("provisioning JetStream"):
        steps.append(await _ensure_stream(mesh.jsm, events_stream_config(policy)))
        steps.append(await _ensure_stream(mesh.jsm, jobs_stream_config(policy)))
        steps.append(await _ensure_consumer(mesh.jsm, policy))
        steps.append(await _ensure_kv(mesh, VIDEOS_BUCKET, policy))
        steps.append(await _ensure_kv(mesh, YOUTUBE_INDEX_BUCKET, policy))
        steps.append(await _ensure_kv(mesh, IDENTITY_BUCKET, policy))
        steps.append(await _ensure_kv(mesh, SESSIONS_BUCKET, policy, ttl=SESSIONS_TTL))
        steps.append(await _ensure_kv(mesh, CURSORS_BUCKET, policy, ttl=CURSOR_TTL))
        steps.append(await _ensure_kv(mesh, INGRESS_BUCKET, policy, ttl=INGRESS_TTL))
        steps.append(await _ensure_object_store(mesh, ARTIFACTS_BUCKET, policy))
        steps.append(await _ensure_object_store(mesh, STAGING_BUCKET, policy, ttl=STAGING_TTL))
    for step in steps:
        log.info("provision: %s", step)
    return steps


async def streams_present(mesh: MeshConnection) -> bool:
    """Readiness: both streams and the video bucket exist and (when clustered) have a leader.

    During a JetStream quorum loss the stream still "exists", but nothing can be written or
    read until a leader is elected: a replica that says ready then would take traffic it can
    only fail.
    """
    try:
        with nats_errors("checking streams"):
            for name in (EVENTS_STREAM, JOBS_STREAM, f"KV_{VIDEOS_BUCKET}"):
                info = await mesh.jsm.stream_info(name)
                if info.cluster is not None and not info.cluster.leader:
                    return False
    except Exception:
        return False
    return True
