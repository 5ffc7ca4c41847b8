"""The Helm chart: lint, what `helm template` renders for the main value sets, the schema.
No API server here; tests/packaging/test_rbac.py installs the chart and runs the operator
with its identity."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import pytest
import yaml
from kopf._cogs.structs import references
from tests.packaging.chart import (
    CHART,
    FULLNAME,
    NAMESPACE,
    RELEASE,
    ROOT,
    VALUE_SETS,
    helm,
    render,
    render_error,
    values_file,
)

from hwcloud_access.api import ALL_KINDS, GROUP
from hwcloud_access.cli import build_parser

PLURALS = tuple(sorted(kind.plural for kind in ALL_KINDS))
NAMESPACED = tuple(sorted(kind.plural for kind in ALL_KINDS if kind.namespaced))
CLUSTER_SCOPED = tuple(sorted(kind.plural for kind in ALL_KINDS if not kind.namespaced))


def grants(group: str, resources: tuple[str, ...] | list[str], verbs: tuple[str, ...]
           ) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for resource in resources for verb in verbs}


def status(plurals: tuple[str, ...]) -> list[str]:
    return [f"{plural}/status" for plural in plurals]


# Exactly what the operator calls (see the README's "Install with Helm" for each reason).
KINDS_RULES = grants(GROUP, NAMESPACED, ("get", "list", "watch", "patch")) \
    | grants(GROUP, status(NAMESPACED), ("patch",))
ACCOUNT_RULES = grants(GROUP, CLUSTER_SCOPED, ("get", "list", "watch", "patch")) \
    | grants(GROUP, status(CLUSTER_SCOPED), ("patch",))
SECRET_RULES = grants("", ["secrets"], ("get", "list", "watch", "create"))
EVENT_RULES = grants("", ["events"], ("create",))
CRD_RULES = grants("apiextensions.k8s.io", ["customresourcedefinitions"], ("list", "watch"))
NAMESPACE_RULES = grants("", ["namespaces"], ("list", "watch"))  # accounts' allowedNamespaces
CLUSTER_WIDE = KINDS_RULES | ACCOUNT_RULES | SECRET_RULES | EVENT_RULES | CRD_RULES \
    | NAMESPACE_RULES


def parse_run(args: list[str]):
    """The chart's args as the operator's own CLI parses them (an unknown flag fails here)."""
    return build_parser().parse_args(["run", *args])


# ---------------------------------------------------------------- lint, CRDs
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_helm_lint(name: str, tmp_path: Path) -> None:
    result = helm("lint", "--strict", str(CHART), "-f",
                  str(values_file(VALUE_SETS[name], tmp_path)))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_chart_crds_are_copies_of_deploy_crds() -> None:
    """deploy/crds/ is generated from the API models; the chart ships the same bytes, plus
    kopf's peering kinds."""
    source = ROOT / "deploy" / "crds"
    generated = sorted(path.name for path in source.glob("*.yaml"))
    shipped = sorted(path.name for path in (CHART / "crds").glob("*.yaml"))
    assert shipped == sorted([*generated, "kopf.dev_peerings.yaml"])
    match, mismatch, errors = filecmp.cmpfiles(source, CHART / "crds", generated, shallow=False)
    assert mismatch == [] and errors == [], \
        f"chart CRDs differ from deploy/crds (copy them again): {mismatch + errors}"
    assert {yaml.safe_load(path.read_text())["spec"]["names"]["plural"]
            for path in source.glob("*.yaml")} == set(PLURALS)


def test_peering_crds_are_the_ones_kopf_looks_for() -> None:
    docs = list(yaml.safe_load_all((CHART / "crds" / "kopf.dev_peerings.yaml").read_text()))
    by_scope = {doc["spec"]["scope"]: doc["spec"] for doc in docs}
    for scope, selector in (("Cluster", references.CLUSTER_PEERINGS_K),
                            ("Namespaced", references.NAMESPACED_PEERINGS_K)):
        spec = by_scope[scope]
        assert spec["group"] == selector.group
        assert [v["name"] for v in spec["versions"]] == [selector.version]
        assert spec["names"]["plural"] == selector.any_name
        # kopf patches keep-alives into .status of the object itself, not a subresource.
        assert "subresources" not in spec["versions"][0]


# ---------------------------------------------------------------- RBAC
@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_no_wildcards_and_no_writes_beyond_need(name: str) -> None:
    rendered = render(VALUE_SETS[name])
    rules = list(rendered.rules())
    assert rules
    for _role, rule in rules:
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), f"wildcard in {rule}"
        assert "nonResourceURLs" not in rule
        assert not {"delete", "deletecollection", "update", "escalate", "bind", "impersonate"} \
            & set(rule["verbs"]), rule


def test_cluster_wide_rules_are_exactly_what_the_operator_calls() -> None:
    rendered = render()
    assert rendered.grants("ClusterRole") == CLUSTER_WIDE
    assert rendered.of("Role") == [] and rendered.of("RoleBinding") == []
    binding = rendered.one("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == rendered.one("ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME,
                                    "namespace": NAMESPACE}]


def test_namespaced_mode_roles_only_in_watched_namespaces() -> None:
    rendered = render(VALUE_SETS["namespaced"])
    roles = {(role["metadata"]["namespace"], role["metadata"]["name"])
             for role in rendered.of("Role")}
    assert roles == {("team-a", FULLNAME), ("team-b", FULLNAME),
                     (NAMESPACE, f"{FULLNAME}-own")}
    for namespace in ("team-a", "team-b"):
        assert rendered.grants("Role", namespace) == KINDS_RULES | SECRET_RULES | EVENT_RULES
        binding = [b for b in rendered.of("RoleBinding")
                   if b["metadata"]["namespace"] == namespace]
        assert len(binding) == 1 and binding[0]["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": FULLNAME}
        assert binding[0]["subjects"][0]["namespace"] == NAMESPACE
    # Its own namespace: the fingerprint-key Secret (get, create on first start), account
    # credentials kept there, and Events of the cluster-scoped accounts.
    assert rendered.grants("Role", NAMESPACE) == \
        grants("", ["secrets"], ("get", "create")) | EVENT_RULES
    # Cluster-wide only what cannot be namespaced: the cluster-scoped kind and kopf's views.
    cluster = rendered.grants("ClusterRole")
    assert cluster == ACCOUNT_RULES | CRD_RULES | NAMESPACE_RULES
    assert not any(resource == "secrets" for _, resource, _ in cluster)
    args = parse_run(rendered.args)
    assert args.namespace == ["team-a", "team-b"] and not args.all_namespaces


def test_namespaced_mode_including_its_own_namespace() -> None:
    rendered = render({"watchNamespaces": [NAMESPACE, "team-a"]})
    assert {role["metadata"]["namespace"] for role in rendered.of("Role")} == \
        {NAMESPACE, "team-a"}
    assert len(rendered.of("Role")) == 2  # no separate "-own" Role: the watched one covers it


def test_the_default_account_can_be_scoped() -> None:
    scoped = "kubernetes.io/metadata.name in (apps,tools)"
    rendered = render({"defaultAccount": {"allowedNamespaces": scoped}})
    assert parse_run(rendered.args).default_account_namespaces == scoped


def test_standalone_by_default() -> None:
    rendered = render()
    args = parse_run(rendered.args)
    assert args.all_namespaces and args.peering is None
    assert args.default_account_namespaces == "All"
    assert rendered.deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert rendered.of("ClusterKopfPeering") == [] and rendered.of("KopfPeering") == []
    assert not any(group == "kopf.dev" for group, _, _ in rendered.grants())
    assert rendered.of("PodDisruptionBudget") == []
    assert "affinity" not in rendered.deployment["spec"]["template"]["spec"]


def test_two_replicas_use_peering() -> None:
    rendered = render(VALUE_SETS["peering"])
    assert rendered.deployment["spec"]["replicas"] == 2
    assert parse_run(rendered.args).peering == FULLNAME
    assert rendered.one("ClusterKopfPeering")["metadata"]["name"] == FULLNAME
    assert rendered.grants("ClusterRole") == \
        CLUSTER_WIDE | grants("kopf.dev", ["clusterkopfpeerings"], ("list", "watch", "patch"))
    assert rendered.deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    # Distinct priorities out of the box: none is given, each replica derives its own from
    # its registration and its name (POD_ID, which also names its keep-alive).
    assert parse_run(rendered.args).priority is None
    assert rendered.env()["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_two_replicas_get_a_disruption_budget_and_spread_over_nodes() -> None:
    rendered = render(VALUE_SETS["peering"])
    pods = rendered.deployment["spec"]["selector"]["matchLabels"]
    budget = rendered.one("PodDisruptionBudget")["spec"]
    assert budget == {"maxUnavailable": 1, "selector": {"matchLabels": pods}}
    affinity = rendered.deployment["spec"]["template"]["spec"]["affinity"]
    assert affinity == {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": {"matchLabels": pods}}}]}}


@pytest.mark.parametrize("values, expected", [
    ({"podAntiAffinity": "required"}, {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {
                "app.kubernetes.io/name": "hwcloud-access-operator",
                "app.kubernetes.io/instance": RELEASE}}}]}}),
    ({"podAntiAffinity": "none"}, None),
    ({"podAntiAffinity": "none", "affinity": {"nodeAffinity": {"x": 1}}},
     {"nodeAffinity": {"x": 1}}),
    ({"affinity": {"podAntiAffinity": {"mine": True}}}, {"podAntiAffinity": {"mine": True}}),
])
def test_anti_affinity_can_be_required_turned_off_or_replaced(values, expected) -> None:
    pod = render({**VALUE_SETS["peering"], **values}).deployment["spec"]["template"]["spec"]
    assert pod.get("affinity") == expected


def test_the_disruption_budget_can_be_turned_off() -> None:
    rendered = render({**VALUE_SETS["peering"], "podDisruptionBudget": {"enabled": False}})
    assert rendered.of("PodDisruptionBudget") == []
    assert render({"peering": {"enabled": True}}).of("PodDisruptionBudget") == []  # one pod


def test_two_replicas_in_namespaced_mode_peer_in_each_namespace() -> None:
    rendered = render({**VALUE_SETS["namespaced-peering"], "peering": {"name": "hw-peers"}})
    assert parse_run(rendered.args).peering == "hw-peers"
    assert {(p["metadata"]["namespace"], p["metadata"]["name"])
            for p in rendered.of("KopfPeering")} == {("team-a", "hw-peers"),
                                                      ("team-b", "hw-peers")}
    assert rendered.of("ClusterKopfPeering") == []
    for namespace in ("team-a", "team-b"):
        assert grants("kopf.dev", ["kopfpeerings"], ("list", "watch", "patch")) <= \
            rendered.grants("Role", namespace)


# ---------------------------------------------------------------- Deployment
def test_pod_security_and_probes() -> None:
    rendered = render()
    pod = rendered.deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == rendered.one("ServiceAccount")["metadata"]["name"]
    container = rendered.container
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["runAsNonRoot"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts == {"tmp": "/tmp"} and "emptyDir" in volumes["tmp"]
    # Both probes hit kopf's liveness endpoint, on the port --liveness serves.
    args = parse_run(rendered.args)
    assert args.liveness == "http://0.0.0.0:8080/healthz"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert ports == {"health": 8080, "metrics": 9090}
    assert args.metrics_port == 9090
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["image"] == "hwcloud-access-operator:0.1.0"  # the chart's appVersion


def test_operator_settings_become_args_and_env() -> None:
    rendered = render({"operator": {"resyncInterval": 45.5, "logFormat": "plain",
                                    "verbose": True, "extraArgs": ["--state-namespace=ops"],
                                    "extraEnv": [{"name": "HWCLOUD_MAX_CONCURRENCY",
                                                  "value": "4"}]},
                       "image": {"repository": "registry.example/hw", "tag": "1.2.3"}})
    args = parse_run(rendered.args)
    assert (args.resync_interval, args.log_format, args.verbose, args.state_namespace) == \
        (45.5, "plain", True, "ops")
    env = rendered.env()
    # The operator keeps its fingerprint-key Secret in its own namespace.
    assert env["POD_NAMESPACE"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["HOME"]["value"] == "/tmp"
    assert env["HWCLOUD_MAX_CONCURRENCY"]["value"] == "4"
    assert rendered.container["image"] == "registry.example/hw:1.2.3"
    digest = "sha256:" + "ab" * 32
    assert render({"image": {"digest": digest}}).container["image"] == \
        f"hwcloud-access-operator@{digest}"


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_args_are_accepted_by_the_operator_cli(name: str) -> None:
    parse_run(render(VALUE_SETS[name]).args)


HW_REQUIRED = ("HW_REGION_NAME", "HW_PROJECT_ID", "HW_ACCESS_KEY", "HW_SECRET_KEY")
HW_OPTIONAL = ("HW_VPN_ENDPOINT", "HW_DMS_ENDPOINT", "HW_IAM_ENDPOINT")


def secret_env(rendered, secret: str) -> None:
    env = rendered.env()
    for key in HW_REQUIRED + HW_OPTIONAL:
        ref = env[key]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret and ref["key"] == key
        assert ref.get("optional", False) is (key in HW_OPTIONAL)


def test_default_account_from_values() -> None:
    rendered = render(VALUE_SETS["account-created"])
    secret = rendered.one("Secret")
    name = f"{FULLNAME}-default-account"
    assert secret["metadata"] == {**secret["metadata"], "name": name, "namespace": NAMESPACE}
    assert secret["stringData"] == {
        "HW_REGION_NAME": "cn-north-4", "HW_PROJECT_ID": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "HW_ACCESS_KEY": "AKEXAMPLE", "HW_SECRET_KEY": "sk-example",
        "HW_VPN_ENDPOINT": "https://vpn.example.test"}
    secret_env(rendered, name)
    annotations = rendered.deployment["spec"]["template"]["metadata"]["annotations"]
    assert len(annotations["checksum/default-account"]) == 64
    # The values never end up anywhere but the Secret.
    assert "sk-example" not in yaml.safe_dump(rendered.deployment)


def test_default_account_from_an_existing_secret() -> None:
    rendered = render(VALUE_SETS["account-existing"])
    assert rendered.of("Secret") == []
    secret_env(rendered, "my-hwcloud-account")
    assert "checksum/default-account" not in \
        rendered.deployment["spec"]["template"]["metadata"]["annotations"]


def test_no_default_account() -> None:
    env = render().env()
    assert not [name for name in env if name.startswith("HW_")]


# ---------------------------------------------------------------- metrics
def test_metrics_service_and_service_monitor() -> None:
    rendered = render(VALUE_SETS["servicemonitor"])
    service = rendered.one("Service")
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9090,
                                         "targetPort": "metrics", "protocol": "TCP"}]
    pod_labels = rendered.deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    monitor = rendered.one("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert render().of("ServiceMonitor") == []


def test_metrics_off() -> None:
    rendered = render({"metrics": {"enabled": False}})
    assert rendered.of("Service") == []
    assert parse_run(rendered.args).metrics_port is None
    assert [p["name"] for p in rendered.container["ports"]] == ["health"]


# ---------------------------------------------------------------- schema
@pytest.mark.parametrize("values, message", [
    ({"operator": {"logFormat": "xml"}}, "logFormat"),
    ({"operator": {"resyncInterval": 0}}, "resyncInterval"),
    ({"replicaCount": "two"}, "replicaCount"),
    ({"watchNamespaces": ["Team_A"]}, "watchNamespaces"),
    ({"watchNamespaces": ["a", "a"]}, "watchNamespaces"),
    ({"watchNamespace": ["a"]}, "watchNamespace"),  # a typo is refused, not ignored
    ({"defaultAccount": {"create": True, "region": "cn-north-4"}}, "projectId"),
    ({"defaultAccount": {"endpoints": {"vpn": "vpn.example"}}}, "vpn"),
    ({"image": {"digest": "latest"}}, "digest"),
    ({"metrics": {"port": 8080}}, "must differ"),
    ({"podAntiAffinity": "sometimes"}, "podAntiAffinity"),
    ({"podDisruptionBudget": {"maxUnavailable": 0}}, "maxUnavailable"),
])
def test_bad_values_are_refused(values: dict[str, Any], message: str) -> None:
    assert message in render_error(values)


def test_values_yaml_passes_its_own_schema_and_documents_every_key() -> None:
    import json

    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values) == set(schema["properties"]) - {"global"}
