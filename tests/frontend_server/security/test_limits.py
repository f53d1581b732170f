"""Per-client abuse limits (issue 11, finding 4): REST token buckets with 429 and RateLimit
headers, a cap on open event streams; unit tests with a fake clock, then real servers."""

from __future__ import annotations

import pytest

from culto.buckets import MAX_KEYS
from culto.errors import ConfigError
from frontend_server.security.limits import ClientLimits, RateLimitConfig, rate_headers
from mesh.connection import MeshConnection
from tests.frontend_server.sse_client import SSEClient
from tests.support import Http, StartEdge, assert_json_error, eventually


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_refuses_until_it_refills() -> None:
    clock = Clock()
    limits = ClientLimits(RateLimitConfig(requests_per_minute=60, burst=3), clock=clock)
    assert [limits.take("a").allowed for _ in range(4)] == [True, True, True, False]
    refused = limits.take("a")
    assert (refused.remaining, refused.retry_after, refused.reset) == (0, 1, 3)
    assert limits.take("b").allowed  # another client has its own bucket
    clock.now += 1.0  # one request per second comes back
    assert limits.take("a").allowed and not limits.take("a").allowed


def test_headers_follow_the_ietf_draft() -> None:
    config = RateLimitConfig(requests_per_minute=60, burst=3)
    limits = ClientLimits(config, clock=Clock())
    assert rate_headers(limits.take("a"), config) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "1",
        "RateLimit-Policy": "3;w=3",
    }
    for _ in range(3):
        refused = limits.take("a")
    assert rate_headers(refused, config)["Retry-After"] == "1"


def test_stream_caps_count_per_client() -> None:
    limits = ClientLimits(RateLimitConfig(streams_per_client=2))
    assert limits.open_stream("a") and limits.open_stream("a")
    assert not limits.open_stream("a") and limits.open_stream("b")
    limits.close_stream("a")
    assert limits.open_stream("a")


def test_memory_stays_bounded_by_forgetting_full_buckets() -> None:
    clock = Clock()
    limits = ClientLimits(RateLimitConfig(requests_per_minute=60, burst=2), clock=clock)
    for i in range(MAX_KEYS):
        limits.take(f"c{i}")
    clock.now += 10  # every bucket is full again
    limits.take("newcomer")
    assert len(limits._buckets) == 1  # private: no public count of remembered clients


@pytest.mark.parametrize(
    "config", [{"burst": 0}, {"requests_per_minute": 0}, {"streams_per_client": 0}]
)
def test_limits_refuse_nonsense(config: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        RateLimitConfig(**config)


@pytest.mark.usefixtures("api_service")
async def test_rest_over_the_rate_is_a_429_with_retry_after(start_edge: StartEdge) -> None:
    server = await start_edge(rate_limit_per_minute=60, rate_limit_burst=3)
    client = Http(server.url)
    try:
        for remaining in ("2", "1", "0"):
            ok = await client.request("GET", "/api/v2/videos/")
            assert ok.code != 429 and ok.headers["RateLimit-Remaining"] == remaining
        refused = await client.request("GET", "/api/v2/videos/")
        assert_json_error(refused, 429, "rate_limited")
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["RateLimit-Limit"] == "3"
    finally:
        client.close()


async def test_open_streams_are_capped_per_client(
    start_edge: StartEdge, mesh: MeshConnection
) -> None:
    server = await start_edge(max_streams_per_client=2)
    streams = [await SSEClient.open(server.port) for _ in range(2)]
    refused = await SSEClient.open(server.port)
    assert refused.status == 429 and refused.error()["error"]["code"] == "too_many_streams"
    await streams[0].close()

    async def reopened() -> bool:
        stream = await SSEClient.open(server.port)
        if stream.status == 200:
            streams.append(stream)
        return stream.status == 200

    await eventually(reopened, what="a stream slot freed by a closed stream")
    for stream in streams:
        await stream.close()
