"""The operator's long-lived parts, built once at start-up from its settings."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import kubernetes

from . import metrics
from .api.base import AllowedNamespaces
from .cloud import AccountConfig, CloudSession
from .reconcile.accounts import Accounts, default_account_from_env
from .reconcile.acting import Acting, always_acting
from .reconcile.admission import Admission
from .reconcile.credentials import Fingerprinter
from .reconcile.dependencies import Dependencies
from .reconcile.drift import DriftSweeper
from .reconcile.engine import Engine
from .reconcile.kube import Kube, fingerprint_key
from .reconcile.kube_http import KubeHttp
from .reconcile.registry import ObjectRegistry
from .reconcile.secret_refs import SecretRefs
from .reconcile.secret_watch import SecretWatch
from .reconcile.tenancy import ALL, NamespaceLabels, parse_allowed_namespaces
from .reconcile.views import Views

KUBE_CONNECTIONS = 32  # the engine's own calls (Secrets, status, Events, wake-ups) at once
# kopf's connections to the API server: requests at once, plus its watch streams (which
# hold a connection each): per namespace the three kinds, Secrets and peering; cluster-wide
# the accounts, the cluster peering and the namespaces.
KOPF_REQUEST_CONNECTIONS = 64
KOPF_WATCHES_PER_NAMESPACE = 5
KOPF_CLUSTER_WATCHES = 3
KOPF_CONNECTIONS_ENV = "HWCLOUD_KOPF_CONNECTIONS"
# Tuning without a command-line option (the chart's extraEnv): variable -> setting.
TUNING_ENV = {
    "HWCLOUD_MAX_CONCURRENCY": "max_concurrency",
    "HWCLOUD_CLOUD_BUDGET": "cloud_budget",
    "HWCLOUD_CREATE_TURNS": "create_turns",
    KOPF_CONNECTIONS_ENV: "kopf_connections",
}


def kopf_connections(namespaces: list[str]) -> int:
    """The pool size for kopf's API connections, or 0 (no limit) when a namespace is a
    pattern: the watches it may need cannot be counted, and a watch must never wait."""
    if any(char in pattern for pattern in namespaces for char in "*?[!"):
        return 0
    watches = KOPF_WATCHES_PER_NAMESPACE * max(1, len(namespaces)) + KOPF_CLUSTER_WATCHES
    return KOPF_REQUEST_CONNECTIONS + watches


@dataclass(frozen=True)
class OperatorSettings:
    """Everything `hwcloud-access run` decides, handed to the kopf start-up in its memo; the
    defaults here are the only ones."""

    resync_interval: float = 300.0
    state_namespace: str = "default"
    fingerprint_secret: str = "hwcloud-access-fingerprint-key"
    max_concurrency: int = 8  # concurrent calls per VPN server / RocketMQ instance
    # How long one cloud call may wait for the per-server pacer and retry retryable answers.
    # Waiting is a coroutine, not a worker; a longer wait costs nothing, where giving up
    # costs a requeue (API writes) and a new place at the back of the queue.
    cloud_budget: float = 120.0
    # Creates per VPN server / RocketMQ instance let into the client at once; the others
    # wait for a turn (Ready=False, Creating). Each turn taken later costs API writes (a
    # status, a wake-up, kopf's retry state), so the line is long: a slow server's queue
    # (10 changes per 2 s) still takes 512 creates within the cloud budget.
    create_turns: int = 512
    kopf_connections: int = 0  # 0: kopf's default, no limit (see kopf_connections())
    # Which namespaces may use the default account (HW_*): All, or a label selector.
    default_account_namespaces: AllowedNamespaces = ALL
    # The operator's default account (HW_* variables), read and checked before kopf starts.
    default_account: AccountConfig | None = None


def operator_settings(*, namespaces: list[str], resync_interval: float | None = None,
                      state_namespace: str | None = None,
                      default_account_namespaces: str | None = None,
                      env: Mapping[str, str] = os.environ) -> OperatorSettings:
    """The settings from the command line's options, the tuning variables (TUNING_ENV),
    HWCLOUD_STATE_NAMESPACE or POD_NAMESPACE, the default account's HW_* variables, and the
    defaults. ValueError names a variable that is not a number, or the HW_* ones missing."""
    chosen: dict[str, Any] = {"kopf_connections": kopf_connections(namespaces),
                              "default_account": default_account_from_env(env)}
    types = {f.name: type(f.default) for f in fields(OperatorSettings)}
    for variable, setting in TUNING_ENV.items():
        if env.get(variable):
            try:
                chosen[setting] = types[setting](env[variable])
            except ValueError:
                raise ValueError(f"{variable}={env[variable]!r} is not a number") from None
    if resync_interval is not None:
        chosen["resync_interval"] = resync_interval
    state_namespace = state_namespace or env.get("HWCLOUD_STATE_NAMESPACE") or \
        env.get("POD_NAMESPACE")
    if state_namespace:
        chosen["state_namespace"] = state_namespace
    if default_account_namespaces:
        chosen["default_account_namespaces"] = parse_allowed_namespaces(
            default_account_namespaces)
    return OperatorSettings(**chosen)


@dataclass
class Runtime:
    kube: Kube
    registry: ObjectRegistry
    accounts: Accounts
    engine: Engine
    dependencies: Dependencies
    drift: DriftSweeper
    secret_refs: SecretRefs
    secret_watch: SecretWatch
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start_background(self) -> None:
        self.tasks.append(asyncio.create_task(self.drift.run(), name="drift-sweep"))
        self.tasks.append(asyncio.create_task(self.secret_watch.run(),
                                              name="unlabelled-secrets"))

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.accounts.aclose()
        await self.kube.http.aclose()


async def build_runtime(settings: OperatorSettings, retry_state: tuple[str, ...] = (),
                        acting: Acting = always_acting) -> Runtime:
    """`retry_state`: the annotations in which kopf keeps the reconcile and delete
    handlers' retries, removed by a wake-up; `acting`: whether this replica acts now
    (peering.Replica.acting), asked by the background loops."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()
    configuration = kubernetes.client.Configuration.get_default_copy()
    kube = Kube(KubeHttp(configuration, connections=KUBE_CONNECTIONS),
                cleared_on_wake=retry_state)

    def make_session(config: AccountConfig,
                     on_auth_change: Callable[[], None] | None) -> CloudSession:
        return CloudSession(config, max_concurrency=settings.max_concurrency,
                            retry_budget=settings.cloud_budget, on_call=metrics.observe_call,
                            on_auth_change=on_auth_change)

    registry = ObjectRegistry(kube.wake)
    secret_refs = SecretRefs(on_unwatched=kube.forget_secret)
    namespaces = NamespaceLabels()
    await namespaces.load(kube)  # before any handler: every check has the labels to go by
    accounts = Accounts(kube, settings.default_account, make_session, secret_refs,
                        namespaces, settings.default_account_namespaces)
    metrics.PACERS.source = accounts.pacer_snapshots
    key = await fingerprint_key(kube, settings.state_namespace, settings.fingerprint_secret)
    dependencies = Dependencies(kube, registry.wake)
    admission = Admission(registry.wake, limit=settings.create_turns)
    engine = Engine(accounts=accounts, kube=kube, views=Views(),
                    fingerprint=Fingerprinter(key), dependencies=dependencies,
                    secret_refs=secret_refs, admission=admission)
    drift = DriftSweeper(registry.wake, interval=settings.resync_interval, acting=acting)
    secret_watch = SecretWatch(kube, secret_refs, registry.wake,
                               interval=settings.resync_interval, acting=acting)
    for holder in (drift, admission, secret_refs, dependencies, engine.ownership,
                   metrics.READY):
        registry.holds(holder)
    return Runtime(kube, registry, accounts, engine, dependencies, drift, secret_refs,
                   secret_watch)
