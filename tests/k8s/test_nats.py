"""6. What the schema validators and linters cannot see, the NATS cluster (k8s/base/nats):
replicas, server settings, a user per role over TLS and its certificate."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from k8s_support import (
    NAMESPACES,
    OVERLAYS,
    Obj,
    conf_value,
    config_data,
    containers,
    nats_conf,
    one,
    pod_templates,
    quantity,
    seconds,
)


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
    conf = nats_conf(objects)
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
    assert "cluster {" not in nats_conf(objects), "a lone node must not wait for routes"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_nats_server_settings(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    sts = one(objects, "StatefulSet", "nats")
    pod = sts["spec"]["template"]["spec"]
    (nats,) = pod["containers"]
    conf = nats_conf(objects)

    # JetStream on the PVC, file store smaller than the volume.
    mounts = {m["name"]: m["mountPath"] for m in nats["volumeMounts"]}
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert conf_value(conf, "store_dir") == mounts[claim["metadata"]["name"]]
    volume = quantity(claim["spec"]["resources"]["requests"]["storage"])
    assert quantity(conf_value(conf, "max_file_store")) < volume
    assert re.search(r"^\s*http_port:\s*8222", conf, re.MULTILINE)
    assert conf_value(conf, "server_name") == "$SERVER_NAME"
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
    pid_file = conf_value(conf, "pid_file")
    assert command[0] == "nats-server" and f"ldm={pid_file}" in " ".join(command)
    assert any(pid_file.startswith(m + "/") for m in mounts.values()), "pid file not writable"
    lame_duck = seconds(conf_value(conf, "lame_duck_duration")) + seconds(
        conf_value(conf, "lame_duck_grace_period")
    )
    assert seconds(conf_value(conf, "lame_duck_duration")) >= 30  # nats-server's minimum
    assert pod["terminationGracePeriodSeconds"] > lame_duck


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
    conf = nats_conf(objects)
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
