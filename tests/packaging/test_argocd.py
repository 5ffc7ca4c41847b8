"""ArgoCD health checks (deploy/argocd/access.hwcloud.dev/<Kind>/health.lua) run as Argo CD runs
them (gopher-lua with Argo CD's libraries, conversion and checks: tools/go/argocd-health) over
the samples named in each health_test.yaml, which are live objects captured from the API
server, and over the conditions the operator writes for every reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.argocd import EXPECTED, KINDS_DIR, argocd_health, script_of

from hwcloud_access.api import ALL_KINDS, GROUP
from hwcloud_access.api.base import STATUS_BEFORE_FIRST_PASS
from hwcloud_access.reconcile.conditions import conditions_for
from hwcloud_access.reconcile.outcome import Outcome, Reason

ARGOCD = KINDS_DIR.parent


def cases() -> list[Any]:
    out = []
    for test_file in sorted(KINDS_DIR.glob("*/health_test.yaml")):
        kind = test_file.parent.name
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            out.append(pytest.param(kind, case, id=f"{kind}-{Path(case['inputPath']).stem}"))
    return out


def samples() -> list[tuple[str, dict[str, Any]]]:
    """(kind, object) of every testdata sample."""
    return [(path.parent.parent.name, yaml.safe_load(path.read_text()))
            for path in sorted(KINDS_DIR.glob("*/testdata/*.yaml"))]


def conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def test_one_directory_per_kind() -> None:
    assert sorted(p.name for p in KINDS_DIR.iterdir()) == sorted(k.kind for k in ALL_KINDS)
    for kind in ALL_KINDS:
        directory = KINDS_DIR / kind.kind
        assert (directory / "health.lua").is_file() and (directory / "health_test.yaml").is_file()
        named = {case["inputPath"] for case in
                 yaml.safe_load((directory / "health_test.yaml").read_text())["tests"]}
        on_disk = {f"testdata/{p.name}" for p in (directory / "testdata").glob("*.yaml")}
        assert named == on_disk, "every sample is tested, every test has its sample"


def test_the_kinds_share_one_script() -> None:
    scripts = {script_of(k.kind).read_text() for k in ALL_KINDS}
    assert len(scripts) == 1, "edit deploy/argocd/health.lua, then run render_values.py"


@pytest.mark.parametrize("kind, case", cases())
def test_health_test_yaml(kind: str, case: dict[str, Any]) -> None:
    sample = yaml.safe_load((KINDS_DIR / kind / case["inputPath"]).read_text())
    assert sample["apiVersion"] == f"{GROUP}/v1alpha1" and sample["kind"] == kind
    assert argocd_health(script_of(kind), [sample]) == [case["healthStatus"]]


def test_every_state_is_covered() -> None:
    seen = {case.values[1]["healthStatus"]["status"] for case in cases()}
    assert seen == {"Healthy", "Progressing", "Degraded", "Suspended"}


def test_the_samples_are_objects_as_the_api_server_returns_them() -> None:
    for kind, obj in samples():
        metadata = obj["metadata"]
        where = f"{kind} sample {metadata.get('name')}"
        assert {"uid", "resourceVersion", "creationTimestamp", "generation"} <= set(metadata), \
            f"{where}: not captured from the API server"
        assert "managedFields" not in metadata, f"{where}: strip managedFields"


def test_the_samples_cover_every_reason_a_stalled_and_a_deleting_object() -> None:
    written = {c["reason"] for _, obj in samples() for c in conditions(obj).values()}
    assert {reason.value for reason in Reason} <= written
    assert any(conditions(obj).get("Stalled", {}).get("status") == "True" for _, obj in samples())
    deleting = {conditions(obj)["Ready"]["reason"] for _, obj in samples()
                if obj["metadata"].get("deletionTimestamp")}
    assert {"Deleting", "DeleteBlocked"} <= deleting


KSTATUS_TYPES = ("Reconciling", "Stalled")


def kstatus_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Reconciling and Stalled conditions, without their transition time."""
    return [{k: v for k, v in c.items() if k != "lastTransitionTime"}
            for c in conditions if c["type"] in KSTATUS_TYPES]


def test_the_samples_kstatus_conditions_are_the_ones_written_today() -> None:
    """A sample captured before a reason moved between Reconciling and Stalled would test
    the script on a status the operator no longer writes: each one's Reconciling and Stalled
    are what conditions_for writes for its Ready (and Synced) today; one without Ready has
    the CRDs' default status."""
    for kind, obj in samples():
        where = f"{kind} sample {obj['metadata']['name']}"
        found = conditions(obj)
        ready, synced = found.get("Ready"), found.get("Synced")
        if ready is None:
            assert obj["status"] == STATUS_BEFORE_FIRST_PASS, where
            continue
        outcome = Outcome(ready=ready["status"] == "True", reason=Reason(ready["reason"]),
                          message=ready["message"], synced=synced["status"] == "True",
                          synced_reason=Reason(synced["reason"]),
                          synced_message=synced["message"])
        written = conditions_for(outcome, None, ready["observedGeneration"])
        assert kstatus_conditions(obj["status"]["conditions"]) == \
            kstatus_conditions(written), where


def test_each_expected_health_is_the_one_of_its_reason() -> None:
    """A sample whose Ready speaks for its generation (and is not Ready while deleted) is
    expected to have the health EXPECTED gives its reason."""
    for param in cases():
        kind, case = param.values
        sample = yaml.safe_load((KINDS_DIR / kind / case["inputPath"]).read_text())
        ready = conditions(sample).get("Ready")
        if ready is None or ready["observedGeneration"] != sample["metadata"]["generation"] or (
                ready["status"] == "True" and sample["metadata"].get("deletionTimestamp")):
            continue
        assert case["healthStatus"]["status"] == EXPECTED[Reason(ready["reason"])], param.id


DELETION = {Reason.DELETING, Reason.DELETE_BLOCKED}  # written on an object being deleted


def written_for(reason: Reason, generation: int = 3, observed: int = 3) -> dict[str, Any]:
    """A VpnUser with the conditions the operator writes for `reason` (conditions_for)."""
    ready = EXPECTED[reason] == "Healthy"
    outcome = Outcome(ready=ready, reason=reason, message="m", synced=ready,
                      synced_reason=Reason.SUCCESS if ready else reason)
    metadata: dict[str, Any] = {"name": "x", "namespace": "y", "generation": generation}
    if reason in DELETION:
        metadata["deletionTimestamp"] = "2026-11-23T11:45:00Z"
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "VpnUser", "metadata": metadata,
            "spec": {}, "status": {"conditions": conditions_for(outcome, None, observed),
                                   "observedGeneration": observed}}


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_has_a_health(reason: Reason) -> None:
    assert reason in EXPECTED, f"new Reason {reason}: decide its ArgoCD health (health.lua)"
    current, behind = argocd_health(script_of("VpnUser"), [
        written_for(reason), written_for(reason, generation=4)])
    assert current["status"] == EXPECTED[reason]
    # A generation the operator has not looked at yet is Progressing, whatever it said before
    # (unless paused: a paused object stays Suspended).
    assert behind["status"] == ("Suspended" if reason is Reason.PAUSED else "Progressing")
    if reason in DELETION:  # the controller answers for an object being deleted itself
        assert argocd_health(script_of("VpnUser"), [written_for(reason)], controller=True) == \
            [{"status": "Progressing", "message": "Pending deletion"}]


def test_stalled_is_degraded_whatever_the_reason() -> None:
    obj = written_for(Reason.APPLYING)
    for condition in obj["status"]["conditions"]:
        condition.update(reason="SomethingNew", message="needs a change")
    obj["status"]["conditions"].append({**obj["status"]["conditions"][0], "type": "Stalled",
                                        "status": "True"})
    assert argocd_health(script_of("VpnUser"), [obj]) == \
        [{"status": "Degraded", "message": "SomethingNew: needs a change"}]


PENDING = {"type": "Reconciling", "status": "True", "reason": "Pending",
           "message": "the operator has not handled this object yet"}


@pytest.mark.parametrize("status, message", [
    (None, "Waiting for the operator to report status"),  # stored under a CRD without default
    ({"conditions": [PENDING]}, f"Pending: {PENDING['message']}"),  # the CRD's default
], ids=["no-status", "pending"])
def test_before_the_first_pass(status: dict | None, message: str) -> None:
    obj = {**written_for(Reason.AVAILABLE), "status": status}
    assert argocd_health(script_of("VpnUser"), [obj]) == [
        {"status": "Progressing", "message": message}]


def test_an_object_being_deleted_is_not_healthy() -> None:
    obj = written_for(Reason.AVAILABLE)
    obj["metadata"]["deletionTimestamp"] = "2026-11-23T11:45:00Z"
    assert argocd_health(script_of("VpnUser"), [obj])[0]["status"] == "Progressing"


@pytest.mark.parametrize("script, answer", [
    # an argocd-cm health check gets the base and table libraries only
    ("return {status = string.upper('healthy')}", "attempt to index a non-table object"),
    ("return {status = 'healthy'}", {"status": "Unknown",
                                     "message": "Lua returned an invalid health status"}),
    ("return {}", {}),
    ("return {status = 'Healthy', message = tostring(obj.metadata.generation)}",
     {"status": "Healthy", "message": "3"}),
], ids=["no-string-library", "invalid-status", "empty-table", "numbers"])
def test_scripts_run_as_argo_cd_runs_them(tmp_path: Path, script: str, answer: Any) -> None:
    path = tmp_path / "health.lua"
    path.write_text(script)
    if isinstance(answer, str):
        with pytest.raises(AssertionError, match=answer):
            argocd_health(path, [written_for(Reason.AVAILABLE)])
    else:
        assert argocd_health(path, [written_for(Reason.AVAILABLE)]) == [answer]


def test_values_for_the_argo_cd_chart_are_generated_from_the_scripts() -> None:
    result = subprocess.run([sys.executable, str(ARGOCD / "render_values.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    values = yaml.safe_load((ARGOCD / "values-argocd.yaml").read_text())
    cm = values["configs"]["cm"]
    assert set(cm) == {f"resource.customizations.health.{GROUP}_{k.kind}" for k in ALL_KINDS}
    for kind in ALL_KINDS:
        assert cm[f"resource.customizations.health.{GROUP}_{kind.kind}"] == \
            script_of(kind.kind).read_text()
