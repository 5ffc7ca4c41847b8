"""What Flux and kpt see: the real kstatus library (tools/go/kstatus) over the conditions the
operator writes for every reason, and over the objects captured from the API server for the
ArgoCD health checks (deploy/argocd/access.hwcloud.dev/<Kind>/testdata)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml
from tests.support.argocd import KINDS_DIR
from tests.support.gotools import go_tool
from tests.support.kstatus import READY, kstatus, not_ready, written
from tests.support.testbed import CRDS

from hwcloud_access.api import GROUP
from hwcloud_access.reconcile.outcome import Outcome, Reason

# What kstatus must show for each Ready reason (README "GitOps"). Deleting and DeleteBlocked
# are written on objects being deleted, which kstatus shows as Terminating whatever they say.
KSTATUS = {
    Reason.AVAILABLE: "Current",
    Reason.PENDING: "InProgress",
    Reason.CREATING: "InProgress",
    Reason.APPLYING: "InProgress",
    Reason.CLOUD_BUSY: "InProgress",
    Reason.DEPENDENCY_NOT_READY: "InProgress",
    Reason.IN_USE: "InProgress",
    Reason.INVALID_SPEC: "Failed",
    Reason.AUTH_FAILED: "Failed",
    Reason.ACCESS_DENIED: "Failed",
    Reason.NOT_FOUND: "Failed",
    Reason.ALREADY_EXISTS: "Failed",
    Reason.ALREADY_OWNED: "Failed",
    Reason.ACCOUNT_NOT_ALLOWED: "Failed",
    Reason.ERROR: "Failed",
    Reason.DELETING: "Terminating",
    Reason.DELETE_BLOCKED: "Terminating",
}
SYNCED_ONLY = {Reason.SUCCESS}  # never Ready's reason
PAUSED = {Reason.PAUSED}  # Ready stays what it was: see test_paused_shows_what_it_was


def test_every_ready_reason_has_a_kstatus() -> None:
    assert set(KSTATUS) | SYNCED_ONLY | PAUSED == set(Reason), \
        "a new Reason: decide what Flux must see (Reconciling or Stalled) and add it here"


@pytest.mark.parametrize("reason", sorted(KSTATUS), ids=str)
def test_what_the_operator_writes_reads_as_intended(reason: Reason) -> None:
    outcome = READY if reason is Reason.AVAILABLE else not_ready(reason)
    [seen] = kstatus([written(outcome, deleted=KSTATUS[reason] == "Terminating")])
    assert seen["status"] == KSTATUS[reason]
    if seen["status"] in ("InProgress", "Failed"):
        assert seen["message"] == "why it is so"  # Ready's message, as Flux prints it


@pytest.mark.parametrize("outcome", [READY, not_ready(Reason.INVALID_SPEC)],
                         ids=["ready", "stalled"])
def test_a_generation_not_yet_observed_reads_in_progress(outcome: Outcome) -> None:
    [seen] = kstatus([written(outcome, generation=3, observed=2)])
    assert seen == {"kind": "VpnUser", "namespace": "team", "name": "alice",
                    "status": "InProgress",
                    "message": "VpnUser generation is 3, but latest observed generation is 2"}


def test_stalled_goes_with_its_cause() -> None:
    """The conditions are rewritten as a whole: a Stalled one is not left behind."""
    stalled = written(not_ready(Reason.INVALID_SPEC))
    fixed = written(READY, old=stalled["status"]["conditions"])
    assert [v["status"] for v in kstatus([stalled, fixed])] == ["Failed", "Current"]


def test_paused_shows_what_it_was() -> None:
    """Paused writes neither Reconciling nor Stalled and keeps Ready: kstatus falls back on
    Ready's status, so a paused object that was Ready stays Current, one that never was
    stays InProgress (a Flux wait on it times out)."""
    paused = [written(Outcome(ready=was_ready, reason=Reason.PAUSED, message="paused",
                               synced=False, synced_reason=Reason.PAUSED))
              for was_ready in (True, False)]
    assert [v["status"] for v in kstatus(paused)] == ["Current", "InProgress"]


def test_a_new_object_reads_in_progress_before_the_first_pass() -> None:
    """The CRDs' default status, which the API server shows until the operator's first
    status write."""
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        [version] = crd["spec"]["versions"]
        default = version["schema"]["openAPIV3Schema"]["properties"]["status"]["default"]
        new = {"apiVersion": f"{GROUP}/{version['name']}", "kind": crd["spec"]["names"]["kind"],
               "metadata": {"name": "new", "generation": 1}, "spec": {}, "status": default}
        [seen] = kstatus([new])
        assert (seen["status"], seen["message"]) == (
            "InProgress", "the operator has not handled this object yet"), path.name


def test_no_status_at_all_reads_current() -> None:
    """What remains (README "GitOps"): under CRDs without that default (installed before it,
    and not applied again since) an object reads Current until the operator's first write."""
    assert kstatus([written(None)])[0]["status"] == "Current"


def captured_samples() -> list[Any]:
    return [pytest.param(yaml.safe_load(path.read_text()),
                         id=f"{path.parent.parent.name}-{path.stem}")
            for path in sorted(KINDS_DIR.glob("*/testdata/*.yaml"))]


def expected_for(sample: dict[str, Any]) -> str:
    status = sample.get("status") or {}
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    if sample["metadata"].get("deletionTimestamp"):
        return "Terminating"
    if not conditions:
        return "Current"  # the gap
    if status.get("observedGeneration", sample["metadata"]["generation"]) != \
            sample["metadata"]["generation"]:
        return "InProgress"
    # before the first pass the CRD's default status has a Reconciling condition only
    ready = conditions.get("Ready") or conditions["Reconciling"]
    if ready["reason"] == Reason.PAUSED:
        return "Current" if ready["status"] == "True" else "InProgress"
    return KSTATUS[Reason(ready["reason"])]


@pytest.mark.parametrize("sample", captured_samples())
def test_captured_objects(sample: dict[str, Any]) -> None:
    [seen] = kstatus([sample])
    assert seen["status"] == expected_for(sample), seen["message"]


def test_the_samples_cover_each_kstatus() -> None:
    seen = {expected_for(p.values[0]) for p in captured_samples()}
    assert seen == {"Current", "InProgress", "Failed", "Terminating"}


def test_a_list_counts_as_its_items_and_values_may_follow_each_other() -> None:
    first, second = written(READY), written(not_ready(Reason.APPLYING))
    second["metadata"]["name"] = "bob"
    stream = json.dumps({"apiVersion": "v1", "kind": "List", "items": [first, second]}) + \
        json.dumps(first)
    result = subprocess.run([str(go_tool("kstatus"))], input=stream, text=True,
                            capture_output=True, timeout=60)
    assert [json.loads(line)["name"] for line in result.stdout.splitlines()] == \
        ["alice", "bob", "alice"]


@pytest.mark.parametrize("stdin, message", [
    ("", "no object on stdin"),
    ("{not json", "input value 1 is not JSON"),
    ('{"kind": "VpnUser"} [1]', "input value 2: not a Kubernetes object"),
    ('{"metadata": {"name": "x"}}', "input value 1: not a Kubernetes object: no kind"),
    ('{"apiVersion": "v1", "kind": "VpnUser", "metadata": {"name": "x", "namespace": "y"}, '
     '"status": {"conditions": "Ready"}}', "input value 1: VpnUser y/x: "),
], ids=["empty", "not-json", "not-an-object", "no-kind", "unreadable-status"])
def test_bad_input_is_named(stdin: str, message: str) -> None:
    result = subprocess.run([str(go_tool("kstatus"))], input=stdin, text=True,
                            capture_output=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"kstatus: {message}")
