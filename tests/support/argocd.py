"""ArgoCD's answer to a health check: the health.lua of deploy/argocd run in gopher-lua as
Argo CD runs it (tools/go/argocd-health), not in another Lua."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.support.gotools import go_tool

from hwcloud_access.api import GROUP
from hwcloud_access.reconcile.outcome import Reason

ROOT = Path(__file__).resolve().parents[2]
KINDS_DIR = ROOT / "deploy" / "argocd" / GROUP

# Every condition reason the operator can write, and the health it must map to.
EXPECTED = {
    Reason.AVAILABLE: "Healthy",
    Reason.PENDING: "Progressing",
    Reason.CREATING: "Progressing",
    Reason.APPLYING: "Progressing",
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


def script_of(kind: str) -> Path:
    return KINDS_DIR / kind / "health.lua"


def argocd_health(script: Path, objects: list[dict[str, Any]], *,
                  controller: bool = False) -> list[dict[str, str]]:
    """{status, message} of each object (empty fields left out, as ArgoCD's HealthStatus).
    controller: what the application controller shows, which answers an object being deleted
    itself ("Pending deletion") without running the script. A script error fails the call."""
    stream = "".join(json.dumps(obj) + "\n" for obj in objects)
    result = subprocess.run([str(go_tool("argocd-health")), *(["-controller"] if controller
                            else []), str(script)], input=stream, text=True,
                            capture_output=True, timeout=60)
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [a["error"] for a in answers if "error" in a]
    if result.returncode != 0 or errors or len(answers) != len(objects):
        raise AssertionError(f"argocd-health {script} failed: {errors or result.stderr}")
    return answers
