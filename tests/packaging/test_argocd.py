"""ArgoCD health checks (deploy/argocd/access.hwcloud.dev/<Kind>/health.lua) run in Lua 5.1,
the language of ArgoCD's gopher-lua, over the samples named in each health_test.yaml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

from hwcloud_access.api import ALL_KINDS, GROUP
from hwcloud_access.reconcile.outcome import Reason

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "deploy" / "argocd"
KINDS_DIR = ARGOCD / GROUP
HEALTH = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def to_lua(runtime: Any, value: Any) -> Any:
    """JSON-like Python data as Lua tables (lists 1-based), as ArgoCD hands `obj` over."""
    if isinstance(value, dict):
        return runtime.table_from({k: to_lua(runtime, v) for k, v in value.items()})
    if isinstance(value, list):
        return runtime.table_from([to_lua(runtime, v) for v in value])
    return value


def health(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False)
    runtime.globals().obj = to_lua(runtime, obj)
    script = (KINDS_DIR / kind / "health.lua").read_text()
    result = runtime.execute(script)
    return {key: result[key] for key in ("status", "message") if result[key] is not None}


def cases() -> list[Any]:
    out = []
    for test_file in sorted(KINDS_DIR.glob("*/health_test.yaml")):
        kind = test_file.parent.name
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            out.append(pytest.param(kind, case, id=f"{kind}-{Path(case['inputPath']).stem}"))
    return out


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
    scripts = {(KINDS_DIR / k.kind / "health.lua").read_text() for k in ALL_KINDS}
    assert len(scripts) == 1, "edit deploy/argocd/health.lua, then run render_values.py"


@pytest.mark.parametrize("kind, case", cases())
def test_health_test_yaml(kind: str, case: dict[str, Any]) -> None:
    sample = yaml.safe_load((KINDS_DIR / kind / case["inputPath"]).read_text())
    assert sample["apiVersion"] == f"{GROUP}/v1alpha1" and sample["kind"] == kind
    assert health(kind, sample) == case["healthStatus"]


def test_every_state_is_covered() -> None:
    seen = {case.values[1]["healthStatus"]["status"] for case in cases()}
    assert seen == {"Healthy", "Progressing", "Degraded", "Suspended"}


# Every condition reason the operator can write, and the health it must map to.
EXPECTED = {
    Reason.AVAILABLE: "Healthy",
    Reason.CREATING: "Progressing",
    Reason.APPLYING: "Progressing",
    Reason.UPDATING: "Progressing",
    Reason.DELETING: "Progressing",
    Reason.DELETE_BLOCKED: "Degraded",
    Reason.IN_USE: "Progressing",
    Reason.CLOUD_BUSY: "Progressing",
    Reason.DEPENDENCY_NOT_READY: "Progressing",
    Reason.INVALID_SPEC: "Degraded",
    Reason.AUTH_FAILED: "Degraded",
    Reason.ACCESS_DENIED: "Degraded",
    Reason.NOT_FOUND: "Degraded",
    Reason.ALREADY_EXISTS: "Degraded",
    Reason.ALREADY_OWNED: "Degraded",
    Reason.ACCOUNT_NOT_ALLOWED: "Degraded",
    Reason.PAUSED: "Suspended",
    Reason.ERROR: "Degraded",
    Reason.SUCCESS: "Healthy",
}


def obj_with(ready: str, reason: str, generation: int = 3, observed: int = 3) -> dict:
    condition = {"type": "Ready", "status": ready, "reason": reason, "message": "m",
                 "observedGeneration": observed}
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "VpnUser",
            "metadata": {"name": "x", "namespace": "y", "generation": generation},
            "spec": {}, "status": {"conditions": [condition], "observedGeneration": observed}}


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_has_a_health(reason: Reason) -> None:
    assert reason in EXPECTED, f"new Reason {reason}: decide its ArgoCD health (health.lua)"
    ready = "True" if EXPECTED[reason] == "Healthy" else "False"
    assert health("VpnUser", obj_with(ready, reason.value))["status"] == EXPECTED[reason]
    # A generation the operator has not looked at yet is Progressing, whatever it said before
    # (unless paused: a paused object stays Suspended).
    behind = health("VpnUser", obj_with(ready, reason.value, generation=4))["status"]
    assert behind == ("Suspended" if reason is Reason.PAUSED else "Progressing")


def test_values_for_the_argo_cd_chart_are_generated_from_the_scripts() -> None:
    result = subprocess.run([sys.executable, str(ARGOCD / "render_values.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    values = yaml.safe_load((ARGOCD / "values-argocd.yaml").read_text())
    cm = values["configs"]["cm"]
    assert set(cm) == {f"resource.customizations.health.{GROUP}_{k.kind}" for k in ALL_KINDS}
    for kind in ALL_KINDS:
        assert cm[f"resource.customizations.health.{GROUP}_{kind.kind}"] == \
            (KINDS_DIR / kind.kind / "health.lua").read_text()
