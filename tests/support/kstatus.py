"""What Flux and kpt see of an object: kstatus (sigs.k8s.io/cli-utils status.Compute, run by
tools/go/kstatus) and a Flux Kustomization's healthCheckExprs (Flux's own evaluator, run by
tools/go/flux-health), over objects given as dicts or read live with kubectl; and objects
with the status the operator writes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.gotools import go_tool
from tests.support.testbed import Testbed

from hwcloud_access.api import GROUP
from hwcloud_access.reconcile.conditions import conditions_for
from hwcloud_access.reconcile.outcome import Outcome, Reason


def _answers(tool: str, args: list[str], stream: str) -> list[dict[str, str]]:
    result = subprocess.run([str(go_tool(tool)), *args], input=stream, text=True,
                            capture_output=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"{tool} failed: {result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines()]


def kstatus(objects: list[dict[str, Any]] | dict[str, Any]) -> list[dict[str, str]]:
    """{kind, namespace, name, status, message} of each object, in order; a List counts as
    its items. An object kstatus cannot read fails the call."""
    stream = json.dumps(objects) if isinstance(objects, dict) else \
        "\n".join(json.dumps(obj) for obj in objects)
    return _answers("kstatus", [], stream)


def live_kstatus(testbed: Testbed, resources: str, namespace: str) -> dict[str, dict[str, str]]:
    """kstatus of what `kubectl get RESOURCES -n NAMESPACE -o json` returns (e.g.
    "vpnusers,mqusers", or "vpnuser/alice"), by "Kind/name"."""
    listed = testbed.kubectl("get", resources, "-n", namespace, "-o", "json").stdout
    return {f"{v['kind']}/{v['name']}": v for v in kstatus(json.loads(listed))}


def flux_health(kustomization: Path, objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    """{kind, name, status} of each object as judged by the Kustomization's healthCheckExprs,
    or {kind, name, error} where an expression fails on it (Flux keeps waiting then)."""
    return _answers("flux-health", [str(kustomization)],
                    "\n".join(json.dumps(obj) for obj in objects))


def not_ready(reason: Reason, message: str = "why it is so") -> Outcome:
    return Outcome(ready=False, reason=reason, message=message, synced=False,
                   synced_reason=reason)


READY = Outcome(ready=True, reason=Reason.AVAILABLE, message="the cloud matches the spec")


def written(outcome: Outcome | None, kind: str = "VpnUser", *, generation: int = 2,
            observed: int = 2, deleted: bool = False,
            old: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An object with the status the operator writes for `outcome` (None: no status at all)
    after the conditions `old`, for `observed`."""
    metadata: dict[str, Any] = {"name": "alice", "namespace": "team", "generation": generation}
    if deleted:
        metadata["deletionTimestamp"] = "2026-11-23T11:45:00Z"
    obj = {"apiVersion": f"{GROUP}/v1alpha1", "kind": kind, "metadata": metadata, "spec": {}}
    if outcome is not None:
        obj["status"] = {"observedGeneration": observed,
                         "conditions": conditions_for(outcome, old, observed)}
    return obj
