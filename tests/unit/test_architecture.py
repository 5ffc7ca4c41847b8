"""The architecture as checks: the import-linter contracts of pyproject.toml hold."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import hwcloud_access

ROOT = Path(__file__).resolve().parents[2]


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["name"]: contract for contract in config["contracts"]}


def test_the_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-logo", "--no-cache"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(contracts())} kept, 0 broken" in result.stdout


def test_the_api_contract_forbids_every_other_module() -> None:
    """hwcloud_access.api may import only itself: a new module is forbidden to it too."""
    [api] = [c for c in contracts().values() if c.get("source_modules") == ["hwcloud_access.api"]]
    ours = {f"hwcloud_access.{module.name}"
            for module in pkgutil.iter_modules(hwcloud_access.__path__)}
    assert set(api["forbidden_modules"]) == (ours - {"hwcloud_access.api"}) | {"hwcloud_emulator"}
