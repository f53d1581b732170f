"""6. What the schema validators and linters cannot see: the deployment's own rules."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from k8s_support import (
    NAMESPACES,
    OVERLAYS,
    REPO,
    Obj,
    config_data,
    containers,
    find,
    one,
    pod_templates,
    quantity,
    seconds,
)

LONG_RUNNING_ROLES = ("frontend", "api", "worker")


def _nats_conf(objects: list[Obj]) -> str:
    return one(objects, "ConfigMap", "nats-config")["data"]["nats.conf"]


def _conf_value(conf: str, key: str) -> str:
    match = re.search(rf"^\s*{key}\s*[:=]\s*(\S+)", conf, re.MULTILINE)
    assert match, f"{key} missing from nats.conf"
    return match.group(1).strip('"')


# ------------------------------------------------------------------ streams / NATS


@pytest.mark.parametrize(("overlay", "replicas"), [("prod", 3), ("dev", 1)])
def test_stream_replicas_per_overlay(
    rendered: dict[str, list[Obj]], overlay: str, replicas: int
) -> None:
    objects = rendered[overlay]
    assert config_data(objects)["CULTO_STREAM_REPLICAS"] == str(replicas)
    nats = one(objects, "StatefulSet", "nats")
    assert nats["spec"]["replicas"] == replicas, "stream replicas must equal the NATS nodes"


def test_prod_nats_cluster(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["prod"]
    sts = one(objects, "StatefulSet", "nats")
    assert sts["spec"]["replicas"] == 3
    headless = one(objects, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert {p["port"] for p in headless["spec"]["ports"]} >= {4222, 6222}
    conf = _nats_conf(objects)
    routes = re.findall(r"nats://([a-z0-9.-]+):6222", conf)
    assert routes == [f"nats-{i}.{headless['metadata']['name']}" for i in range(3)]
    pdb = one(objects, "PodDisruptionBudget", "nats")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    pod = sts["spec"]["template"]["spec"]
    anti = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "kubernetes.io/hostname"
    assert {c["topologyKey"] for c in pod["topologySpreadConstraints"]} >= {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }


def test_dev_nats_is_a_single_node(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    assert one(objects, "StatefulSet", "nats")["spec"]["replicas"] == 1
    assert "cluster {" not in _nats_conf(objects), "a lone node must not wait for routes"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_server_settings(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    sts = one(objects, "StatefulSet", "nats")
    pod = sts["spec"]["template"]["spec"]
    (nats,) = pod["containers"]
    conf = _nats_conf(objects)

    # JetStream on the PVC, file store smaller than the volume.
    mounts = {m["name"]: m["mountPath"] for m in nats["volumeMounts"]}
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert _conf_value(conf, "store_dir") == mounts[claim["metadata"]["name"]]
    volume = quantity(claim["spec"]["resources"]["requests"]["storage"])
    assert quantity(_conf_value(conf, "max_file_store")) < volume
    assert re.search(r"^\s*http_port:\s*8222", conf, re.MULTILINE)
    assert _conf_value(conf, "server_name") == "$SERVER_NAME"
    env = {e["name"]: e for e in nats["env"]}
    assert env["SERVER_NAME"]["value"] == "$(POD_NAME)"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"

    # Guaranteed QoS and a Go memory limit below the container limit.
    assert nats["resources"]["requests"] == nats["resources"]["limits"]
    limit = quantity(nats["resources"]["limits"]["memory"])
    assert quantity(env["GOMEMLIMIT"]["value"]) < limit

    # Probes on the monitoring port, JetStream-aware.
    ports = {p["name"]: p["containerPort"] for p in nats["ports"]}
    assert ports == {"client": 4222, "cluster": 6222, "monitor": 8222}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = nats[probe]["httpGet"]
        assert get["port"] in ("monitor", 8222)
        assert get["path"].startswith("/healthz")
    assert "js-enabled-only=true" in nats["livenessProbe"]["httpGet"]["path"]
    assert "js-server-only=true" in nats["readinessProbe"]["httpGet"]["path"]

    # Lame duck on preStop; the grace period outlasts it.
    command = nats["lifecycle"]["preStop"]["exec"]["command"]
    pid_file = _conf_value(conf, "pid_file")
    assert command[0] == "nats-server" and f"ldm={pid_file}" in " ".join(command)
    assert any(pid_file.startswith(m + "/") for m in mounts.values()), "pid file not writable"
    lame_duck = seconds(_conf_value(conf, "lame_duck_duration")) + seconds(
        _conf_value(conf, "lame_duck_grace_period")
    )
    assert seconds(_conf_value(conf, "lame_duck_duration")) >= 30  # nats-server's minimum
    assert pod["terminationGracePeriodSeconds"] > lame_duck


# ------------------------------------------------------------------ app roles


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_role_probes_and_ports(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    config = config_data(objects)
    assert config["CULTO_HOST"] == "0.0.0.0", "probes and Services need a non-loopback bind"
    for role in LONG_RUNNING_ROLES:
        deployment = one(objects, "Deployment", f"culto-{role}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"] == [role]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports.pop("http") == int(config["PORT"])
        # The frontend's ops port (/metrics for Prometheus, never routed by the Ingress).
        assert ports == ({"ops": int(config["CULTO_OPS_PORT"])} if role == "frontend" else {})
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        scraped = int(annotations["prometheus.io/port"])
        assert scraped == int(config["CULTO_OPS_PORT" if role == "frontend" else "PORT"])
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        rollout = deployment["spec"]["strategy"]["rollingUpdate"]
        assert rollout["maxUnavailable"] == 0
        pdb = one(objects, "PodDisruptionBudget", f"culto-{role}")
        assert (
            pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_grace_periods_outlast_prestop_pauses(rendered: dict[str, list[Obj]], overlay: str) -> None:
    settings = config_data(rendered[overlay])
    drain = seconds(settings["CULTO_DRAIN_TIMEOUT"])
    assert seconds(settings["CULTO_DRAIN_SPREAD"]) <= drain
    nats_drain = 10  # MeshConnection.close: NATS is drained for at most 10 s after the streams
    for workload, template in pod_templates(rendered[overlay]):
        grace = template["spec"].get("terminationGracePeriodSeconds", 30)
        for container in containers(template):
            command = (
                container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
            )
            if command and command[0].endswith("sleep"):
                pause = float(command[1])
                # the pause, then the SIGTERM drain and the NATS drain must fit
                assert grace > pause + drain + nats_drain, workload["metadata"]["name"]
    frontend = one(rendered[overlay], "Deployment", "culto-frontend")
    (container,) = frontend["spec"]["template"]["spec"]["containers"]
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "/bin/sleep"


def test_prod_frontend_scaling(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["prod"]
    frontend = one(objects, "Deployment", "culto-frontend")
    assert frontend["spec"]["replicas"] >= 2
    hpas = find(objects, "HorizontalPodAutoscaler")
    targets = {h["spec"]["scaleTargetRef"]["name"]: h for h in hpas}
    assert set(targets) == {"culto-frontend"}
    hpa = targets["culto-frontend"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["minReplicas"] >= 2
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_hpa_on_the_worker(rendered: dict[str, list[Obj]], overlay: str) -> None:
    for hpa in find(rendered[overlay], "HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"]["name"] != "culto-worker"


def test_prod_worker_scales_on_consumer_lag(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["prod"]
    (scaled,) = find(objects, "ScaledObject")
    target = scaled["spec"]["scaleTargetRef"]
    assert (target.get("kind", "Deployment"), target["name"]) == ("Deployment", "culto-worker")
    worker = one(objects, "Deployment", "culto-worker")
    assert "replicas" not in worker["spec"], "KEDA owns the worker replica count"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    meta = trigger["metadata"]
    assert (meta["stream"], meta["consumer"], meta["account"]) == (
        "CULTO_JOBS",
        "culto-workers",
        "$G",
    )
    assert int(meta["lagThreshold"]) >= 1
    host, port = meta["natsServerMonitoringEndpoint"].rsplit(":", 1)
    service, namespace = host.split(".")[:2]
    assert namespace == NAMESPACES["prod"] and host.endswith(".svc")
    svc = one(objects, "Service", service)
    assert int(port) in {p["port"] for p in svc["spec"]["ports"]}
    assert "client_advertise" in _nats_conf(objects), "KEDA finds consumer leaders by it"


def test_dev_has_no_autoscalers(rendered: dict[str, list[Obj]]) -> None:
    assert not find(rendered["dev"], "HorizontalPodAutoscaler")
    assert not find(rendered["dev"], "ScaledObject")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_url_points_at_the_client_service(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    url = urlsplit(config_data(rendered[overlay])["NATS_URL"])
    svc = one(rendered[overlay], "Service", url.hostname)
    assert url.port in {p["port"] for p in svc["spec"]["ports"]}
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": "nats"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_provision_job(rendered: dict[str, list[Obj]], overlay: str) -> None:
    job = one(rendered[overlay], "Job", "culto-provision")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["provision"]
    assert job["spec"]["backoffLimit"] >= 3
    assert 0 < job["spec"]["ttlSecondsAfterFinished"] <= 3600
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


def test_prod_backs_up_nightly_into_a_volume(rendered: dict[str, list[Obj]]) -> None:
    cron = one(rendered["prod"], "CronJob", "culto-backup")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    template = cron["spec"]["jobTemplate"]["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert container["args"][0] == "backup" and "%Y" in container["args"][1]
    assert "--keep" in container["args"]
    env = {e["name"]: e for e in container["env"]}
    assert env["NATS_USER"]["value"] == "provision"  # the user that may take snapshots
    assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "PROVISION_PASSWORD"
    claims = {
        v["persistentVolumeClaim"]["claimName"]
        for v in template["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    assert claims == {"culto-backups"}
    one(rendered["prod"], "PersistentVolumeClaim", "culto-backups")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert container["args"][1].startswith("/backups/") and "/backups" in mounts


# ------------------------------------------------------------------ hardening


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_hardened(rendered: dict[str, list[Obj]], overlay: str) -> None:
    problems = []
    for workload, template in pod_templates(rendered[overlay]):
        spec = template["spec"]
        pod_sc = spec.get("securityContext", {})
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: automountServiceAccountToken must be false")
        for c in containers(template):
            sc = c.get("securityContext", {})
            where = f"{name}/{c['name']}"
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(kind, {})):
                    problems.append(f"{where}: cpu and memory {kind} needed")
            if not sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")):
                problems.append(f"{where}: runAsNonRoot")
            if int(sc.get("runAsUser", pod_sc.get("runAsUser", 0))) == 0:
                problems.append(f"{where}: numeric non-root runAsUser")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation false")
            if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc["capabilities"].get("add"):
                problems.append(f"{where}: drop ALL capabilities, add none")
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile RuntimeDefault")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned(rendered: dict[str, list[Obj]], overlay: str) -> None:
    for _workload, template in pod_templates(rendered[overlay]):
        for c in containers(template):
            image = c["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2].split("@")[0]
            assert "@sha256:" in image or (tag and tag != "latest"), f"{image} is not pinned"
            if image.startswith("ghcr.io/cultotranscript/culto"):
                assert re.fullmatch(r"ghcr\.io/cultotranscript/culto:\d+\.\d+\.\d+.*", image)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies(rendered: dict[str, list[Obj]], overlay: str) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in find(rendered[overlay], "NetworkPolicy")}
    deny = policies["default-deny-ingress"]
    assert deny["podSelector"] == {} and deny["policyTypes"] == ["Ingress"]
    assert not deny.get("ingress")

    outside: dict[tuple[str, int], set[str]] = {}
    by_port: dict[tuple[str, int], list[dict]] = {}
    for spec in policies.values():
        target = spec["podSelector"].get("matchLabels", {})
        target_name = target.get("app.kubernetes.io/component") or target.get(
            "app.kubernetes.io/name", "other"
        )
        for rule in spec.get("ingress", []):
            for port in rule.get("ports", []):
                key = (target_name, port["port"])
                by_port.setdefault(key, []).extend(rule["from"])
                for peer in rule["from"]:
                    if "namespaceSelector" in peer or "ipBlock" in peer:
                        labels = peer.get("namespaceSelector", {}).get("matchLabels", {})
                        ns = labels.get("kubernetes.io/metadata.name", "ANY")
                        outside.setdefault(key, set()).add(ns)
    # From outside the namespace: the frontend via ingress-nginx, NATS monitoring for KEDA.
    assert outside == {("frontend", 8000): {"ingress-nginx"}, ("nats", 8222): {"keda"}}
    assert by_port[("nats", 4222)] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "culto"}}}
    ]
    assert by_port[("nats", 6222)] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nats"}}}
    ]


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


def test_cookie_secret_handling(rendered: dict[str, list[Obj]]) -> None:
    assert not find(rendered["prod"], "Secret"), "prod secrets are created out-of-band"
    names = sorted(s["metadata"]["name"].rsplit("-", 1)[0] for s in find(rendered["dev"], "Secret"))
    assert names == ["culto-secrets", "nats-users"]
    for overlay in OVERLAYS:
        for workload, template in pod_templates(rendered[overlay]):
            for c in containers(template):
                if not c["image"].startswith("ghcr.io/cultotranscript/culto"):
                    continue
                env = {e["name"]: e for e in c.get("env", [])}
                if workload["metadata"]["name"] != "culto-frontend":
                    # Only the frontend signs cookies: no other role gets the secret.
                    assert "COOKIE_SECRET" not in env, workload["metadata"]["name"]
                    continue
                ref = env["COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
                assert ref["key"] == "COOKIE_SECRET"
                assert ref["name"].startswith("culto-secrets")


# ------------------------------------------------------------------ NATS users and TLS

APP_ROLES = ("frontend", "api", "worker", "provision")
NATS_USERS = (*APP_ROLES, "tail", "admin")


def _tls_block(conf: str, indent: str) -> str:
    match = re.search(rf"^{indent}tls \{{\n(.*?)^{indent}\}}", conf, re.MULTILINE | re.DOTALL)
    assert match, f"no tls block indented {len(indent)}"
    return match.group(1)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_requires_a_user_per_role_over_tls(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    conf = _nats_conf(objects)
    users = re.findall(r'^\s*user: "([a-z]+)"\n\s*password: (\S+)$', conf, re.MULTILINE)
    assert [u for u, _ in users] == list(NATS_USERS), "one user per role"
    for user, password in users:
        assert password == f"${user.upper()}_PASSWORD", "passwords come from the Secret"
    assert "no_auth_user" not in conf, "every client must authenticate"
    client_tls = _tls_block(conf, "")
    for key, file in (("cert_file", "tls.crt"), ("key_file", "tls.key"), ("ca_file", "ca.crt")):
        assert f'{key}: "/etc/nats-tls/{file}"' in client_tls
    if overlay == "prod":  # routes: mutual TLS between the nodes
        route_tls = _tls_block(conf, "  ")
        assert "verify: true" in route_tls and 'ca_file: "/etc/nats-tls/ca.crt"' in route_tls
    sts = one(objects, "StatefulSet", "nats")
    (nats,) = containers(sts["spec"]["template"])
    assert any(
        ref.get("secretRef", {}).get("name", "").startswith("nats-users")
        for ref in nats.get("envFrom", [])
    )
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in nats["volumeMounts"]}
    assert volumes[mounts["/etc/nats-tls"]]["secret"]["secretName"] == "nats-tls"
    settings = config_data(objects)
    assert settings["NATS_URL"].startswith("tls://"), "clients refuse a plaintext server"
    ca_dir, ca_file = settings["NATS_CA_FILE"].rsplit("/", 1)
    seen = set()
    for workload, template in pod_templates(objects):
        for c in containers(template):
            if not c["image"].startswith("ghcr.io/cultotranscript/culto"):
                continue
            env = {e["name"]: e for e in c.get("env", [])}
            user = env["NATS_USER"]["value"]
            ref = env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert ref["name"].startswith("nats-users") and ref["key"] == f"{user.upper()}_PASSWORD"
            # Each role its own user; backups are JetStream administration: the provision user.
            backup = workload["metadata"]["name"] == "culto-backup" and user == "provision"
            assert workload["metadata"]["name"].endswith(user) or backup, "each role its own user"
            seen.add(user)
            pod_volumes = {v["name"]: v for v in template["spec"]["volumes"]}
            (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == ca_dir]
            secret = pod_volumes[mount["name"]]["secret"]
            # The CA certificate only: never the servers' private key.
            assert secret["secretName"] == "nats-tls"
            assert secret["items"] == [{"key": "ca.crt", "path": ca_file}]
    assert seen == set(APP_ROLES)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_certificate_from_cert_manager(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    ns = NAMESPACES[overlay]
    cert = one(objects, "Certificate", "nats-tls")
    spec = cert["spec"]
    assert spec["secretName"] == "nats-tls"
    assert {"server auth", "client auth"} <= set(spec["usages"]), "clients and routes"
    host = urlsplit(config_data(objects)["NATS_URL"]).hostname
    assert host in spec["dnsNames"]
    assert {f"*.nats-headless.{ns}.svc", "*.nats-headless"} <= set(spec["dnsNames"])
    issuer = one(objects, spec["issuerRef"]["kind"], spec["issuerRef"]["name"])
    ca = one(objects, "Certificate", issuer["spec"]["ca"]["secretName"])
    assert ca["spec"]["isCA"] is True


# ------------------------------------------------------------------ image


def _final_stage(dockerfile: str) -> str:
    return re.split(r"^FROM ", dockerfile, flags=re.MULTILINE)[-1]


def test_dockerfile_shape() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    # The base is an argument (CI passes a locally built one) whose default is pinned.
    base = re.search(r"^ARG BASE=(\S+)$", text, re.MULTILINE)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base.group(1)), "pin the base"
    froms = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(froms) >= 2, "multi-stage build"
    stages = set(re.findall(r"^FROM \S+ AS (\w+)", text, re.MULTILINE))
    for image in froms:
        assert image == "${BASE}" or image in stages, f"every stage from the pinned base: {image}"
    final = _final_stage(text)
    assert re.search(r"^USER \d+:\d+$", final, re.MULTILINE), "numeric non-root USER"
    assert not re.search(r"^USER (0|root)", final, re.MULTILINE)
    # The image checks itself as that user by starting every role, not only `culto --help`.
    assert final.index('RUN ["culto", "selfcheck"]') > final.index("USER 10001")
    assert 'ENTRYPOINT ["culto"]' in final
    assert "HEALTHCHECK" in final
    for build_tool in ("gcc", "build-essential", "apt-get install", "git "):
        assert build_tool not in final


def test_dockerignore() -> None:
    entries = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tox", ".culto", "tests", "**/__pycache__"} <= entries
    assert "README.md" not in entries and "pyproject.toml" not in entries


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
