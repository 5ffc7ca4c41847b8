"""`hwcloud-access run` as the image runs it: a default account with an empty key stops it
before kopf starts, naming the key (exit 2), without an API server to talk to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COMMAND = Path(sys.executable).parent / "hwcloud-access"


def test_an_empty_hw_secret_key_stops_run_naming_it(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HW_", "HWCLOUD_", "KUBERNETES_"))}
    env.update(HW_REGION_NAME="cn-north-4", HW_PROJECT_ID="project-id",
               HW_ACCESS_KEY="AK-NOT-TO-BE-SHOWN", HW_SECRET_KEY="",
               KUBECONFIG=str(tmp_path / "no-such-kubeconfig"))
    # kopf, had it started, would retry its login for good: the timeout tells that apart.
    result = subprocess.run([str(COMMAND), "run", "-A"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "hwcloud-access run: default account: HW_REGION_NAME is set but HW_SECRET_KEY not")
    assert "AK-NOT-TO-BE-SHOWN" not in result.stdout + result.stderr
