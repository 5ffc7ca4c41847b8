"""Test tools built from Go modules (tools/go/<name>/, built and cached by tools/build-go-tool)."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def go_tool(name: str) -> Path:
    """The path of the built tool; the first call of a session builds it if it is not cached."""
    result = subprocess.run([str(ROOT / "tools" / "build-go-tool"), name], text=True,
                            capture_output=True, timeout=3600)
    if result.returncode != 0:
        raise AssertionError(f"tools/build-go-tool {name} failed:\n{result.stderr}")
    return Path(result.stdout.strip().splitlines()[-1])
