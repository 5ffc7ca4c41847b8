"""The README against the code, where a machine can tell: its reasons table is the `Reason`
vocabulary with the kstatus conditions each reason gets; its metrics table has every metric
the operator exports, with its labels; its tables of every `hwcloud-access` command's
options, environment variables, Event reasons and chart values cover exactly what the code
and values.yaml have; its Go version (and docs/development.md's) is the one the tools' go.mod
files need; its links to its own headings resolve; and `make demo` and `make test` stay its
first commands (the CI runs the README's test command)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from hwcloud_access import metrics
from hwcloud_access.cli import build_parser
from hwcloud_access.reconcile.conditions import RECONCILING, STALLED
from hwcloud_access.reconcile.outcome import Reason

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OPERATOR = ROOT / "operator" / "hwcloud_access"
VALUES = ROOT / "deploy" / "helm" / "hwcloud-access-operator" / "values.yaml"
CODE = re.compile(r"`([^`]+)`")


# -- reading the README's tables ---------------------------------------------------------

def cells(line: str) -> list[str]:
    """A Markdown table row's cells (`\\|` inside a cell is a literal bar)."""
    parts = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [part.strip().replace("\\|", "|") for part in parts]


def tables(text: str) -> Iterator[tuple[list[str], list[list[str]]]]:
    """Every table: (header cells, body rows)."""
    lines = text.splitlines()
    for i, line in enumerate(lines[:-1]):
        previous = lines[i - 1] if i else ""
        if line.startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1].strip()) \
                and not previous.startswith("|"):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(cells(row))
            yield cells(line), rows


def table(text: str, *header: str) -> list[list[str]]:
    """The one table whose header starts with these cells."""
    found = [rows for head, rows in tables(text) if head[:len(header)] == list(header)]
    assert len(found) == 1, f"{len(found)} tables with the header {header!r}"
    return found[0]


def named(cell: str) -> list[str]:
    """What a table's first cell names: its `code` spans, each up to its first space."""
    return [code.split()[0] for code in CODE.findall(cell)]


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text()


# -- the reasons ---------------------------------------------------------------------------

def reasons_table(text: str) -> dict[str, str]:
    return {named(row[0])[0]: row[1] for row in table(text, "reason", "conditions")}


def test_the_reasons_table_is_the_reason_vocabulary(readme: str) -> None:
    assert set(reasons_table(readme)) == {reason.value for reason in Reason}


def test_each_reason_shows_the_kstatus_condition_it_gets(readme: str) -> None:
    for reason, conditions in reasons_table(readme).items():
        assert ("Reconciling=True" in conditions) == (reason in RECONCILING), reason
        assert ("Stalled=True" in conditions) == (reason in STALLED), reason


# -- metrics -------------------------------------------------------------------------------

def exported_metrics() -> dict[str, set[str]]:
    """Every metric name as Prometheus stores it (counters with _total), with its labels;
    the pacer collector's read from one made-up pacer."""
    found: dict[str, set[str]] = {}
    for collector in set(metrics.REGISTRY._collector_to_names):
        if isinstance(collector, MetricWrapperBase):
            suffix = "_total" if collector._type == "counter" else ""
            found[collector._name + suffix] = set(collector._labelnames)
    source, metrics.PACERS.source = metrics.PACERS.source, lambda: [
        ("(default)", "vpn:server", {"rate": 1.0, "waiting": 0.0, "in_flight": 0.0,
                                     "congestion_signals": 0.0})]
    try:
        for family in metrics.PACERS.collect():
            suffix = "_total" if family.type == "counter" else ""
            found[family.name + suffix] = {label for sample in family.samples
                                           for label in sample.labels}
    finally:
        metrics.PACERS.source = source
    return found


def test_every_metric_is_documented_with_its_labels(readme: str) -> None:
    exported = exported_metrics()
    assert "hwcloud_access_pacer_congestion_signals_total" in exported  # the collector's too
    rows = {named(row[0])[0]: row for row in table(readme, "metric", "type", "labels")}
    assert set(rows) == set(exported)
    for name, labels in exported.items():
        documented = {label for label in CODE.findall(rows[name][2])
                      if re.fullmatch(r"[a-z_]+", label)}
        assert labels <= documented, f"{name}: labels {sorted(labels - documented)} missing"


# -- command line, environment, Events -----------------------------------------------------

def cli_options() -> set[tuple[str, str]]:
    """(command, option) of every `hwcloud-access` command."""
    commands = build_parser()._subparsers._group_actions[0].choices
    return {(command, option) for command, parser in commands.items()
            for action in parser._actions for option in action.option_strings
            if option not in ("-h", "--help")}


def documented_options(text: str) -> set[tuple[str, str]]:
    return {(named(row[0])[0], name) for row in table(text, "command", "option", "default")
            for name in named(row[1])}


def test_every_cli_option_is_documented(readme: str) -> None:
    assert {"run", "crds", "demo"} <= {command for command, _ in cli_options()}
    assert documented_options(readme) == cli_options()


def string_constants(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield node.value


def variables_read() -> set[str]:
    """The environment variables the operator's code names: HW_*, HWCLOUD_*, POD_*."""
    pattern = re.compile(r"\b(?:HW|HWCLOUD|POD)_[A-Z][A-Z_]*[A-Z]\b")
    return {name for text in string_constants(OPERATOR) for name in pattern.findall(text)}


def test_every_environment_variable_is_documented(readme: str) -> None:
    read = variables_read()
    assert {"HW_REGION_NAME", "HWCLOUD_CREATE_TURNS", "POD_NAMESPACE"} <= read
    documented = {name for row in table(readme, "variable", "default") for name in named(row[0])}
    assert documented == read


def event_reasons() -> set[str]:
    """Every Event reason the operator posts: each `Event(type, reason, ...)` and
    `post_event(..., type, reason, ...)` names its type and reason as literals."""
    found = set()
    for path in sorted(OPERATOR.rglob("*.py")):
        found |= set(re.findall(r"\"(?:Normal|Warning)\",\s*\"(\w+)\"", path.read_text()))
    return found


def test_every_event_reason_is_documented(readme: str) -> None:
    reasons = event_reasons()
    assert {"Created", "Drift", "SecretNotLabelled"} <= reasons
    documented = {named(row[0])[0] for row in table(readme, "Event reason", "type")}
    assert documented == reasons


# -- chart values --------------------------------------------------------------------------

def leaves(values: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """values.yaml's keys, down to the scalars, lists and empty maps."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{path}.")
        else:
            yield path


def documented_values(text: str) -> set[str]:
    """The keys the README's values tables name: a row's first key in full (`a.b`), the
    others in full or under the first one's parent (`.c`, `.d.e`: `a.c`, `a.d.e`); a key
    stands for everything under it."""
    found = set()
    for head, rows in tables(text):
        if head[0] != "value":
            continue
        for row in rows:
            names = named(row[0])
            parent = names[0].rsplit(".", 1)[0] if "." in names[0] else ""
            found |= {parent + name if name.startswith(".") else name for name in names}
    return found


def test_every_chart_value_is_documented(readme: str) -> None:
    values = yaml.safe_load(VALUES.read_text())
    documented = documented_values(readme)
    missing = [leaf for leaf in leaves(values)
               if not any(leaf == key or leaf.startswith(f"{key}.") for key in documented)]
    assert not missing, f"values.yaml keys not in the README's values tables: {missing}"
    every_key = {key for leaf in leaves(values)
                 for key in (".".join(leaf.split(".")[:n])
                             for n in range(1, leaf.count(".") + 2))}
    assert documented <= every_key, f"not in values.yaml: {sorted(documented - every_key)}"


# -- the rest ------------------------------------------------------------------------------

def go_version_needed() -> str:
    """The highest `go` directive of the Go modules the tests build."""
    versions = [re.search(r"^go (\S+)$", path.read_text(), re.M).group(1)
                for path in [ROOT / "tools" / "kube" / "go.mod",
                             *sorted((ROOT / "tools" / "go").glob("*/go.mod"))]]
    return max(versions, key=lambda v: tuple(int(part) for part in v.split(".")))


def test_the_go_version_is_the_one_the_tools_need(readme: str) -> None:
    needed = f"Go {go_version_needed()} or newer"
    assert needed in readme
    assert needed in (ROOT / "docs" / "development.md").read_text()


def test_make_demo_and_make_test_are_the_first_commands(readme: str) -> None:
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block and block.start() < readme.index("\n## ")
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands[:2] == ["make demo", "make test"]


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_to_the_readmes_own_headings_resolve(readme: str) -> None:
    outside = re.sub(r"```.*?```", "", readme, flags=re.S)
    targets = {anchor(line.lstrip("#")) for line in outside.splitlines()
               if line.startswith("#")}
    targets |= set(re.findall(r'<a id="([^"]+)"></a>', outside))
    links = set(re.findall(r"\]\(#([^)]+)\)", outside))
    assert links and not links - targets, f"no such heading: {sorted(links - targets)}"


def test_the_checks_can_fail() -> None:
    """A table missing a row, or naming what the code lacks, is caught."""
    text = README.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `CloudBusy` |"))
    assert set(reasons_table(text.replace(row + "\n", ""))) != {r.value for r in Reason}
    assert "podLabels" not in documented_values(text.replace("`podLabels`, ", ""))
    keep_row = next(line for line in text.splitlines() if line.startswith("| `demo` | `--keep`"))
    assert documented_options(text.replace(keep_row + "\n", "")) != cli_options()
    env_row = next(line for line in text.splitlines() if line.startswith("| `POD_ID` |"))
    without = {name for row in table(text.replace(env_row + "\n", ""), "variable", "default")
               for name in named(row[0])}
    assert without != variables_read()
