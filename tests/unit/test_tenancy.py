"""Namespace selectors of accounts: Kubernetes' label-selector semantics, kubectl's syntax on
the command line, and the namespaces' labels as last seen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hwcloud_access.api.base import AllowedNamespaces, LabelSelector
from hwcloud_access.reconcile.tenancy import (
    ALL,
    NamespaceLabels,
    admits,
    parse_allowed_namespaces,
    selects,
)


def selector(**data) -> LabelSelector:
    return LabelSelector.model_validate(data)


@pytest.mark.parametrize("labels,expected", [
    ({"team": "a", "env": "dev"}, True),
    ({"team": "a", "env": "prod"}, False),  # env NotIn (prod)
    ({"team": "b", "env": "dev"}, False),  # matchLabels
    ({"team": "a", "env": "dev", "legacy": ""}, False),  # legacy DoesNotExist
    ({"team": "a"}, False),  # tier Exists
])
def test_selects_as_kubernetes_does(labels, expected) -> None:
    sel = selector(matchLabels={"team": "a"}, matchExpressions=[
        {"key": "env", "operator": "NotIn", "values": ["prod"]},
        {"key": "legacy", "operator": "DoesNotExist"},
        {"key": "env", "operator": "Exists"}])
    assert selects(sel, labels) is expected


def test_all_admits_everyone_and_a_selector_only_known_namespaces() -> None:
    assert admits(ALL, None) and admits(ALL, {})
    only_a = AllowedNamespaces.model_validate({"from": "Selector",
                                               "selector": {"matchLabels": {"team": "a"}}})
    assert admits(only_a, {"team": "a"}) and not admits(only_a, {"team": "b"})
    assert not admits(only_a, None)


@pytest.mark.parametrize("bad", [{"from": "Selector"},
                                 {"from": "All", "selector": {"matchLabels": {"a": "b"}}},
                                 {"from": "Some"}])
def test_allowed_namespaces_must_be_consistent(bad) -> None:
    with pytest.raises(ValidationError):
        AllowedNamespaces.model_validate(bad)


def test_in_without_values_is_refused() -> None:
    with pytest.raises(ValidationError, match="takes one or more values"):
        selector(matchExpressions=[{"key": "a", "operator": "In"}])


def test_the_command_line_form() -> None:
    assert parse_allowed_namespaces("All") == ALL and parse_allowed_namespaces("") == ALL
    parsed = parse_allowed_namespaces("team=a, env in (dev, test),tier!=db,!legacy,owner")
    assert parsed.from_ == "Selector"
    assert parsed.selector.match_labels == {"team": "a"}
    assert [(r.key, r.operator, r.values) for r in parsed.selector.match_expressions] == [
        ("env", "In", ["dev", "test"]), ("tier", "NotIn", ["db"]),
        ("legacy", "DoesNotExist", []), ("owner", "Exists", [])]
    assert admits(parsed, {"team": "a", "env": "dev", "tier": "web", "owner": "x"})
    with pytest.raises(ValueError, match="'team~a' is not a label requirement"):
        parse_allowed_namespaces("team~a")


def test_label_changes_are_reported() -> None:
    namespaces = NamespaceLabels()
    assert namespaces.seen("a", {"x": "1"}) and not namespaces.seen("a", {"x": "1"})
    assert namespaces.seen("a", {"x": "2"}) and namespaces.get("a") == {"x": "2"}
    assert namespaces.seen("a", None) and namespaces.get("a") is None
