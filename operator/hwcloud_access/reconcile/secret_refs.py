"""Which resources (and HuaweiCloudAccounts) use which Secret, so that a change of a Secret's
content, or its creation or deletion, wakes them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from .registry import ObjectKey


class SecretRefs:
    def __init__(self, on_unwatched: Callable[[str, str], None] = lambda ns, name: None
                 ) -> None:
        """`on_unwatched(namespace, name)`: no resource uses that Secret any more, so its
        changes are no longer watched (a copy kept of it would go stale)."""
        self.on_unwatched = on_unwatched
        self._users: dict[tuple[str, str], set[ObjectKey]] = defaultdict(set)
        self._by_resource: dict[ObjectKey, tuple[str, str]] = {}
        self._versions: dict[tuple[str, str], str] = {}
        self._told_unlabelled: set[ObjectKey] = set()

    def track(self, resource: ObjectKey, secret_name: str, resource_version: str,
              namespace: str | None = None) -> None:
        """`resource` used this version of the Secret ("": it was not there) in its last
        pass. The Secret is in the resource's namespace, or in `namespace` (a cluster-scoped
        HuaweiCloudAccount's)."""
        secret = (resource[1] if namespace is None else namespace, secret_name)
        if self._by_resource.get(resource) == secret:
            return
        self.forget(resource)
        self._users[secret].add(resource)
        self._by_resource[resource] = secret
        self._versions.setdefault(secret, resource_version)

    def forget(self, resource: ObjectKey) -> None:
        self._told_unlabelled.discard(resource)
        secret = self._by_resource.pop(resource, None)
        if secret is not None:
            self._users[secret].discard(resource)
            if not self._users[secret]:
                del self._users[secret]
                self._versions.pop(secret, None)
                self.on_unwatched(*secret)

    def watched(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._users

    def secrets(self) -> list[tuple[str, str]]:
        """(namespace, name) of every Secret in use."""
        return list(self._users)

    def first_unlabelled(self, resource: ObjectKey, labelled: bool) -> bool:
        """Whether `resource` is to be told that its Secret lacks the watch's label: the
        first time it finds it so since it started using it or since it last had the label."""
        if labelled:
            self._told_unlabelled.discard(resource)
            return False
        if resource in self._told_unlabelled:
            return False
        self._told_unlabelled.add(resource)
        return True

    def changed(self, namespace: str, name: str, resource_version: str) -> set[ObjectKey]:
        """The resources to wake for this version of the Secret (none if already seen)."""
        secret = (namespace, name)
        if secret not in self._users:
            return set()
        previous = self._versions.get(secret)
        self._versions[secret] = resource_version
        if previous == resource_version:
            return set()
        return set(self._users.get(secret, ()))
