"""6. What the schema validators and linters cannot see, the ingress: SSE-friendly proxying,
public paths only, hosts the frontend accepts."""

from __future__ import annotations

import pytest
from k8s_support import (
    OVERLAYS,
    Obj,
    config_data,
    one,
    seconds,
)


def test_ingress_sse_settings(rendered: dict[str, list[Obj]]) -> None:
    for overlay in OVERLAYS:
        objects = rendered[overlay]
        heartbeat = seconds(config_data(objects)["SSE_HEARTBEAT_INTERVAL"])
        ingress = one(objects, "Ingress", "culto-frontend")
        notes = ingress["metadata"]["annotations"]
        prefix = "nginx.ingress.kubernetes.io/"
        assert notes[prefix + "proxy-buffering"] == "off"
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            assert int(notes[prefix + timeout]) >= 10 * heartbeat
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = one(objects, "Service", backend["name"])
                assert svc["spec"]["selector"]["app.kubernetes.io/component"] == "frontend"


PUBLIC_PATHS = {
    ("/", "Exact"),
    ("/login", "Exact"),
    ("/c/", "Prefix"),
    ("/api/v2/", "Prefix"),
    ("/docs", "Prefix"),
    ("/static/", "Prefix"),
    ("/favicon.svg", "Exact"),
    ("/favicon.ico", "Exact"),
}
INTERNAL_PATHS = ("/health", "/ready", "/metrics")


def _routes(path: str, rule_path: str, path_type: str) -> bool:
    """Whether an Ingress path rule matches ``path`` (Kubernetes' Exact/Prefix semantics)."""
    if path_type == "Exact":
        return path == rule_path
    prefix = rule_path.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes_only_public_paths(rendered: dict[str, list[Obj]], overlay: str) -> None:
    # /metrics, /health and /ready are for the cluster (Prometheus, kubelet), not the Internet.
    ingress = one(rendered[overlay], "Ingress", "culto-frontend")
    for rule in ingress["spec"]["rules"]:
        paths = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
        assert paths == PUBLIC_PATHS, paths
        for internal in INTERNAL_PATHS:
            assert not any(_routes(internal, *p) for p in paths), internal
        public_paths = ("/", "/c/default", "/api/v2/videos/", "/api/v2/events/stream", "/docs")
        for public in (*public_paths, "/static/app.js"):
            assert any(_routes(public, *p) for p in paths), public


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_frontend_answers_to_its_ingress_hosts(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    config = config_data(rendered[overlay])
    allowed = {h.strip().lower() for h in config["CULTO_ALLOWED_HOSTS"].split(",")}
    ingress = one(rendered[overlay], "Ingress", "culto-frontend")
    hosts = {rule["host"].lower() for rule in ingress["spec"]["rules"]}
    assert hosts <= allowed, f"CULTO_ALLOWED_HOSTS lacks {hosts - allowed}"
    # Forwarded headers are believed from the ingress controller only (set, never empty).
    assert config["TRUSTED_PROXIES"].strip()
