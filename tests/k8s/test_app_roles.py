"""6. What the schema validators and linters cannot see, the app roles (k8s/base/app and the
prod overlay's autoscalers and backup): probes, grace periods, scaling, the provision job."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from k8s_support import (
    NAMESPACES,
    OVERLAYS,
    Obj,
    config_data,
    containers,
    find,
    nats_conf,
    one,
    pod_templates,
    seconds,
)

LONG_RUNNING_ROLES = ("frontend", "api", "worker")


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
    assert "client_advertise" in nats_conf(objects), "KEDA finds consumer leaders by it"


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
