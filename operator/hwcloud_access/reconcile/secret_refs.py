"""Which resources use which Secret, so that a change of a Secret's content wakes them."""

from __future__ import annotations

from collections import defaultdict

Key = tuple[str, str, str]  # kind, namespace, name


class SecretRefs:
    def __init__(self) -> None:
        self._users: dict[tuple[str, str], set[Key]] = defaultdict(set)
        self._by_resource: dict[Key, tuple[str, str]] = {}
        self._versions: dict[tuple[str, str], str] = {}

    def track(self, resource: Key, secret_name: str, resource_version: str) -> None:
        """`resource` used this version of the Secret in its last pass."""
        self.untrack(resource)
        secret = (resource[1], secret_name)
        self._users[secret].add(resource)
        self._by_resource[resource] = secret
        self._versions.setdefault(secret, resource_version)

    def untrack(self, resource: Key) -> None:
        secret = self._by_resource.pop(resource, None)
        if secret is not None:
            self._users[secret].discard(resource)
            if not self._users[secret]:
                del self._users[secret]
                self._versions.pop(secret, None)

    def watched(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._users

    def changed(self, namespace: str, name: str, resource_version: str) -> set[Key]:
        """The resources to wake for this version of the Secret (none if already seen)."""
        secret = (namespace, name)
        if secret not in self._users:
            return set()
        previous = self._versions.get(secret)
        self._versions[secret] = resource_version
        if previous == resource_version:
            return set()
        return set(self._users.get(secret, ()))
