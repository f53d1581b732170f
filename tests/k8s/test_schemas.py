"""2. Every rendered object against the Kubernetes 1.30+ OpenAPI schemas (strict); the KEDA
ScaledObject and cert-manager CRDs, which kubernetes-validate has no schema for, against
k8s/schemas/."""

from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pytest
from k8s_support import K8S, OVERLAYS, Obj
from kubernetes_validate.utils import latest_version

# Oldest Kubernetes we support, and the newest whose schemas the installed package ships.
K8S_VERSIONS = ("1.30.0", latest_version())
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): K8S / "schemas" / "scaledobject.json",
    ("cert-manager.io/v1", "Certificate"): K8S / "schemas" / "certificate.json",
    ("cert-manager.io/v1", "Issuer"): K8S / "schemas" / "issuer.json",
}


def _crd_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(CRD_SCHEMAS[(api_version, kind)].read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_strictly(
    rendered: dict[str, list[Obj]], overlay: str, version: str
) -> None:
    errors = []
    for obj in rendered[overlay]:
        key = (obj["apiVersion"], obj["kind"])
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if key in CRD_SCHEMAS:
            for error in _crd_validator(*key).iter_errors(obj):
                errors.append(f"{name}: {error.json_path}: {error.message}")
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            errors.append(f"{name}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(
                f"{name}: no Kubernetes {version} schema and no CRD schema in k8s/schemas"
            )
    assert not errors, "\n".join(errors)


def test_prod_has_the_keda_scaledobject(rendered: dict[str, list[Obj]]) -> None:
    kinds = {(o["apiVersion"], o["kind"]) for o in rendered["prod"]}
    assert ("keda.sh/v1alpha1", "ScaledObject") in kinds


@pytest.mark.parametrize(
    "mutate",
    [
        lambda so: so["spec"]["triggers"][0]["metadata"].update(lagThreshold=5),
        lambda so: so["spec"]["triggers"][0]["metadata"].pop("stream"),
        lambda so: so["spec"]["triggers"][0]["metadata"].update(lagTreshold="5"),
        lambda so: so["spec"].update(minReplicas=1),
        lambda so: so["spec"]["scaleTargetRef"].pop("name"),
        lambda so: so["spec"].update(triggers=[]),
    ],
    ids=["int-threshold", "no-stream", "typo", "unknown-field", "no-target", "no-trigger"],
)
def test_scaledobject_schema_rejects_mistakes(rendered: dict[str, list[Obj]], mutate) -> None:
    (original,) = [o for o in rendered["prod"] if o["kind"] == "ScaledObject"]
    broken = copy.deepcopy(original)
    mutate(broken)
    validator = _crd_validator("keda.sh/v1alpha1", "ScaledObject")
    assert not list(validator.iter_errors(original))
    assert list(validator.iter_errors(broken))


def test_strict_validation_catches_unknown_fields() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [{"name": "x", "image": "x:1", "imagePullPolicyy": "Always"}]
                },
            },
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.30.0", strict=True)
