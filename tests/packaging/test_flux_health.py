"""The README's Flux Kustomization ("GitOps"): its healthCheckExprs run with Flux's own
evaluator (tools/go/flux-health) over the statuses the operator writes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.kstatus import READY, flux_health, not_ready, written
from tests.support.testbed import ROOT

from hwcloud_access.api import ALL_KINDS
from hwcloud_access.api.base import STATUS_BEFORE_FIRST_PASS
from hwcloud_access.reconcile.conditions import RECONCILING, STALLED
from hwcloud_access.reconcile.outcome import Outcome, Reason

NAMESPACED = sorted(k.kind for k in ALL_KINDS if k.kind != "HuaweiCloudAccount")


@pytest.fixture(scope="module")
def kustomization(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's Kustomization, as a file."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Flux and kpt (kstatus)"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block, "no yaml block under '### Flux and kpt (kstatus)'"
    path = tmp_path_factory.mktemp("flux") / "kustomization.yaml"
    path.write_text(block.group(1))
    return path


def judged(kustomization: Path, objects: list[dict[str, Any]]) -> list[str]:
    return [a.get("status") or f"error: {a['error']}" for a in flux_health(kustomization, objects)]


def test_it_is_a_waiting_kustomization_for_our_namespaced_kinds(kustomization: Path) -> None:
    spec = yaml.safe_load(kustomization.read_text())["spec"]
    assert spec["wait"] is True
    assert sorted(check["kind"] for check in spec["healthCheckExprs"]) == NAMESPACED


@pytest.mark.parametrize("kind", NAMESPACED)
def test_each_state_reads_as_kstatus_reads_it(kustomization: Path, kind: str) -> None:
    states = [written(READY, kind)]
    states += [written(not_ready(reason), kind) for reason in sorted(RECONCILING)]
    states += [written(not_ready(reason), kind) for reason in sorted(STALLED)]
    assert judged(kustomization, states) == \
        ["Current"] + ["InProgress"] * len(RECONCILING) + ["Failed"] * len(STALLED)


@pytest.mark.parametrize("kind", NAMESPACED)
def test_not_current_before_the_operator_has_spoken(kustomization: Path, kind: str) -> None:
    """The CRD's default status, a generation not observed yet, and no status at all (under
    CRDs without the default): never Current. Without a status the expressions fail, and Flux
    keeps waiting."""
    pending = {**written(None, kind), "status": STATUS_BEFORE_FIRST_PASS}
    behind = written(READY, kind, generation=3, observed=2)
    ready_said_of_generation_2 = written(READY, kind, generation=3, observed=2)
    ready_said_of_generation_2["status"]["observedGeneration"] = 3
    [*answers, bare] = judged(kustomization, [pending, behind, ready_said_of_generation_2,
                                              written(None, kind)])
    assert answers == ["InProgress"] * 3
    assert bare.startswith("error: ") and "no such attribute" in bare


def test_paused_shows_what_it_was(kustomization: Path) -> None:
    paused = [written(Outcome(ready=was_ready, reason=Reason.PAUSED, message="paused",
                              synced=False, synced_reason=Reason.PAUSED))
              for was_ready in (True, False)]
    assert judged(kustomization, paused) == ["Current", "InProgress"]
