"""Which namespaces may use an account (`allowedNamespaces`, as Gateway API's allowedRoutes):
label selectors, their command-line form, and the namespaces' labels as last seen.

The labels come from a watch on namespaces (`NamespaceLabels.seen`), loaded once at start-up,
so that a check costs no API call and a label change wakes the resources it concerns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..api.base import AllowedNamespaces, LabelSelector, LabelSelectorRequirement
from .kube import Kube

ALL = AllowedNamespaces()


def selects(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Whether a label selector matches these labels (Kubernetes' semantics)."""
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        value = labels.get(requirement.key)
        if not {
            "In": present and value in requirement.values,
            "NotIn": not present or value not in requirement.values,
            "Exists": present,
            "DoesNotExist": not present,
        }[requirement.operator]:
            return False
    return True


def admits(allowed: AllowedNamespaces, labels: Mapping[str, str] | None) -> bool:
    """Whether a namespace with these labels (None: unknown) may use the account."""
    if allowed.from_ == "All":
        return True
    return labels is not None and allowed.selector is not None and \
        selects(allowed.selector, labels)


_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALS = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


def parse_allowed_namespaces(text: str) -> AllowedNamespaces:
    """`All`, or a label selector in kubectl's syntax (`team=a,env in (dev,test),!legacy`),
    as given to `--default-account-namespaces`. ValueError says what is wrong."""
    if text.strip() in ("", "All"):
        return ALL
    labels: dict[str, str] = {}
    expressions: list[LabelSelectorRequirement] = []
    for part in _split(text):
        if match := _SET.match(part):
            values = [v.strip() for v in match[3].split(",") if v.strip()]
            expressions.append(LabelSelectorRequirement(
                key=match[1], operator="In" if match[2] == "in" else "NotIn", values=values))
        elif match := _EQUALS.match(part):
            if match[2] == "!=":
                expressions.append(LabelSelectorRequirement(key=match[1], operator="NotIn",
                                                            values=[match[3]]))
            else:
                labels[match[1]] = match[3]
        elif match := _EXISTS.match(part):
            expressions.append(LabelSelectorRequirement(
                key=match[2], operator="DoesNotExist" if match[1] else "Exists"))
        else:
            raise ValueError(f"{part.strip()!r} is not a label requirement (key=value, "
                             "key!=value, key in (a,b), key notin (a,b), key or !key)")
    return AllowedNamespaces.model_validate({"from": "Selector", "selector": LabelSelector(
        match_labels=labels, match_expressions=expressions)})


def _split(text: str) -> list[str]:
    """The selector's requirements: commas outside parentheses separate them."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


class NamespaceLabels:
    """Every namespace's labels as last seen."""

    def __init__(self) -> None:
        self._labels: dict[str, dict[str, str]] = {}

    async def load(self, kube: Kube) -> None:
        for namespace in await kube.list_namespaces():
            metadata = namespace["metadata"]
            self._labels[metadata["name"]] = dict(metadata.get("labels") or {})

    def get(self, namespace: str) -> dict[str, str] | None:
        return self._labels.get(namespace)

    def seen(self, namespace: str, labels: Mapping[str, str] | None) -> bool:
        """Records a namespace's labels (None: it is gone); True when they changed."""
        before = self._labels.get(namespace)
        if labels is None:
            self._labels.pop(namespace, None)
            return before is not None
        self._labels[namespace] = dict(labels)
        return before != self._labels[namespace]
