"""Renders the CustomResourceDefinitions from the pydantic models in api/.

Pydantic's JSON Schema is turned into a Kubernetes structural schema: references are
inlined, `X | None` becomes an optional X, titles and null defaults are dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .api import ALL_KINDS, GROUP, VERSION, KindDef
from .api.base import CATEGORY, STATUS_BEFORE_FIRST_PASS

_KEEP = {
    "type", "description", "properties", "items", "required", "enum", "default",
    "pattern", "minLength", "maxLength", "minimum", "maximum", "minItems", "maxItems",
    "additionalProperties",  # a map (e.g. matchLabels): the type of its values
}


def _structural(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[1]]
        return _structural({**target, **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {node}")
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return _structural({**options[0], **rest}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _KEEP:
            if key == "default" and value is None or \
                    key == "additionalProperties" and not isinstance(value, dict):
                continue  # unknown fields are pruned by the API server anyway
            if key == "properties":
                value = {name: _structural(sub, defs) for name, sub in value.items()}
            elif key in ("items", "additionalProperties"):
                value = _structural(value, defs)
            out[key] = value
        elif key.startswith("x-kubernetes-"):
            out[key] = value
    if out.get("default") == {}:
        out.pop("default")  # an empty object default adds nothing but noise
    return out


def model_schema(model: type) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return _structural(schema, schema.get("$defs", {}))


def _ready_column(name: str, field: str) -> dict[str, str]:
    path = f'.status.conditions[?(@.type=="Ready")].{field}'
    return {"name": name, "type": "string", "jsonPath": path}


def render_crd(kind: KindDef) -> dict[str, Any]:
    spec_schema = {"description": f"Desired state of the {kind.kind}.",
                   **model_schema(kind.spec_model)}
    status_schema = {"description": f"State of the {kind.kind} observed by the operator.",
                     **model_schema(kind.status_model), "default": STATUS_BEFORE_FIRST_PASS}
    cloud_id = [{"name": "Cloud-ID", "type": "string", "jsonPath": ".status.id"}] \
        if "id" in kind.status_model.model_fields else []  # not on a HuaweiCloudAccount
    columns = [
        _ready_column("Ready", "status"),
        _ready_column("Reason", "reason"),
        *cloud_id,
        *kind.extra_columns,
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                            **({"x-kubernetes-validations": list(kind.object_rules)}
                               if kind.object_rules else {}),
                        }
                    },
                }
            ],
        },
    }


def crd_filename(kind: KindDef) -> str:
    return f"{GROUP}_{kind.plural}.yaml"


def render_yaml(kind: KindDef) -> str:
    return yaml.safe_dump(render_crd(kind), sort_keys=False, width=100)


def render_all() -> str:
    """Every CRD as one multi-document YAML stream."""
    return "---\n".join(render_yaml(kind) for kind in ALL_KINDS)


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in ALL_KINDS:
        path = directory / crd_filename(kind)
        path.write_text(render_yaml(kind))
        paths.append(path)
    return paths
