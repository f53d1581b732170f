"""1. Rendering: our kustomize renderer, checked against kubectl/kustomize where present."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import kustomize
import pytest
import yaml
from k8s_support import K8S, NAMESPACES, OVERLAYS, Obj


def _reference_renderer() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


@pytest.mark.parametrize("target", ["base", *(f"overlays/{o}" for o in OVERLAYS)])
def test_matches_kubectl_kustomize(target: str) -> None:
    command = _reference_renderer()
    if command is None:
        pytest.skip(
            "neither kubectl nor kustomize is on PATH (as on a fresh machine): the overlays "
            "are rendered by tests/k8s/kustomize.py only"
        )
    result = subprocess.run(
        [*command, str(K8S / target)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    theirs = {kustomize.object_key(o): o for o in yaml.safe_load_all(result.stdout) if o}
    ours = {kustomize.object_key(o): o for o in kustomize.render(K8S / target)}
    assert sorted(ours) == sorted(theirs)
    for key, obj in ours.items():
        assert obj == theirs[key], f"{key} differs from `{' '.join(command)}`"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_namespaced_objects(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    namespace = NAMESPACES[overlay]
    kinds = {o["kind"] for o in objects}
    assert {"Namespace", "StatefulSet", "Deployment", "Job", "Service", "Ingress"} <= kinds
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == [namespace]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == namespace, kustomize.object_key(obj)
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "cultotranscript"
        assert labels.get("app.kubernetes.io/instance") == f"culto-{overlay}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_generated_names_are_hashed_and_referenced(
    rendered: dict[str, list[Obj]], overlay: str
) -> None:
    objects = rendered[overlay]
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    hashed = [n for n in names if re.fullmatch(r"culto-config-[a-z0-9]{10}", n)]
    assert len(hashed) == 1
    text = kustomize.to_yaml(objects)
    assert "name: culto-config\n" not in text, "a reference to culto-config was not renamed"
    assert hashed[0] in text


def test_render_is_deterministic() -> None:
    first = kustomize.to_yaml(kustomize.render(K8S / "overlays" / "prod"))
    second = kustomize.to_yaml(kustomize.render(K8S / "overlays" / "prod"))
    assert first == second


def test_content_hash_matches_kustomize() -> None:
    # Reference values produced by kustomize v5.5.0 (`kubectl kustomize`, kubectl 1.32).
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"A": "1"}}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "sec"},
        "type": "Opaque",
        "data": {"B": "Mg=="},
    }
    assert kustomize.content_hash(cm) == "89g4tffbfk"
    assert kustomize.content_hash(secret) == "ht9m5h8ht7"


def _write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: example/web:1.0
          env:
            - {name: A, value: "1"}
            - {name: B, value: "2"}
        - name: sidecar
          image: example/sidecar:2.0
"""


def test_strategic_merge_and_images(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "deploy.yaml": DEPLOYMENT,
            "patch.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n"
                "  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: web\n"
                "          env:\n            - {name: B, value: '20'}\n"
            ),
            "kustomization.yaml": (
                "resources: [deploy.yaml]\npatches:\n  - path: patch.yaml\nimages:\n"
                "  - {name: example/web, newTag: '1.1'}\n"
                "  - {name: example/sidecar, newName: registry.local/sidecar}\n"
            ),
        },
    )
    (deployment,) = kustomize.render(tmp_path)
    assert deployment["spec"]["replicas"] == 3
    web, sidecar = deployment["spec"]["template"]["spec"]["containers"]
    assert web["image"] == "example/web:1.1"
    assert sidecar["image"] == "registry.local/sidecar:2.0"
    assert web["env"] == [{"name": "B", "value": "20"}, {"name": "A", "value": "1"}]


@pytest.mark.parametrize(
    "field",
    [
        "commonLabels: {a: b}",
        "namePrefix: x-",
        "replicas: [{name: web, count: 2}]",
        "patches: [{target: {kind: Deployment}, patch: '[]'}]",
        "labels: [{pairs: {a: b}, includeSelectors: true}]",
    ],
)
def test_unsupported_features_fail_loudly(tmp_path: Path, field: str) -> None:
    _write(
        tmp_path,
        {"deploy.yaml": DEPLOYMENT, "kustomization.yaml": f"resources: [deploy.yaml]\n{field}\n"},
    )
    with pytest.raises(kustomize.Unsupported):
        kustomize.render(tmp_path)
