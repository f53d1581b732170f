"""A small kustomize renderer: exactly the features k8s/ uses, nothing more.

kubectl is not on a fresh machine, so the tests render the overlays themselves. Supported
kustomization fields (anything else raises :class:`Unsupported`, so a new feature in k8s/
fails loudly here instead of being silently ignored):

- ``resources``: YAML files (multi-document) and directories holding a kustomization.yaml;
- ``namespace``: set on every namespaced object;
- ``labels``: ``pairs`` added to ``metadata.labels`` only (``includeSelectors`` and
  ``includeTemplates`` must be absent or false);
- ``images``: ``name`` with ``newName`` / ``newTag`` / ``digest``;
- ``patches``: strategic-merge patches given by ``path``, matched on apiVersion group, kind
  and name;
- ``configMapGenerator`` / ``secretGenerator``: ``literals`` only, with ``behavior``
  create / merge / replace and ``type`` for Secrets; generated names get kustomize's content
  hash suffix and every reference to them in pod specs is renamed.

Where a kustomize binary (``kubectl kustomize`` or ``kustomize build``) exists, the tests
compare this renderer's output with it object by object.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUPPORTED_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "images",
        "patches",
        "configMapGenerator",
        "secretGenerator",
    }
)
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
# Strategic-merge keys of the lists our patches touch (from the Kubernetes OpenAPI
# x-kubernetes-patch-merge-key). Every other list is replaced as a whole, as kustomize does.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
}
GENERATED = "__generated__"  # internal marker: (kind, original name); removed before output


class Unsupported(Exception):
    """The kustomization uses a feature this renderer does not implement."""


def render(directory: str | Path) -> list[Obj]:
    """Render the kustomization in ``directory`` like ``kubectl kustomize`` would."""
    objects = _build(Path(directory).resolve())
    _apply_hash_suffixes(objects)
    for obj in objects:
        obj.pop(GENERATED, None)
    return objects


def to_yaml(objects: list[Obj]) -> str:
    """Multi-document YAML of ``objects``."""
    return yaml.safe_dump_all(objects, sort_keys=True, default_flow_style=False)


def object_key(obj: Obj) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): what identifies an object in a render."""
    meta = obj.get("metadata", {})
    return (obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"])


# ---------------------------------------------------------------- building


def _kustomization_file(directory: Path) -> Path:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(f"no kustomization.yaml in {directory}")


def _build(directory: Path) -> list[Obj]:
    kfile = _kustomization_file(directory)
    k = yaml.safe_load(kfile.read_text(encoding="utf-8")) or {}
    unknown = set(k) - SUPPORTED_FIELDS
    if unknown:
        raise Unsupported(f"{kfile}: unsupported kustomization fields {sorted(unknown)}")
    if k.get("kind", "Kustomization") != "Kustomization":
        raise Unsupported(f"{kfile}: kind {k.get('kind')!r} is not Kustomization")

    objects: list[Obj] = []
    for entry in k.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            objects.extend(_build(path))
        elif path.is_file():
            objects.extend(_load_documents(path))
        else:
            raise FileNotFoundError(f"{kfile}: resource {entry!r} not found")
    _check_unique(objects, kfile)

    for spec in k.get("configMapGenerator", []):
        _generate(objects, spec, "ConfigMap", kfile)
    for spec in k.get("secretGenerator", []):
        _generate(objects, spec, "Secret", kfile)

    for patch_spec in k.get("patches", []):
        _apply_patch_file(objects, directory, patch_spec, kfile)

    if "namespace" in k:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED_KINDS:
                obj.setdefault("metadata", {})["namespace"] = k["namespace"]

    for label_spec in k.get("labels", []):
        extra = set(label_spec) - {"pairs", "includeSelectors", "includeTemplates"}
        if extra or label_spec.get("includeSelectors") or label_spec.get("includeTemplates"):
            raise Unsupported(f"{kfile}: labels support only `pairs` (metadata.labels)")
        for obj in objects:
            labels = obj.setdefault("metadata", {}).setdefault("labels", {})
            labels.update({str(a): str(b) for a, b in label_spec["pairs"].items()})

    for image in k.get("images", []):
        extra = set(image) - {"name", "newName", "newTag", "digest"}
        if extra:
            raise Unsupported(f"{kfile}: images fields {sorted(extra)}")
        for obj in objects:
            _retag_images(obj, image)
    return objects


def _load_documents(path: Path) -> list[Obj]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    for d in docs:
        if not isinstance(d, dict) or not {"apiVersion", "kind", "metadata"} <= set(d):
            raise ValueError(f"{path}: every document needs apiVersion, kind and metadata")
    return docs


def _check_unique(objects: list[Obj], kfile: Path) -> None:
    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if key in seen:
            raise ValueError(f"{kfile}: duplicate resource {key}")
        seen.add(key)


# ---------------------------------------------------------------- generators


def _literals(spec: Obj, kfile: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    for literal in spec.get("literals", []):
        key, sep, value = str(literal).partition("=")
        if not sep or not key:
            raise ValueError(f"{kfile}: literal {literal!r} is not KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        data[key] = value
    return data


def _generate(objects: list[Obj], spec: Obj, kind: str, kfile: Path) -> None:
    allowed = {"name", "literals", "behavior"} | ({"type"} if kind == "Secret" else set())
    extra = set(spec) - allowed
    if extra:
        raise Unsupported(f"{kfile}: {kind} generator fields {sorted(extra)}")
    name = spec["name"]
    data = _literals(spec, kfile)
    if kind == "Secret":
        data = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    behavior = spec.get("behavior", "create")
    existing = [o for o in objects if o.get(GENERATED) == (kind, name)]
    if behavior == "create":
        if existing:
            raise ValueError(f"{kfile}: {kind} {name} already generated; use behavior: merge")
        obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}
        if kind == "Secret":
            obj["type"] = spec.get("type", "Opaque")
        obj["data"] = data
        obj[GENERATED] = (kind, name)
        objects.append(obj)
    elif behavior in ("merge", "replace"):
        if len(existing) != 1:
            raise ValueError(f"{kfile}: {behavior} of {kind} {name}: no generated base object")
        target = existing[0]
        if behavior == "merge":
            target.setdefault("data", {}).update(data)
        else:
            target["data"] = data
    else:
        raise Unsupported(f"{kfile}: generator behavior {behavior!r}")


def _encode_hash(hex_digest: str) -> str:
    """kustomize's hash encoding: the first 10 hex digits with 0,1,3,a,e remapped (so the
    suffix never looks like a number or spells a word)."""
    table = {"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"}
    return "".join(table.get(c, c) for c in hex_digest[:10])


def _go_json(value: Any) -> str:
    """JSON as Go's encoding/json writes it (sorted keys, no spaces, HTML-safe escapes)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def content_hash(obj: Obj) -> str:
    """The name suffix kustomize derives from a generated ConfigMap's or Secret's content.

    kustomize v5 (kyaml) hashes ``{"data", "kind", "name", "type"}`` as Go's json.Marshal
    writes it; its encoder reads ``name`` from the wrong node level, so the name is always
    empty there. Checked against kustomize v5.5 (kubectl 1.32) output.
    """
    encoded: Obj = {"kind": obj["kind"], "name": "", "data": obj.get("data", {})}
    if obj["kind"] == "Secret":
        encoded["type"] = obj.get("type", "Opaque")
    digest = hashlib.sha256(_go_json(encoded).encode()).hexdigest()
    return _encode_hash(digest)


def _apply_hash_suffixes(objects: list[Obj]) -> None:
    renames: dict[tuple[str, str, str], str] = {}
    for obj in objects:
        if GENERATED in obj:
            kind, name = obj[GENERATED]
            new_name = f"{name}-{content_hash(obj)}"
            renames[(kind, obj["metadata"].get("namespace", ""), name)] = new_name
            obj["metadata"]["name"] = new_name
    if not renames:
        return
    for obj in objects:
        namespace = obj.get("metadata", {}).get("namespace", "")
        _rename_references(obj, namespace, renames)


def _rename_references(node: Any, namespace: str, renames: dict[tuple[str, str, str], str]) -> None:
    """Rename ConfigMap/Secret references inside pod specs (env, envFrom, volumes)."""
    if isinstance(node, list):
        for item in node:
            _rename_references(item, namespace, renames)
        return
    if not isinstance(node, dict):
        return
    refs = (
        ("configMapRef", "ConfigMap", "name"),
        ("configMapKeyRef", "ConfigMap", "name"),
        ("secretRef", "Secret", "name"),
        ("secretKeyRef", "Secret", "name"),
    )
    for field, kind, key in refs:
        ref = node.get(field)
        if isinstance(ref, dict) and (kind, namespace, ref.get(key)) in renames:
            ref[key] = renames[(kind, namespace, ref[key])]
    if "name" in node and isinstance(node.get("configMap"), dict):  # a pod volume
        ref = node["configMap"]
        if ("ConfigMap", namespace, ref.get("name")) in renames:
            ref["name"] = renames[("ConfigMap", namespace, ref["name"])]
    if "name" in node and isinstance(node.get("secret"), dict):
        ref = node["secret"]
        if ("Secret", namespace, ref.get("secretName")) in renames:
            ref["secretName"] = renames[("Secret", namespace, ref["secretName"])]
    for value in node.values():
        _rename_references(value, namespace, renames)


# ---------------------------------------------------------------- patches


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def _apply_patch_file(objects: list[Obj], directory: Path, spec: Obj, kfile: Path) -> None:
    if set(spec) != {"path"}:
        raise Unsupported(f"{kfile}: only `patches: - path: FILE` is supported, got {spec}")
    for patch in _load_documents(directory / spec["path"]):
        targets = [
            o
            for o in objects
            if o["kind"] == patch["kind"]
            and _group(o["apiVersion"]) == _group(patch["apiVersion"])
            and (o[GENERATED][1] if GENERATED in o else o["metadata"]["name"])
            == patch["metadata"]["name"]
        ]
        if len(targets) != 1:
            raise ValueError(
                f"{kfile}: patch {spec['path']} ({patch['kind']} {patch['metadata']['name']}) "
                f"matches {len(targets)} objects"
            )
        body = {k: v for k, v in patch.items() if k not in ("apiVersion", "kind")}
        body["metadata"] = {k: v for k, v in patch["metadata"].items() if k != "name"}
        if not body["metadata"]:
            del body["metadata"]
        strategic_merge(targets[0], body)


def strategic_merge(dest: Obj, patch: Obj) -> Obj:
    """Merge ``patch`` into ``dest`` in place (maps recursively, keyed lists by merge key,
    other lists replaced, ``null`` deletes)."""
    for key, value in patch.items():
        if isinstance(key, str) and key.startswith("$"):
            raise Unsupported(f"strategic merge directive {key!r}")
        if value is None:
            dest.pop(key, None)
        elif isinstance(value, dict) and isinstance(dest.get(key), dict):
            strategic_merge(dest[key], value)
        elif isinstance(value, list) and isinstance(dest.get(key), list):
            merge_key = _list_merge_key(key, value + dest[key])
            if merge_key is None:
                dest[key] = copy.deepcopy(value)
            else:
                dest[key] = _merge_keyed_list(dest[key], value, merge_key)
        else:
            dest[key] = copy.deepcopy(value)
    return dest


def _list_merge_key(field: str, items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    if field == "ports":  # container ports merge on containerPort, Service ports on port
        if all("containerPort" in i for i in items):
            return "containerPort"
        if all("port" in i for i in items):
            return "port"
        return None
    key = MERGE_KEYS.get(field)
    if key is not None and all(key in i for i in items):
        return key
    return None


def _merge_keyed_list(dest: list[Obj], patch: list[Obj], key: str) -> list[Obj]:
    """Items named in the patch first (merged, in patch order), then the untouched rest, in
    their original order: the order kustomize (kyaml) produces."""
    by_key = {item[key]: item for item in dest}
    merged: list[Obj] = []
    for item in patch:
        base = by_key.get(item[key])
        merged.append(strategic_merge(copy.deepcopy(base), item) if base else copy.deepcopy(item))
    patched = {item[key] for item in patch}
    return merged + [copy.deepcopy(i) for i in dest if i[key] not in patched]


# ---------------------------------------------------------------- images


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``registry/name:tag@digest`` -> (name, tag, digest)."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest


def _retag_images(node: Any, spec: Obj) -> None:
    if isinstance(node, list):
        for item in node:
            _retag_images(item, spec)
        return
    if not isinstance(node, dict):
        return
    for field in ("containers", "initContainers"):
        for container in node.get(field) or []:
            if isinstance(container, dict) and isinstance(container.get("image"), str):
                name, tag, digest = split_image(container["image"])
                if name != spec["name"]:
                    continue
                name = spec.get("newName", name)
                if "newTag" in spec:
                    tag, digest = str(spec["newTag"]), None
                if "digest" in spec:
                    digest = spec["digest"]
                image = name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
                container["image"] = image
    for value in node.values():
        _retag_images(value, spec)
