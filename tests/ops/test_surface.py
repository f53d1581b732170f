"""The ops surface: secrets never reach the access log, and ``/metrics`` is served only where
it should be (an ops port, or a scraper's token) in production."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from ops.handlers import MetricsAccess
from ops.http import redacted_uri
from ops.server import RunningServer
from tests.support import Http, StartEdge, assert_json_error

TOKEN = "scrape-me-please-0123456789"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/api/v2/csrf?_xsrf=abc&x=1", "/api/v2/csrf?_xsrf=REDACTED&x=1"),
        ("/login?once=s3cr3t", "/login?once=REDACTED"),
        ("/a?q=culto_t_0123456789abcdef_xyz", "/a?q=REDACTED"),
        ("/a?%5Fxsrf=abc", "/a?%5Fxsrf=REDACTED"),
        ("/api/v2/videos/?status=QUEUED", "/api/v2/videos/?status=QUEUED"),
        ("/plain", "/plain"),
    ],
)
def test_sensitive_query_values_are_redacted(uri: str, expected: str) -> None:
    assert redacted_uri(uri) == expected


def test_metrics_access_rules() -> None:
    assert MetricsAccess().allows(None)
    closed = MetricsAccess(open=False)
    assert not closed.allows(None) and not closed.allows(f"Bearer {TOKEN}")
    tokened = MetricsAccess(open=False, token=TOKEN)
    assert tokened.allows(f"Bearer {TOKEN}") and not tokened.allows("Bearer wrong")


@pytest.mark.timeout(60)
async def test_an_xsrf_token_in_the_query_never_reaches_the_access_log(
    anonymous: Http, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tornado.access"):
        await anonymous.request("GET", "/api/v2/csrf?_xsrf=leaked-value-123")
    lines = [r.getMessage() for r in caplog.records if r.name == "tornado.access"]
    assert any("/api/v2/csrf?_xsrf=REDACTED" in line for line in lines)
    assert not any("leaked-value-123" in line for line in lines)


@pytest.mark.timeout(60)
async def test_production_metrics_need_the_ops_port_or_the_token(
    start_edge: StartEdge, edge: RunningServer
) -> None:
    prod = await start_edge(environment="prod", metrics_token=None, ops_port=0)
    tokened = await start_edge(environment="prod", metrics_token=SecretStr(TOKEN))
    assert prod.ops is not None
    public, ops, scraper = Http(prod.url), Http(prod.ops.url), Http(tokened.url)
    try:
        assert_json_error(await public.request("GET", "/metrics"), 404)
        assert (await public.request("GET", "/health")).code == 200
        scraped = await ops.request("GET", "/metrics")
        assert scraped.code == 200 and b"culto_http_requests_total" in scraped.body
        assert_json_error(await scraper.request("GET", "/metrics"), 404)
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert (await scraper.request("GET", "/metrics", headers=bearer)).code == 200
    finally:
        for client in (public, ops, scraper):
            client.close()
