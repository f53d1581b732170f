"""Fixtures of the k8s validation suite (run by ``tox -e k8s``; it needs no app install).

Every overlay is rendered once per session by :mod:`kustomize` (our own renderer) and also
written out as one YAML file per overlay for the CLI tools (checkov).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kustomize
from k8s_support import K8S, OVERLAYS, Obj


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Obj]]:
    """overlay name -> every object `kubectl apply -k k8s/overlays/<name>` would send."""
    return {overlay: kustomize.render(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def rendered_dir(rendered: dict[str, list[Obj]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The renders as files: <dir>/<overlay>/manifests.yaml."""
    root = tmp_path_factory.mktemp("rendered")
    for overlay, objects in rendered.items():
        (root / overlay).mkdir()
        (root / overlay / "manifests.yaml").write_text(kustomize.to_yaml(objects), encoding="utf-8")
    return root
