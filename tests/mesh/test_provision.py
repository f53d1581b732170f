"""Provisioning against a real server: idempotent, and configuration drift is repaired."""

from __future__ import annotations

from typing import Any

from nats.js import api

from mesh.cursors import CURSOR_TTL
from mesh.provision import BUCKET_LIMITS, provision, streams_present
from mesh.subjects import (
    CURSORS_BUCKET,
    EVENTS_STREAM,
    JOBS_STREAM,
    STAGING_BUCKET,
    WORKERS_CONSUMER,
)


async def test_provision_is_idempotent(isolated_mesh: Any) -> None:
    env = await isolated_mesh()  # the fixture provisions once already
    steps = await provision(env.mesh, env.settings.stream_policy())
    assert {s.action for s in steps} == {"unchanged"}
    assert {(s.kind, s.name) for s in steps} == {
        ("stream", "CULTO_EVENTS"),
        ("stream", "CULTO_JOBS"),
        ("consumer", "culto-workers"),
        ("kv", "culto_videos"),
        ("kv", "culto_youtube_index"),
        ("kv", "culto_identity"),
        ("kv", "culto_sessions"),
        ("kv", "culto_cursors"),
        ("kv", "culto_ingress"),
        ("object_store", "culto_artifacts"),
        ("object_store", "culto_staging"),
    }
    assert await streams_present(env.mesh)
    events = await env.mesh.jsm.stream_info(EVENTS_STREAM)
    assert events.config.storage == api.StorageType.FILE
    assert events.config.retention == api.RetentionPolicy.LIMITS
    assert events.config.duplicate_window == 120
    jobs = await env.mesh.jsm.stream_info(JOBS_STREAM)
    assert jobs.config.retention == api.RetentionPolicy.WORK_QUEUE
    cursors = await env.mesh.jsm.stream_info(f"KV_{CURSORS_BUCKET}")
    assert cursors.config.max_age == CURSOR_TTL  # idle cursors expire (30 days)


async def test_provision_repairs_drift(isolated_mesh: Any) -> None:
    env = await isolated_mesh()
    info = await env.mesh.jsm.stream_info(EVENTS_STREAM)
    await env.mesh.jsm.update_stream(info.config.evolve(max_age=60.0, duplicate_window=5.0))
    kv = await env.mesh.jsm.stream_info("KV_culto_videos")
    await env.mesh.jsm.update_stream(kv.config.evolve(max_msgs_per_subject=1))

    steps = {(s.kind, s.name): s for s in await provision(env.mesh, env.settings.stream_policy())}
    assert steps[("stream", EVENTS_STREAM)].action == "updated"
    assert set(steps[("stream", EVENTS_STREAM)].changed) == {"max_age", "duplicate_window"}
    assert steps[("kv", "culto_videos")].action == "updated"
    repaired = await env.mesh.jsm.stream_info(EVENTS_STREAM)
    assert repaired.config.max_age == env.settings.events_max_age
    assert repaired.config.duplicate_window == 120

    longer = env.settings.model_copy(update={"job_ack_wait": 45.0})
    steps = {(s.kind, s.name): s for s in await provision(env.mesh, longer.stream_policy())}
    assert steps[("consumer", WORKERS_CONSUMER)].changed == ("ack_wait",)
    consumer = await env.mesh.jsm.consumer_info(JOBS_STREAM, WORKERS_CONSUMER)
    assert consumer.config.ack_wait == 45.0


async def test_missing_streams_are_reported(isolated_mesh: Any) -> None:
    env = await isolated_mesh()
    await env.mesh.jsm.delete_stream(JOBS_STREAM)
    assert not await streams_present(env.mesh)
    steps = {
        (s.kind, s.name): s.action for s in await provision(env.mesh, env.settings.stream_policy())
    }
    assert steps[("stream", JOBS_STREAM)] == "created"
    assert await streams_present(env.mesh)


async def test_buckets_clients_grow_have_a_ceiling_that_reserves_nothing(
    isolated_mesh: Any,
) -> None:
    mesh = (await isolated_mesh()).mesh
    for bucket, limits in BUCKET_LIMITS.items():
        prefix = "OBJ" if bucket == STAGING_BUCKET else "KV"
        config = (await mesh.jsm.stream_info(f"{prefix}_{bucket}")).config
        assert (config.max_msgs, config.max_msg_size) == (limits.max_msgs, limits.max_msg_size)
        assert config.max_bytes in (None, -1)  # a max_bytes would be reserved up front
        assert config.discard == "new"  # full: refuse the new, keep the old
