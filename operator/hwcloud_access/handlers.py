"""kopf registrations only: each handler turns the event into one engine call and the
engine's Outcome into status, Events, metrics and kopf's retry signals."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any, NamedTuple

import aiohttp
import kopf
from kubernetes.client.exceptions import ApiException

from . import metrics
from .api import ALL_KINDS, GROUP, HUAWEI_CLOUD_ACCOUNT, KIND_NAMED, VERSION
from .kopf_memory import MemoryDiffBaseStorage
from .reconcile.accounts import deletion_outcome
from .reconcile.acting import always_acting
from .reconcile.adapters import ADAPTERS
from .reconcile.conditions import conditions_for, ready_reason
from .reconcile.kube import CREDENTIALS_SELECTOR
from .reconcile.outcome import Next, Outcome, Reason, ReconcileProblem
from .reconcile.ownership import claim_of
from .reconcile.registry import ObjectKey
from .reconcile.resource import RECONCILE_REQUEST_ANNOTATION, Resource
from .runtime import OperatorSettings, Runtime, build_runtime, operator_settings

KOPF_PREFIX = f"kopf.{GROUP}"
RECONCILE_ID = "reconcile"
DELETE_ID = "delete"
MANAGED_KINDS = tuple(kind for kind in ALL_KINDS if kind is not HUAWEI_CLOUD_ACCOUNT)
_runtime: Runtime | None = None


def runtime() -> Runtime:
    if _runtime is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return _runtime


def _settings(memo: kopf.Memo) -> OperatorSettings:
    """What `hwcloud-access run` decided (its memo); the defaults and the environment when
    kopf runs the module some other way."""
    return memo.get("settings") or operator_settings(namespaces=[])


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    global _runtime
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    # kopf's own bookkeeping lives under kopf.<group>/: kopf ignores the annotations under
    # its prefix when diffing, and ours (paused, wakeup, ...) must count as changes.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX)
    diffbase = MemoryDiffBaseStorage()  # no last-handled annotation to PATCH on every change
    settings.persistence.diffbase_storage = diffbase
    settings.posting.level = logging.CRITICAL  # our own Events only, not kopf's log lines
    settings.watching.server_timeout = 300
    # kopf holds a handler that failed until its retry delay is over, whatever the events;
    # a wake-up (the Secret fixed, the group Ready, a turn free, a deleting group's last
    # user gone) removes that state instead.
    progress = settings.persistence.progress_storage
    retry_state = (*progress.make_keys(RECONCILE_ID), *progress.make_keys(DELETE_ID))
    _runtime = await build_runtime(_settings(memo), retry_state,
                                   memo.get("acting", always_acting))
    _runtime.registry.holds(diffbase)
    _runtime.start_background()


@kopf.on.login()
async def login(logger: Any, settings: kopf.OperatorSettings, memo: kopf.Memo,
                **kwargs: Any) -> kopf.ConnectionInfo | kopf.AiohttpSession | None:
    """kopf's own login through the kubernetes client, with a bounded pool of API
    connections: unbounded, kopf opens a TLS connection, with its buffers, for every
    concurrent request (490 at the peak with 5,000 objects; 104 with the pool)."""
    info = kopf.login_via_client(logger=logger, settings=settings, **kwargs)
    limit = _settings(memo).kopf_connections
    if info is None or not limit:
        return info
    logger.info(f"at most {limit} connections to the API server")
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(), proxy=info.proxy_url, trust_env=info.trust_env)
    return kopf.AiohttpSession(server=info.server, default_namespace=info.default_namespace,
                               priority=info.priority, expiration=info.expiration,
                               aiohttp_session=session)


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if _runtime is not None:
        await _runtime.aclose()


def _resource(body: kopf.Body) -> Resource:
    return Resource(KIND_NAMED[body["kind"]], dict(body))


def _finish(resource: Resource, patch: kopf.Patch, outcome: Outcome) -> None:
    """Writes the outcome to status (what the API server does not hold yet), posts its
    Events, and tells kopf what comes next."""
    status = {**outcome.status,
              "conditions": conditions_for(outcome, resource.written.get("conditions"),
                                           resource.generation),
              "observedGeneration": resource.generation}
    requested = resource.annotations.get(RECONCILE_REQUEST_ANNOTATION)
    if requested is not None:  # the pass a user asked for has run
        status["lastHandledReconcileAt"] = requested
    for key, value in status.items():
        if resource.written.get(key) != value:  # unchanged fields cost no API write
            patch.status[key] = value
    for event in outcome.events:
        kopf.event(resource.body, type=event.type, reason=event.reason, message=event.message)
    result = "ready" if outcome.ready else outcome.reason.value
    metrics.RECONCILES.labels(resource.kind.kind, result).inc()
    metrics.READY.set(resource.key, outcome.ready)
    if outcome.next is Next.REQUEUE:
        raise kopf.TemporaryError(outcome.message, delay=outcome.delay)
    if outcome.next is Next.TERMINAL:
        raise kopf.PermanentError(outcome.message)


async def reconcile(body: kopf.Body, patch: kopf.Patch, retry: int, references: kopf.Index,
                    **_: Any) -> None:
    rt = runtime()
    resource = _resource(body)
    adapter = ADAPTERS[resource.kind.kind]
    outcome, resource = await rt.engine.settle(adapter, resource, attempt=retry,
                                               claims=references)
    key = resource.key
    rt.drift.follow(key, outcome, adapter.cloud_id)
    status = {**resource.written, **outcome.status,
              "conditions": conditions_for(outcome, None, resource.generation)}
    await rt.dependencies.passed(key, dict(body.get("spec") or {}), status)
    _finish(resource, patch, outcome)


async def delete(body: kopf.Body, patch: kopf.Patch, retry: int, references: kopf.Index,
                 **_: Any) -> None:
    """kopf releases the finalizer when this returns: only once the engine says the cloud
    object is gone or let be; every other outcome is tried again (never PermanentError)."""
    rt = runtime()
    resource = _resource(body)
    key = resource.key
    rt.drift.forget(key)
    adapter = ADAPTERS[resource.kind.kind]
    outcome = await rt.engine.delete(adapter, resource, attempt=retry, claims=references)
    if not outcome.released:  # kopf would release the finalizer after a PermanentError
        outcome.next, outcome.delay = Next.REQUEUE, outcome.delay or 1.0
        _finish(resource, patch, outcome)  # raises kopf.TemporaryError
        return
    for waiting in rt.engine.ownership.release(adapter.key_of(body), resource.uid):
        await rt.registry.wake(waiting, "the cloud object's owner is gone")
    rt.registry.forget(key)
    _finish(resource, patch, outcome)


class AccountNamed(NamedTuple):
    """The index key of the resources that name this HuaweiCloudAccount in spec.accountRef."""

    account: str


async def references(body: kopf.Body, spec: kopf.Spec, **_: Any) -> dict[Hashable, Any]:
    """What one resource refers to, in one kopf index (kopf calls every index function on
    every event of every resource, so one function, not one per question):

    - its claim on a cloud object, CloudKey -> Claimant (reconcile/ownership.py): kopf fills
      the index from every resource before any handler runs, so ownership survives restarts;
    - the account it names, AccountNamed -> its ObjectKey: an account's deletion waits for
      them, and they are woken when the account's Ready reason changes;
    - what its adapter adds (a managed group's id -> its namespace: Adapter.references).

    ({} when neither: kopf would keep what an earlier result said for None.)"""
    adapter = ADAPTERS[body["kind"]]
    entry: dict[Hashable, Any] = {**claim_of(adapter.key_of(body), dict(body)),
                                  **adapter.references(body)}
    name = (spec.get("accountRef") or {}).get("name")
    if name:
        entry[AccountNamed(name)] = ObjectKey(body["kind"], body.metadata.namespace,
                                              body.metadata.name)
    return entry


for _kind in MANAGED_KINDS:
    kopf.index(GROUP, VERSION, _kind.plural, id="references")(references)
    for _register in (kopf.on.create, kopf.on.update, kopf.on.resume):
        _register(GROUP, VERSION, _kind.plural, id=RECONCILE_ID)(reconcile)
    kopf.on.delete(GROUP, VERSION, _kind.plural, id=DELETE_ID)(delete)


@kopf.on.create(GROUP, VERSION, HUAWEI_CLOUD_ACCOUNT.plural, id="account")
@kopf.on.update(GROUP, VERSION, HUAWEI_CLOUD_ACCOUNT.plural, id="account")
@kopf.on.resume(GROUP, VERSION, HUAWEI_CLOUD_ACCOUNT.plural, id="account")
async def account(body: kopf.Body, patch: kopf.Patch, name: str, references: kopf.Index,
                  **_: Any) -> None:
    """An account is Ready when the cloud accepted the credentials its Secret holds (an IAM
    login, or a signed AK/SK check: Accounts.check, asked only when the answer is not known
    already). Run again when it or its Secret changes, or the cloud's answer does; the
    resources naming it are woken when its Ready reason changes (they wait while it cannot
    be used)."""
    rt = runtime()
    resource = _resource(body)
    try:
        outcome = Outcome(ready=True, reason=Reason.AVAILABLE,
                          message=await rt.accounts.check(name))
    except ReconcileProblem as problem:
        outcome = rt.engine.problem_outcome(problem)
    changed = resource.generation != resource.status.get("observedGeneration")
    if changed or outcome.reason != ready_reason(resource.status):
        # Its spec (e.g. allowedNamespaces) or whether it can be used changed.
        why = f"HuaweiCloudAccount {name} changed" if changed else \
            f"HuaweiCloudAccount {name} is now {outcome.reason}"
        await asyncio.gather(*(rt.registry.wake(user, why)
                               for user in references.get(AccountNamed(name), ())))
    _finish(resource, patch, outcome)


@kopf.on.delete(GROUP, VERSION, HUAWEI_CLOUD_ACCOUNT.plural, id="account-delete")
async def account_deleted(body: kopf.Body, patch: kopf.Patch, name: str, retry: int,
                          references: kopf.Index, **_: Any) -> None:
    """kopf keeps the account's finalizer while resources name it (InUse: retried, never a
    PermanentError, after which kopf would release it); then the account is forgotten."""
    rt = runtime()
    resource = _resource(body)
    outcome = deletion_outcome(len(references.get(AccountNamed(name), ())), retry)
    if outcome.next is Next.DONE:
        await rt.accounts.remove(name)
        rt.engine.views.release(name)
        rt.registry.forget(resource.key)
    _finish(resource, patch, outcome)


@kopf.on.event("", "v1", "namespaces")
async def namespace_changed(event: kopf.RawEvent, name: str, labels: kopf.Labels,
                            **_: Any) -> None:
    """A namespace's labels decide which accounts admit it: when they change, the resources
    there whose account admits only some namespaces (or that one refused) look again."""
    if _runtime is None:
        return
    gone = event["type"] == "DELETED"
    if not _runtime.accounts.namespaces.seen(name, None if gone else labels) or gone:
        return
    rt = _runtime
    try:
        found = await asyncio.gather(*(rt.kube.list_objects(kind, name)
                                       for kind in MANAGED_KINDS))
    except ApiException as error:
        if error.status == 403:  # a namespace this operator does not watch
            return
        raise
    concerned = [ObjectKey(kind.kind, name, obj["metadata"]["name"])
                 for kind, objects in zip(MANAGED_KINDS, found, strict=True) for obj in objects
                 if rt.accounts.restricted(((obj.get("spec") or {}).get("accountRef") or {})
                                           .get("name"))
                 or ready_reason(obj.get("status")) == Reason.ACCOUNT_NOT_ALLOWED]
    await asyncio.gather(*(rt.registry.wake(key, f"namespace {name}'s labels changed")
                           for key in concerned))


@kopf.on.startup()
async def watch_labelled_secrets(settings: kopf.OperatorSettings, **_: Any) -> None:
    """kopf lists and watches only the Secrets labelled for it: the selector goes into its
    list and watch requests, so the API server sends it no other Secret. (A handler's
    `labels=` filter would not: kopf matches it against every Secret it has received.)"""
    settings.watching.label_selectors["v1", "secrets"] = CREDENTIALS_SELECTOR


@kopf.on.event("", "v1", "secrets",
               when=lambda namespace, name, **_: _runtime is not None
               and _runtime.secret_refs.watched(namespace, name))
async def secret_changed(namespace: str, name: str, meta: kopf.Meta, **_: Any) -> None:
    """A labelled Secret some resource or account uses changed, appeared, was deleted or
    lost its label (the API server sends that as a deletion): wake them (resources compare
    fingerprints; an account re-reads it). Event handlers keep no state on the Secret:
    nothing of it lands in annotations. Unlabelled Secrets: SecretWatch.poll."""
    await runtime().secret_watch.seen(namespace, name, meta.get("resourceVersion", ""))
