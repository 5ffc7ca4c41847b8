"""The committed CRDs are exactly what the models generate."""

from __future__ import annotations

from pathlib import Path

import yaml

from hwcloud_access import crds
from hwcloud_access.api import ALL_KINDS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "crds"


def test_committed_crds_match_models() -> None:
    for kind in ALL_KINDS:
        committed = (DEPLOY / crds.crd_filename(kind)).read_text()
        assert committed == crds.render_yaml(kind), (
            f"deploy/crds/{crds.crd_filename(kind)} is stale: run `make crds`")
    assert sorted(p.name for p in DEPLOY.glob("*.yaml")) == sorted(
        crds.crd_filename(k) for k in ALL_KINDS)


def test_schema_is_structural() -> None:
    def walk(node: dict, path: str) -> None:
        assert "$ref" not in node and "anyOf" not in node and "title" not in node, path
        if node.get("type") == "object" or "properties" in node:
            for name, sub in node.get("properties", {}).items():
                walk(sub, f"{path}.{name}")
        if "items" in node:
            walk(node["items"], f"{path}[]")
        if path.count(".") >= 1 and path != ".metadata" and not path.endswith(("apiVersion",
                                                                               "kind")):
            assert "type" in node, f"{path} has no type"

    for doc in yaml.safe_load_all(crds.render_all()):
        walk(doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"], "")


def test_every_spec_field_has_a_description() -> None:
    for kind in ALL_KINDS:
        schema = crds.model_schema(kind.spec_model)

        def walk(node: dict, path: str) -> None:
            for name, sub in node.get("properties", {}).items():
                assert sub.get("description"), f"{path}.{name} has no description"
                walk(sub, f"{path}.{name}")
                walk(sub.get("items", {}), f"{path}.{name}[]")

        walk(schema, f"{kind.kind}.spec")


def test_cli_prints_all_crds(capsys) -> None:
    from hwcloud_access.cli import main

    assert main(["crds"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["spec"]["names"]["kind"] for d in docs] == [k.kind for k in ALL_KINDS]


def test_a_crd_shows_only_the_status_its_kind_gets() -> None:
    """A HuaweiCloudAccount is no cloud object: no status.id, no pendingChange, no column
    for them; the managed kinds have all three."""
    for doc in yaml.safe_load_all(crds.render_all()):
        version = doc["spec"]["versions"][0]
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        managed = doc["spec"]["names"]["kind"] != "HuaweiCloudAccount"
        assert ("id" in status, "pendingChange" in status, "Cloud-ID" in columns) == \
            (managed, managed, managed), doc["spec"]["names"]["kind"]
        assert {"conditions", "observedGeneration", "lastHandledReconcileAt"} <= set(status)
