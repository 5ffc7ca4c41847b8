"""The few Kubernetes calls the engine makes (Secrets, references, Events, status, wake-ups),
as JSON over KubeHttp (on the event loop, no threads)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from ..api import GROUP, KIND_NAMED, VERSION, KindDef
from .kube_http import KubeHttp, segment
from .registry import ObjectKey

WAKEUP_ANNOTATION = f"{GROUP}/wakeup"
# The label of the Secrets whose changes the operator watches: the ones it generates, and the
# ones users name (passwordSecretRef, secretKeySecretRef, credentialsSecretRef) and label so.
CREDENTIALS_LABEL = f"{GROUP}/credentials"
CREDENTIALS_SELECTOR = f"{CREDENTIALS_LABEL}=true"
EVENT_SOURCE = "hwcloud-access-operator"


@dataclass(frozen=True)
class SecretData:
    uid: str
    resource_version: str
    owner_uids: frozenset[str]
    data: dict[str, str]
    labelled: bool = False  # CREDENTIALS_LABEL is "true": the watch shows its changes


class Kube:
    def __init__(self, http: KubeHttp, cleared_on_wake: tuple[str, ...] = ()) -> None:
        """`cleared_on_wake`: annotations a wake-up removes (the handler's retry state, so
        that a pass waiting out a retry delay runs at once instead)."""
        self.http = http
        self.cleared_on_wake = cleared_on_wake
        self._secrets: dict[tuple[str, str], SecretData] = {}
        self._labelled: set[tuple[str, str]] = set()

    async def read_watched_secret(self, namespace: str, name: str) -> SecretData | None:
        """Like read_secret, but served from memory until `forget_secret` is called: for
        Secrets whose changes the operator watches (resources' credentials)."""
        cached = self._secrets.get((namespace, name))
        if cached is None:
            cached = await self.read_secret(namespace, name)
            if cached is not None:
                self._secrets[(namespace, name)] = cached
        return cached

    def cached_secret(self, namespace: str, name: str) -> SecretData | None:
        """The watched Secret as last read or created, without asking the API server."""
        return self._secrets.get((namespace, name))

    def forget_secret(self, namespace: str, name: str, resource_version: str | None = None
                      ) -> None:
        """The watch saw this version of the Secret (a cached other one is dropped), or
        (no version) nobody watches it any more."""
        cached = self._secrets.get((namespace, name))
        if cached is not None and cached.resource_version != resource_version:
            del self._secrets[(namespace, name)]
        if resource_version is None:
            self._labelled.discard((namespace, name))

    def labelled(self, namespace: str, name: str) -> bool:
        """Whether the Secret had CREDENTIALS_LABEL when last read or created here: if not
        (or it was not there), the watch does not show its changes."""
        return (namespace, name) in self._labelled

    async def read_secret(self, namespace: str, name: str) -> SecretData | None:
        try:
            secret = _secret_data(await self.http.request("GET", _secret_path(namespace, name)))
        except ApiException as error:
            if error.status == 404:
                self._labelled.discard((namespace, name))
                return None
            raise
        self._mark(namespace, name, secret)
        return secret

    def _mark(self, namespace: str, name: str, secret: SecretData) -> None:
        if secret.labelled:
            self._labelled.add((namespace, name))
        else:
            self._labelled.discard((namespace, name))

    async def create_owned_secret(self, namespace: str, name: str, data: dict[str, str],
                                  owner: dict[str, Any], labels: dict[str, str]
                                  ) -> SecretData | None:
        """Creates the Secret with CREDENTIALS_LABEL and keeps it as read (its watch sees it
        changing); None when one of that name already exists."""
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": data,
                "metadata": {
                    "name": name, "namespace": namespace,
                    "labels": {**labels, CREDENTIALS_LABEL: "true"},
                    "ownerReferences": [{
                        "apiVersion": owner["apiVersion"], "kind": owner["kind"],
                        "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                        "controller": True, "blockOwnerDeletion": False}]}}
        try:
            created = _secret_data(await self.create_secret(namespace, body))
        except ApiException as error:
            if error.status == 409:
                return None
            raise
        self._secrets[(namespace, name)] = created
        self._mark(namespace, name, created)
        return created

    async def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.http.request("POST", _secret_path(namespace, ""), body)

    async def post_event(self, namespace: str, involved: dict[str, Any], type_: str,
                         reason: str, message: str) -> None:
        """An Event on a namespaced object (`involved`: apiVersion, kind, metadata with name
        and uid), for a pass that has something to say outside its Outcome."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta = involved["metadata"]
        body = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {"apiVersion": involved["apiVersion"], "kind": involved["kind"],
                               "name": meta["name"], "namespace": namespace,
                               "uid": meta["uid"]},
            "type": type_, "reason": reason, "message": message, "count": 1,
            "firstTimestamp": now, "lastTimestamp": now,
            "source": {"component": EVENT_SOURCE}, "reportingComponent": EVENT_SOURCE}
        await self.http.request("POST", f"/api/v1/namespaces/{segment(namespace)}/events",
                                body)

    async def get_object(self, kind: KindDef, name: str,
                         namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return await self.http.request("GET", _object_path(kind, namespace, name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    async def list_objects(self, kind: KindDef, namespace: str) -> list[dict[str, Any]]:
        """Every object of a namespaced kind in one namespace."""
        found = await self.http.request("GET", _object_path(kind, namespace, ""))
        return found.get("items") or []

    async def list_namespaces(self) -> list[dict[str, Any]]:
        return (await self.http.request("GET", "/api/v1/namespaces")).get("items") or []

    async def patch_status(self, kind: KindDef, namespace: str, name: str,
                           status: dict[str, Any]) -> None:
        """Writes status fields now, before the handler returns: an intent recorded ahead of
        the cloud call it announces."""
        await self.http.request("PATCH", _object_path(kind, namespace, name) + "/status",
                                {"status": status})

    async def wake(self, key: ObjectKey, why: str) -> None:
        """Makes the operator look at an object now: a metadata change triggers its handler.
        The time is in microseconds: a second wake-up within the same second, for the same
        reason, is a change too."""
        moment = datetime.now(UTC).isoformat(timespec="microseconds")
        cleared = dict.fromkeys(self.cleared_on_wake)
        patch = {"metadata": {"annotations": {**cleared, WAKEUP_ANNOTATION: f"{moment} {why}"}}}
        kind = KIND_NAMED[key.kind]
        try:
            await self.http.request("PATCH", _object_path(kind, key.namespace, key.name), patch)
        except ApiException as error:
            if error.status != 404:
                raise


def _secret_path(namespace: str, name: str) -> str:
    """A Secret's path, or (no name) the namespace's Secrets."""
    path = f"/api/v1/namespaces/{segment(namespace)}/secrets"
    return f"{path}/{segment(name)}" if name else path


def _object_path(kind: KindDef, namespace: str | None, name: str) -> str:
    """A custom object's path, or (no name) its collection in the namespace."""
    path = f"/apis/{GROUP}/{VERSION}"
    if kind.namespaced:
        path += f"/namespaces/{segment(namespace or '')}"
    path += f"/{kind.plural}"
    return f"{path}/{segment(name)}" if name else path


def _secret_data(secret: dict[str, Any]) -> SecretData:
    metadata = secret.get("metadata") or {}
    data = {k: base64.b64decode(v).decode("utf-8", "replace")
            for k, v in (secret.get("data") or {}).items()}
    owners = frozenset(ref.get("uid", "") for ref in metadata.get("ownerReferences") or [])
    labelled = (metadata.get("labels") or {}).get(CREDENTIALS_LABEL) == "true"
    return SecretData(uid=metadata.get("uid", ""),
                      resource_version=metadata.get("resourceVersion", ""),
                      owner_uids=owners, data=data, labelled=labelled)


async def fingerprint_key(kube: Kube, namespace: str, name: str) -> bytes:
    """The operator's HMAC key for credential fingerprints, kept in a Secret it creates once."""
    for _ in range(2):
        secret = await kube.read_secret(namespace, name)
        if secret is not None and secret.data.get("key"):
            return secret.data["key"].encode()
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": {f"{GROUP}/purpose": "fingerprint-key"}},
                "stringData": {"key": secrets.token_hex(32)}}
        try:
            await kube.create_secret(namespace, body)
        except ApiException as error:
            if error.status != 409:  # another replica made it: read it back
                raise
    raise RuntimeError(f"Secret {namespace}/{name} has no usable 'key'")
