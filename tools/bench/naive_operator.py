"""The benchmark's baseline: the simplest correct kopf operator for the same resources.

    python tools/bench/naive_operator.py -n NAMESPACE      (env: HW_* as for the operator)

What it does, per object, in one kopf ``create`` handler:

1. (VpnUser) the group's cloud id from the VpnUserGroup's status (a kopf index); not
   there yet: retry.
2. The password / secret key: read from its Secret ``<name>-vpn-credentials`` /
   ``<name>-mq-credentials``, or generated (the project's generator) and written there.
3. Create, with ``X-Client-Token`` = uuid5(uid), so a repeat after a lost answer or a crash
   gives back the same object (the cloud's own idempotency; no adoption logic needed).
   The id goes to ``status.id``.
4. Readiness by one GET of that object per attempt; 2xx: Ready=True.

Any error (VPN.0030, 5xx, 404 while the cloud applies, a transport error) raises
``kopf.TemporaryError`` with a FIXED delay (``BENCH_BASELINE_DELAY``, default 1 s) and
kopf runs the handler again: no backoff, no pacing, no shared listings, no coalescing.

Cloud calls: plain ``httpx.AsyncClient`` signed by the project's AK/SK signer
(``hwcloud_access.cloud.auth.AkSkAuth``); not the project's cloud client, so no limiter
and no client-side retry at all. kopf's own Events are off (as in the operator) so that
the comparison is of the reconcile design, not of Event traffic. No delete handler (the
benchmark does not delete), hence no finalizer.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import uuid
from typing import Any

import httpx
import kopf
import kubernetes
from pydantic import SecretStr

from hwcloud_access.cloud.auth import AkSkAuth
from hwcloud_access.reconcile.credentials import generate

GROUP, VERSION = "access.hwcloud.dev", "v1alpha1"
DELAY = float(os.environ.get("BENCH_BASELINE_DELAY", "1.0"))
TOKENS = uuid.UUID("0c6f5a8e-2b1d-4e7f-9a3c-5d8e1f2a4b6c")
PROJECT = os.environ.get("HW_PROJECT_ID", "")


def _now() -> str:
    import datetime

    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready(patch: kopf.Patch, body: kopf.Body, **status: Any) -> None:
    for key, value in status.items():
        patch.status[key] = value
    generation = body["metadata"].get("generation")
    patch.status["observedGeneration"] = generation
    patch.status["conditions"] = [{
        "type": "Ready", "status": "True", "reason": "Available",
        "message": "created (naive baseline)", "observedGeneration": generation,
        "lastTransitionTime": _now()}]


def _retry(what: str) -> kopf.TemporaryError:
    return kopf.TemporaryError(what, delay=DELAY)


async def _call(memo: kopf.Memo, method: str, url: str, **kw: Any) -> httpx.Response:
    try:
        return await memo.http.request(method, url, **kw)
    except httpx.HTTPError as error:
        raise _retry(f"{method} {url}: {type(error).__name__}") from None


def _check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise _retry(f"{what}: {response.status_code} {response.text[:120]}")
    return response.json() if response.content else {}


async def _credential(memo: kopf.Memo, body: kopf.Body, secret_name: str, key: str,
                      forbidden: str) -> str:
    """The value in the object's Secret, generated and written there the first time."""
    namespace = body["metadata"]["namespace"]

    def read_or_create() -> str:
        core = memo.core
        try:
            found = core.read_namespaced_secret(secret_name, namespace)
            return base64.b64decode(found.data[key]).decode()
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                raise
        value = generate(20, forbidden=(forbidden, forbidden[::-1]))
        owner = {"apiVersion": body["apiVersion"], "kind": body["kind"],
                 "name": body["metadata"]["name"], "uid": body["metadata"]["uid"]}
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": secret_name, "ownerReferences": [owner]},
                  "stringData": {key: value}}
        try:
            core.create_namespaced_secret(namespace, secret)
        except kubernetes.client.ApiException as error:
            if error.status != 409:
                raise
            found = core.read_namespaced_secret(secret_name, namespace)
            return base64.b64decode(found.data[key]).decode()
        return value

    try:
        return await asyncio.to_thread(read_or_create)
    except kubernetes.client.ApiException as error:
        raise _retry(f"Secret {secret_name}: {error.status}") from None


memo_urls: dict[str, str] = {}  # service -> endpoint, set at start-up


def _vpn_base(server_id: str) -> str:
    return f"{memo_urls['vpn']}/v5/{PROJECT}/p2c-vpn-gateways/vpn-servers/{server_id}"


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.level = logging.CRITICAL
    settings.watching.server_timeout = 300
    memo_urls["vpn"] = os.environ["HW_VPN_ENDPOINT"].rstrip("/")
    memo_urls["dms"] = os.environ["HW_DMS_ENDPOINT"].rstrip("/")
    auth = AkSkAuth(SecretStr(os.environ["HW_ACCESS_KEY"]), SecretStr(os.environ["HW_SECRET_KEY"]),
                    project_id=PROJECT)
    memo.http = httpx.AsyncClient(auth=auth, timeout=10.0,
                                  limits=httpx.Limits(max_connections=100))
    kubernetes.config.load_kube_config()
    memo.core = kubernetes.client.CoreV1Api()


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    await memo.http.aclose()


@kopf.index(GROUP, VERSION, "vpnusergroups")
def group_ids(namespace: str, name: str, status: kopf.Status, **_: Any) -> dict:
    return {(namespace, name): status.get("id") if _is_ready(status) else None}


def _is_ready(status: kopf.Status) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or [])


@kopf.on.create(GROUP, VERSION, "vpnusergroups")
async def group(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, uid: str, name: str,
                patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    base = _vpn_base(spec["vpnServerId"])
    group_id = status.get("id")
    if not group_id:
        answer = await _call(memo, "POST", f"{base}/groups", headers={
            "X-Client-Token": str(uuid.uuid5(TOKENS, uid))}, json={"user_group": {
                "name": spec.get("name") or name, "description": spec.get("description", "")}})
        group_id = _check(answer, "create group")["user_group"]["id"]
        patch.status["id"] = group_id
    _check(await _call(memo, "GET", f"{base}/groups/{group_id}"), "show group")
    _ready(patch, body, id=group_id)


@kopf.on.create(GROUP, VERSION, "vpnusers")
async def user(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, uid: str, name: str,
               namespace: str, patch: kopf.Patch, memo: kopf.Memo, group_ids: kopf.Index,
               **_: Any) -> None:
    base = _vpn_base(spec["vpnServerId"])
    user_id = status.get("id")
    if not user_id:
        group_id = spec.get("groupId")
        if not group_id and spec.get("groupRef"):
            found = list(group_ids.get((namespace, spec["groupRef"]["name"]), []))
            group_id = found[0] if found else None
            if not group_id:
                raise _retry("the group is not Ready yet")
        cloud_name = spec.get("name") or name
        password = await _credential(memo, body, f"{name}-vpn-credentials", "password",
                                     cloud_name)
        row = {"name": cloud_name, "password": password,
               "description": spec.get("description", "")}
        if group_id:
            row["user_group_id"] = group_id
        answer = await _call(memo, "POST", f"{base}/users", json={"user": row},
                             headers={"X-Client-Token": str(uuid.uuid5(TOKENS, uid))})
        user_id = _check(answer, "create user")["user"]["id"]
        patch.status["id"] = user_id
        patch.status["credentialsSecret"] = f"{name}-vpn-credentials"
    _check(await _call(memo, "GET", f"{base}/users/{user_id}"), "show user")
    _ready(patch, body, id=user_id, credentialsSecret=f"{name}-vpn-credentials")


@kopf.on.create(GROUP, VERSION, "mqusers")
async def mq_user(body: kopf.Body, spec: kopf.Spec, status: kopf.Status, uid: str, name: str,
                  patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    base = f"{memo_urls['dms']}/v2/{PROJECT}/instances/{spec['instanceId']}/users"
    access_key = spec["accessKey"]
    if not status.get("id"):
        secret_key = await _credential(memo, body, f"{name}-mq-credentials", "secretKey",
                                       access_key)
        row = {"access_key": access_key, "secret_key": secret_key,
               "white_remote_address": spec.get("whiteRemoteAddress", ""),
               "admin": bool(spec.get("admin", False)),
               "default_topic_perm": spec.get("defaultTopicPerm", "DENY"),
               "default_group_perm": spec.get("defaultGroupPerm", "DENY")}
        answer = await _call(memo, "POST", base, json=row,
                             headers={"X-Client-Token": str(uuid.uuid5(TOKENS, uid))})
        _check(answer, "create MQ user")
        patch.status["id"] = access_key
        patch.status["credentialsSecret"] = f"{name}-mq-credentials"
    _check(await _call(memo, "GET", f"{base}/{access_key}"), "show MQ user")
    _ready(patch, body, id=access_key, credentialsSecret=f"{name}-mq-credentials")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--namespace", action="append", required=True)
    args = parser.parse_args()
    kopf.configure(verbose=False)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    kopf.run(namespaces=args.namespace, standalone=True)


if __name__ == "__main__":
    main()
