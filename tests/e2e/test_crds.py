"""The generated CRDs on the real API server: they install, examples apply, bad input is refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.support.testbed import ROOT, Testbed

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
VPN_SERVER = "6f1c1e2a-8d0b-4c59-9b0e-3c2a7f5d9a01"
MQ_INSTANCE = "11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"


def kubernetes_manifests(path: Path) -> list[dict]:
    """The Kubernetes objects in a file (examples/emulator.yaml is an emulator config)."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return [d for d in docs if "apiVersion" in d and "kind" in d]


def test_crds_are_established(crds: Testbed) -> None:
    names = crds.kubectl("get", "crd", "-o", "name").stdout.split()
    for plural in ("vpnusergroups", "vpnusers", "mqusers", "huaweicloudaccounts"):
        assert f"customresourcedefinition.apiextensions.k8s.io/{plural}.access.hwcloud.dev" in names


def test_category_and_short_names(crds: Testbed, namespace: str) -> None:
    assert crds.kubectl("get", "hwcloud", "-n", namespace).returncode == 0
    for short in ("vug", "vu", "mqu", "hwa"):
        crds.kubectl("get", short, "-n", namespace)


def test_kubectl_explain_shows_field_descriptions(crds: Testbed) -> None:
    out = crds.kubectl("explain", "mqusers.spec.accessKey").stdout
    assert "starts with a letter" in out


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_applies(crds: Testbed, namespace: str, path: Path) -> None:
    manifests = kubernetes_manifests(path)
    if not manifests:
        pytest.skip(f"{path.name} holds no Kubernetes object")
    for manifest in manifests:
        crds.apply(manifest, namespace=None if manifest["kind"] == "HuaweiCloudAccount"
                   else manifest["metadata"].get("namespace", namespace))
    first = manifests[-1]
    ns = None if first["kind"] == "HuaweiCloudAccount" else namespace
    stored = crds.get(first["kind"], first["metadata"]["name"], ns)
    assert stored is not None
    if first["kind"] != "HuaweiCloudAccount":
        assert stored["spec"]["deletionPolicy"] == "Delete"  # defaults live in the schema


def mq_user(metadata_name: str = "mq", **spec) -> dict:
    return {
        "apiVersion": "access.hwcloud.dev/v1alpha1", "kind": "MqUser",
        "metadata": {"name": metadata_name},
        "spec": {"instanceId": MQ_INSTANCE, "accessKey": "service_a", **spec},
    }


def vpn_user(metadata_name: str = "vu", **spec) -> dict:
    return {
        "apiVersion": "access.hwcloud.dev/v1alpha1", "kind": "VpnUser",
        "metadata": {"name": metadata_name},
        "spec": {"vpnServerId": VPN_SERVER, **spec},
    }


INVALID = {
    "bad access key": (mq_user(accessKey="9starts-with-digit"), "spec.accessKey"),
    "short access key": (mq_user(accessKey="abc"), "spec.accessKey"),
    "unknown topic perm": (
        mq_user(topicPerms=[{"name": "orders", "perm": "WRITE"}]), "spec.topicPerms[0].perm"),
    "unknown default group perm": (mq_user(defaultGroupPerm="PUB"), "spec.defaultGroupPerm"),
    "unknown group perm": (
        mq_user(groupPerms=[{"name": "g1", "perm": "WRITE"}]), "spec.groupPerms[0].perm"),
    "missing instanceId": (
        {**mq_user(), "spec": {"accessKey": "service_a"}}, "spec.instanceId"),
    "vpn user name too short": (vpn_user(name="abc"), "spec.name"),
    "vpn user name bad char": (vpn_user(name="alice chen"), "spec.name"),
    "bad static ip": (vpn_user(staticIp="300.1.1.1"), "spec.staticIp"),
    "groupRef and groupId": (
        vpn_user(groupRef={"name": "g"}, groupId="abc"), "groupRef and groupId"),
    "unknown deletion policy": (vpn_user(deletionPolicy="Keep"), "spec.deletionPolicy"),
    "long description": (vpn_user(description="x" * 65), "spec.description"),
}


@pytest.mark.parametrize("manifest,field", INVALID.values(), ids=INVALID.keys())
def test_invalid_resource_is_refused(crds: Testbed, namespace: str, manifest: dict,
                                     field: str) -> None:
    result = crds.apply(manifest, namespace=namespace, check=False)
    assert result.returncode != 0
    assert field in result.stderr, result.stderr


IMMUTABLE = {
    "vpnServerId": (vpn_user("imm1", name="immutable1"), {"vpnServerId": "other-server"}),
    "name": (vpn_user("imm2", name="immutable2"), {"name": "renamed2"}),
    "instanceId": (mq_user("imm3"), {"instanceId": "other-instance"}),
    "accessKey": (mq_user("imm4"), {"accessKey": "service_b"}),
}


@pytest.mark.parametrize("manifest,change", IMMUTABLE.values(), ids=IMMUTABLE.keys())
def test_immutable_field_cannot_change(crds: Testbed, namespace: str, manifest: dict,
                                       change: dict) -> None:
    crds.apply(manifest, namespace=namespace)
    changed = {**manifest, "spec": {**manifest["spec"], **change}}
    result = crds.apply(changed, namespace=namespace, check=False)
    assert result.returncode != 0
    field = next(iter(change))
    assert f"{field} is immutable" in result.stderr, result.stderr


CREATE_SENT = {"action": "create", "since": "2026-01-01T00:00:00Z", "clientToken": "t"}


def change_with_status(crds: Testbed, namespace: str, before: dict, status: dict,
                       after: dict) -> subprocess.CompletedProcess:
    """Applies `before`, gives it `status`, then applies `after`: the API server's answer."""
    crds.apply(before, namespace=namespace)
    if status:
        crds.kubectl("patch", "mquser", before["metadata"]["name"], "-n", namespace,
                     "--subresource=status", "--type=merge", "-p",
                     json.dumps({"status": status}))
    return crds.apply(after, namespace=namespace, check=False)


@pytest.mark.parametrize("status,fixed", [
    ({}, False),
    ({"pendingChange": {**CREATE_SENT, "action": "update"}}, False),
    ({"pendingChange": CREATE_SENT}, True),  # the create's answer may be lost: it is its own
    ({"id": "abc"}, True),
], ids=["nothing made", "update pending", "create pending", "cloud id"])
def test_account_ref_is_fixed_once_a_cloud_object_is_made_or_being_made(
        crds: Testbed, namespace: str, status: dict, fixed: bool) -> None:
    result = change_with_status(crds, namespace, mq_user("acct", accountRef={"name": "first"}),
                                status, mq_user("acct", accountRef={"name": "second"}))
    assert (result.returncode != 0) == fixed, result.stderr
    assert ("accountRef is immutable" in result.stderr) == fixed, result.stderr


@pytest.mark.parametrize("status,refused", [
    ({}, False),
    ({"pendingChange": {**CREATE_SENT, "action": "update"}}, False),
    ({"pendingChange": CREATE_SENT}, True),
    ({"id": "abc"}, False),  # made and known: Observe lets it be, as the user says
], ids=["nothing made", "update pending", "create pending", "cloud id"])
def test_observe_waits_for_a_pending_create(crds: Testbed, namespace: str, status: dict,
                                            refused: bool) -> None:
    result = change_with_status(crds, namespace, mq_user("obs"), status,
                                mq_user("obs", managementPolicy="Observe"))
    assert (result.returncode != 0) == refused, result.stderr
    assert ("cannot become Observe while a create is pending" in result.stderr) == refused, \
        result.stderr


def test_group_name_cannot_be_set_later(crds: Testbed, namespace: str) -> None:
    group = {"apiVersion": "access.hwcloud.dev/v1alpha1", "kind": "VpnUserGroup",
             "metadata": {"name": "late"}, "spec": {"vpnServerId": VPN_SERVER}}
    crds.apply(group, namespace=namespace)
    group["spec"]["name"] = "late-name"
    result = crds.apply(group, namespace=namespace, check=False)
    assert "name is immutable" in result.stderr
