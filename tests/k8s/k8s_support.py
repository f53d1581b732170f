"""Shared constants and helpers of the k8s validation tests."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("dev", "prod")
NAMESPACES = {"dev": "culto-dev", "prod": "culto"}

Obj = dict[str, Any]


def tool(name: str) -> str | None:
    """Path of a CLI tool: the one next to this interpreter (the tox env) first."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    return shutil.which(name)


def require_tool(name: str) -> str:
    path = tool(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run this suite with `tox -e k8s`")
    return path


def find(objects: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    return [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected exactly one {kind} {name}, found {len(found)}"
    return found[0]


def pod_templates(objects: list[Obj]) -> list[tuple[Obj, Obj]]:
    """(workload, pod template) for every Deployment, StatefulSet, DaemonSet, Job, CronJob."""
    out = []
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((o, o["spec"]["template"]))
        elif o["kind"] == "CronJob":
            out.append((o, o["spec"]["jobTemplate"]["spec"]["template"]))
    return out


def containers(template: Obj) -> list[Obj]:
    spec = template["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def config_data(objects: list[Obj]) -> dict[str, str]:
    """Data of the generated culto-config ConfigMap (its name carries a hash suffix)."""
    maps = [
        o
        for o in objects
        if o["kind"] == "ConfigMap"
        and re.fullmatch(r"culto-config-[a-z0-9]{10}", o["metadata"]["name"])
    ]
    assert len(maps) == 1, "expected one generated culto-config ConfigMap"
    return dict(maps[0]["data"])


def nats_conf(objects: list[Obj]) -> str:
    """The rendered ``nats.conf`` of the ``nats-config`` ConfigMap."""
    return one(objects, "ConfigMap", "nats-config")["data"]["nats.conf"]


def conf_value(conf: str, key: str) -> str:
    """The value of the top-level-looking ``key`` in ``nats.conf`` (quotes dropped)."""
    match = re.search(rf"^\s*{key}\s*[:=]\s*(\S+)", conf, re.MULTILINE)
    assert match, f"{key} missing from nats.conf"
    return match.group(1).strip('"')


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def seconds(value: str | int | float) -> float:
    """'30s' / '15m' / '30' -> seconds."""
    match = _DURATION.match(str(value).strip().strip('"'))
    assert match, f"not a duration: {value!r}"
    return float(match.group(1)) * _UNITS[match.group(2)]


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T|m)?$")
_FACTORS = {
    None: 1,
    "m": 0.001,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def quantity(value: str | int) -> float:
    """Kubernetes quantity ('2Gi', '500m', '1') -> number; also GOMEMLIMIT ('1800MiB')."""
    text = str(value).removesuffix("B")
    match = _QUANTITY.match(text)
    assert match, f"not a quantity: {value!r}"
    return float(match.group(1)) * _FACTORS[match.group(2)]
