"""6. What the schema validators and linters cannot see, hardening: container security,
pinned images, network policies, where the cookie secret goes."""

from __future__ import annotations

import re

import pytest
from k8s_support import (
    OVERLAYS,
    Obj,
    containers,
    find,
    pod_templates,
)


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
