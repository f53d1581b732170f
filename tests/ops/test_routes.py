"""``/health``, ``/ready`` and ``/metrics`` on the frontend and on the ops-only server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from culto_app.settings import Settings
from mesh import EventPublisher, MeshConnection
from mesh.provision import provision
from ops.server import RunningServer, serve_ops
from schemas import VideoStatusEventDTO, new_video_id
from schemas.identity import DEFAULT_CHANNEL_ID
from tests.conftest import NatsProcess, make_settings
from tests.frontend_server.sse_client import SSEClient, known_token
from tests.support import Http, Member, body_json

HUB_METRICS = (
    "culto_sse_connected_clients",
    "culto_sse_events_sent_total",
    "culto_sse_events_dispatched_total",
    "culto_sse_replays_total",
    "culto_sse_stream_resets_total",
    "culto_sse_catch_up_rounds_total",
    "culto_sse_slow_client_drops_total",
    "culto_sse_nats_reconnects_total",
    "culto_nats_reconnects_total",
    "culto_nats_connected",
    "culto_http_requests_total",
    "culto_http_request_duration_seconds_bucket",
)


async def _eventually(check: Callable[[], object], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def _metric(text: str, prefix: str) -> float | None:
    """The value of the first sample line starting with ``prefix``."""
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_health(http: Http) -> None:
    response = await http.request("GET", "/health")
    assert response.code == 200
    assert body_json(response) == {"status": "ok"}


async def test_ready_when_connected_and_provisioned(http: Http) -> None:
    response = await http.request("GET", "/ready")
    assert response.code == 200, response.body
    assert body_json(response) == {
        "status": "ready",
        "checks": {
            "nats_connected": True,
            "streams_present": True,
            "storage_ok": True,
            "live_feed": True,  # the frontend's own: its live event feed is subscribed
        },
    }


async def test_metrics_text(
    http: Http, edge: RunningServer, mesh: MeshConnection, admin: Member
) -> None:
    await http.request("GET", "/health")
    await http.request("GET", "/api/v2/videos/3f2b8c1e-5d4a-4c7b-9e1f-0a2b3c4d5e6f")
    vid = new_video_id()
    await known_token(edge.app, admin)  # an admin may stream a video that has no record
    client = await SSEClient.open(edge.port, auth=admin.auth, query=[("video_id", vid)])
    try:
        assert client.status == 200
        seq = (
            await EventPublisher(mesh).publish(
                VideoStatusEventDTO(video_id=vid, status="PROCESSING", progress=5),
                channel_id=DEFAULT_CHANNEL_ID,
            )
        ).seq
        await client.until_seq(seq)
        response = await http.request("GET", "/metrics")
    finally:
        await client.close()
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = response.body.decode()
    for name in HUB_METRICS:
        assert name in text, name
    assert _metric(text, "culto_sse_connected_clients") == 1.0
    sent = _metric(text, 'culto_sse_events_sent_total{type="video.status"}')
    assert sent is not None and sent >= 1.0
    assert 'culto_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'route="/api/v2/videos/{video_id}",status="404"' in text
    assert _metric(text, "culto_nats_connected") == 1.0


async def test_registries_are_per_app(mesh: MeshConnection, edge_settings: Settings) -> None:
    async with (
        serve_ops(edge_settings.listen_config(), mesh) as one,
        serve_ops(edge_settings.listen_config(), mesh) as two,
    ):
        a, b = Http(one.url), Http(two.url)
        try:
            for _ in range(3):
                await a.request("GET", "/health")
            text_a = (await a.request("GET", "/metrics")).body.decode()
            text_b = (await b.request("GET", "/metrics")).body.decode()
        finally:
            a.close()
            b.close()
    health = 'culto_http_requests_total{method="GET",route="/health",status="200"}'
    assert _metric(text_a, health) == 3.0
    assert _metric(text_b, health) is None


@dataclass(frozen=True)
class WorkerStats:
    jobs_done: int
    busy: bool
    failures_by_code: dict[str, int]


async def test_ops_server_for_other_roles(mesh: MeshConnection, edge_settings: Settings) -> None:
    def stats() -> WorkerStats:
        return WorkerStats(7, True, {"timeout": 2})

    async with serve_ops(edge_settings.listen_config(), mesh, {"worker": stats}) as ops:
        client = Http(ops.url)
        try:
            assert (await client.request("GET", "/health")).code == 200
            assert (await client.request("GET", "/ready")).code == 200
            text = (await client.request("GET", "/metrics")).body.decode()
            # Only the operations routes exist there.
            assert (await client.request("GET", "/api/v2/videos/")).code == 404
        finally:
            client.close()
    assert _metric(text, "culto_worker_jobs_done") == 7.0
    assert _metric(text, "culto_worker_busy") == 1.0
    assert _metric(text, 'culto_worker_failures_by_code{key="timeout"}') == 2.0
    assert "culto_sse_" not in text


async def test_ready_false_when_nats_down_then_back(
    nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> None:
    server = nats_factory()
    port = int(server.url.rsplit(":", 1)[1])
    settings = make_settings(server.url, tmp_path, port=0)
    mesh = MeshConnection(server.url, name="culto-test-ops")
    await mesh.open()
    try:
        await provision(mesh, settings.stream_policy())
        async with serve_ops(settings.listen_config(), mesh) as ops:
            client = Http(ops.url)
            try:
                assert (await client.request("GET", "/ready")).code == 200
                server.kill()

                async def not_ready() -> bool:
                    return (await client.request("GET", "/ready")).code == 503

                await _eventually(not_ready)
                response = await client.request("GET", "/ready")
                assert body_json(response)["checks"]["nats_connected"] is False
                assert response.headers["Retry-After"]
                # Liveness does not depend on NATS.
                assert (await client.request("GET", "/health")).code == 200
                metrics = (await client.request("GET", "/metrics")).body.decode()
                assert _metric(metrics, "culto_nats_connected") == 0.0

                nats_factory(port=port, store_dir=server.store_dir)

                async def ready() -> bool:
                    return (await client.request("GET", "/ready")).code == 200

                await _eventually(ready, 20)
            finally:
                client.close()
    finally:
        await mesh.close()


async def test_ready_false_without_streams(
    nats_factory: Callable[..., NatsProcess], tmp_path: Path
) -> None:
    server = nats_factory()
    settings = make_settings(server.url, tmp_path, port=0)
    mesh = MeshConnection(server.url, name="culto-test-ops")
    await mesh.open()
    try:
        async with serve_ops(settings.listen_config(), mesh) as ops:
            client = Http(ops.url)
            try:
                response = await client.request("GET", "/ready")
            finally:
                client.close()
    finally:
        await mesh.close()
    assert response.code == 503
    assert body_json(response)["checks"] == {
        "nats_connected": True,
        "streams_present": False,
        "storage_ok": True,
    }


async def test_made_up_methods_share_one_metrics_label(http: Http) -> None:
    # Every distinct label value is a new time series: a client must not be able to mint them.
    made_up = [f"BREW{i}" for i in range(20)]
    for method in made_up:
        response = await http.request(method, "/api/v2/videos/")
        assert response.code in (400, 405), (method, response.code)
    text = (await http.request("GET", "/metrics")).body.decode()
    assert not any(m in text for m in made_up)
    other = [
        line
        for line in text.splitlines()
        if line.startswith("culto_http_requests_total{") and 'method="other"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in other) == len(made_up)
    assert 'culto_http_request_duration_seconds_count{method="other"' in text
