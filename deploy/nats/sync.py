"""Copy the nats.conf of k8s/base/nats/configmap.yaml to deploy/nats/nats.conf (compose.yaml's).

The two must stay byte for byte the same (tests/k8s/test_deployments.py); after changing the
ConfigMap (e.g. regenerating its users with ``python -m mesh.permissions 4``), run
``python deploy/nats/sync.py``. Needs PyYAML.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    source = REPO / "k8s" / "base" / "nats" / "configmap.yaml"
    (config_map,) = [d for d in yaml.safe_load_all(source.read_text(encoding="utf-8")) if d]
    target = REPO / "deploy" / "nats" / "nats.conf"
    target.write_text(config_map["data"]["nats.conf"], encoding="utf-8")
    print(f"wrote {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
