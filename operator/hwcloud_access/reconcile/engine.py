"""The reconcile engine: observe -> compare -> create / update / delete -> wait for the
cloud to apply it -> conditions. One engine for every kind; adapters say how each maps.

A pass never sleeps waiting for the cloud: it returns an Outcome that says when to look
again, and the caller (the kopf handler) schedules that.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..cloud import (
    AccessDeniedError,
    AlreadyExistsError,
    AuthError,
    CloudError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotFoundError,
    QuotaExceededError,
)
from .accounts import Accounts
from .admission import Admission
from .conditions import is_ready, now_rfc3339
from .credentials import Fingerprinter
from .dependencies import Dependencies
from .kube import Kube
from .outcome import Event, InvalidInput, Next, Outcome, Reason, ReconcileProblem
from .resource import PAUSED_ANNOTATION, Adapter, Context, Resource, parse_time
from .secret_refs import SecretRefs
from .views import Views

TOKEN_NAMESPACE = uuid.UUID("5b3f0e4c-8f52-4a8e-9a3c-2f1d6c7b9e10")
POLL_DELAYS = (1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 5.0)  # first look: after a typical apply


@dataclass(frozen=True)
class EngineSettings:
    pending_timeout: float = 600.0  # a change not visible after this is sent again
    snapshot_max_age: float = 2.0  # how old a listing may be for a first look
    # ... plus this per page of it: a long listing is shared for longer (at most ~5 pages/s).
    # A first look only asks whether the object exists yet; one made meanwhile elsewhere
    # shows as "already exists" at the create and is adopted.
    snapshot_age_per_page: float = 0.2
    poll_max_age: float = 0.5  # ... and while waiting for a change to show (shared by waiters)
    busy_base_delay: float = 1.0
    busy_max_delay: float = 60.0
    auth_retry_delay: float = 120.0


def client_token(uid: str, lost_id: str | None = None) -> str:
    """Same resource, same token: a create whose answer was lost is safe to repeat. A
    deliberate re-create (the object was deleted outside) gets a new one."""
    return str(uuid.uuid5(TOKEN_NAMESPACE, uid if lost_id is None else f"{uid}/{lost_id}"))


def poll_delay(attempt: int) -> float:
    return POLL_DELAYS[min(attempt, len(POLL_DELAYS) - 1)]


def backoff(attempt: int, settings: EngineSettings) -> float:
    """Exponential backoff with full jitter."""
    cap = min(settings.busy_max_delay, settings.busy_base_delay * 2 ** min(attempt, 16))
    return random.uniform(settings.busy_base_delay / 2, cap)


def _age(since: str | None) -> float | None:
    moment = parse_time(since)
    return None if moment is None else (datetime.now(UTC) - moment).total_seconds()


class Engine:
    def __init__(self, *, accounts: Accounts, kube: Kube, views: Views,
                 fingerprint: Fingerprinter, dependencies: Dependencies,
                 secret_refs: SecretRefs, admission: Admission,
                 settings: EngineSettings | None = None) -> None:
        self.accounts = accounts
        self.kube = kube
        self.views = views
        self.fingerprint = fingerprint
        self.dependencies = dependencies
        self.secret_refs = secret_refs
        self.admission = admission
        self.settings = settings or EngineSettings()
        self._claims: dict[tuple[int, str], tuple[str, str, str]] = {}
        self._claimed: dict[tuple[str, str, str], tuple[int, str]] = {}

    def _claim(self, adapter: Adapter, ctx: Context, desired: Any) -> tuple[int, str]:
        """One resource per cloud object: a second one naming the same object is refused
        (deleting it would delete the object under the first)."""
        claim = (id(adapter.view(ctx, desired)), adapter.cloud_name(desired))
        owner = self._claims.setdefault(claim, ctx.key)
        if owner != ctx.key:
            raise InvalidInput(f"{owner[0]} {owner[1]}/{owner[2]} already manages the cloud "
                               f"object {adapter.cloud_name(desired)}")
        self._claimed[ctx.key] = claim
        return claim

    def release(self, key: tuple[str, str, str]) -> None:
        """The resource is gone: its cloud object may be claimed by another."""
        claim = self._claimed.pop(key, None)
        if claim is not None and self._claims.get(claim) == key:
            del self._claims[claim]

    async def _context(self, resource: Resource, spec: Any) -> Context:
        account = spec.account_ref.name if spec.account_ref else None
        session = await self.accounts.session(account)
        return Context(resource, session, self.kube, self.views, self.fingerprint,
                       self.dependencies, self.secret_refs)

    # -- helpers -------------------------------------------------------------------------
    def _pending(self, ctx: Context, action: str | None = None) -> dict[str, Any] | None:
        """The pending change in status if it is recent enough to still be applying."""
        pending = ctx.resource.status.get("pendingChange")
        if not pending or (action and pending.get("action") != action):
            return None
        age = _age(pending.get("since"))
        if age is None or age > self.settings.pending_timeout:
            return None
        return pending

    def _mark(self, ctx: Context, action: str) -> dict[str, Any]:
        return {"action": action, "since": now_rfc3339(), "generation": ctx.resource.generation}

    async def _observe(self, adapter: Adapter, ctx: Context, desired: Any,
                       max_age: float, *, waiting: bool = False) -> Any:
        """The cloud object by id (status) or by name, from a shared listing at most
        `max_age` seconds old; or, `waiting` for a change of a known object to show while
        a listing would cost more calls than the objects waiting with it, by a GET."""
        view = adapter.view(ctx, desired)
        known_id = ctx.resource.status.get("id")
        if waiting and known_id and view.read_back_by_get(max_age):
            return await self._read_by_id(adapter, ctx, desired, known_id)
        snapshot = await view.snapshot(newer_than=time.monotonic() - max_age)
        if known_id and known_id in snapshot.by_id:
            return snapshot.by_id[known_id]
        return snapshot.by_name.get(adapter.cloud_name(desired))

    @staticmethod
    async def _read_by_id(adapter: Adapter, ctx: Context, desired: Any, cloud_id: str) -> Any:
        """The object itself (one GET), or None when the cloud says it does not exist."""
        try:
            return await adapter.read_one(ctx, desired, cloud_id)
        except NotFoundError:
            return None

    def _applying(self, message: str, attempt: int, status: dict[str, Any],
                  events: list[Event] | None = None) -> Outcome:
        return Outcome(ready=False, reason=Reason.APPLYING, message=message, next=Next.REQUEUE,
                       delay=poll_delay(attempt), status=status, events=events or [])

    # -- reconcile -----------------------------------------------------------------------
    async def reconcile(self, adapter: Adapter, resource: Resource, attempt: int = 0) -> Outcome:
        try:
            return await self._reconcile(adapter, resource, attempt)
        except ReconcileProblem as problem:
            return self.problem_outcome(problem)
        except CloudError as error:
            return self._cloud_error(error, attempt)

    async def _reconcile(self, adapter: Adapter, resource: Resource, attempt: int) -> Outcome:
        spec = resource.spec()
        if resource.paused:
            return Outcome(ready=is_ready(resource.status), reason=Reason.PAUSED,
                           message=f"paused by the {PAUSED_ANNOTATION} annotation",
                           synced=False, synced_reason=Reason.PAUSED)
        ctx = await self._context(resource, spec)
        observe_only = spec.management_policy == "Observe"
        desired = await adapter.prepare(ctx, spec, credentials=not observe_only)
        self._claim(adapter, ctx, desired)
        outcome = await self._converge(adapter, ctx, attempt, spec, desired)
        outcome.status = {**adapter.desired_status(desired), **outcome.status}
        return outcome

    async def _converge(self, adapter: Adapter, ctx: Context, attempt: int, spec: Any,
                        desired: Any) -> Outcome:
        resource = ctx.resource
        pending = self._pending(ctx)
        if pending:
            max_age = self.settings.poll_max_age
        else:
            pages = adapter.view(ctx, desired).pages
            max_age = max(self.settings.snapshot_max_age,
                          pages * self.settings.snapshot_age_per_page)
        observed = await self._observe(adapter, ctx, desired, max_age, waiting=bool(pending))
        known_id = resource.status.get("id")

        if spec.management_policy == "Observe":
            if observed is None:  # say NotFound only after an up-to-date look
                observed = await self._observe(adapter, ctx, desired, max_age=0.0)
            return self._observed_only(adapter, desired, observed)

        if observed is None and known_id and not pending:
            # Absent from a listing that may predate the object (it was seen by a GET, or
            # the listing is long and shared for longer): ask the object before calling
            # it deleted outside the cluster.
            observed = await self._read_by_id(adapter, ctx, desired, known_id)
        if observed is None:
            if known_id and self._pending(ctx, "create"):
                return self._applying("the cloud is applying the create", attempt,
                                      {"pendingChange": pending})
            events = []
            lost = None
            if known_id:
                lost = known_id
                events.append(Event("Warning", "Drift", f"cloud object {known_id} was deleted "
                                    "outside the cluster; re-creating it"))
            token = client_token(resource.uid, lost)
            scope = id(adapter.view(ctx, desired))
            in_line = self.admission.enter(scope, ctx.key)
            if in_line:
                return Outcome(ready=False, reason=Reason.CREATING, message=f"waiting for a "
                               f"turn to create ({in_line} in line for this server)")
            try:
                new_id = await adapter.create(ctx, desired, token)
            except AlreadyExistsError as conflict:
                # Someone created it since our listing: adopt it (below) if we can see it.
                observed = await self._observe(adapter, ctx, desired, max_age=0.0)
                if observed is None:
                    raise conflict from None
            else:
                events.append(Event("Normal", "Created", f"created {adapter.kind.kind} "
                                    f"{adapter.cloud_name(desired)} ({new_id})"))
                status = {"id": new_id, "pendingChange": self._mark(ctx, "create"),
                          **self._fingerprint_status(adapter, ctx, desired)}
                return self._applying("the cloud accepted the create and is applying it", 0,
                                      status, events)
            finally:
                self.admission.leave(scope, ctx.key)

        cloud_id = adapter.cloud_id(observed)
        events = []
        adopted = ""
        if known_id != cloud_id:
            adopted = f"adopted existing cloud object {cloud_id}"
            events.append(Event("Normal", "Adopted", f"{adopted} named "
                                f"{adapter.cloud_name(desired)}"))
        status: dict[str, Any] = {"id": cloud_id, **adapter.read_back(observed)}

        differences = adapter.differences(desired, observed)
        if differences:
            update_pending = self._pending(ctx, "update")
            if update_pending and update_pending.get("generation") == resource.generation:
                status["pendingChange"] = update_pending
                return self._applying(f"the cloud is applying the update of "
                                      f"{', '.join(differences)}", attempt, status, events)
            drift = resource.status.get("observedGeneration") == resource.generation and not adopted
            await adapter.update(ctx, desired, observed)
            if drift:
                events.append(Event("Warning", "Drift", f"{', '.join(differences)} changed "
                                    "outside the cluster; putting it back"))
            events.append(Event("Normal", "Updated", f"updated {', '.join(differences)}"))
            status["pendingChange"] = self._mark(ctx, "update")
            return self._applying(f"the cloud accepted the update of {', '.join(differences)} "
                                  "and is applying it", 0, status, events)

        wanted = adapter.credentials_fingerprint(ctx, desired)
        applied = resource.status.get("credentialsFingerprint")
        if wanted is not None and applied is not None and wanted != applied:
            await adapter.apply_credentials(ctx, desired, observed)
            events.append(Event("Normal", "CredentialsRotated",
                                "the credentials Secret changed; reset them in the cloud"))
        if wanted is not None:
            status["credentialsFingerprint"] = wanted
        status["pendingChange"] = None
        message = adopted or "the cloud matches the spec"
        return Outcome(ready=True, reason=Reason.AVAILABLE, message=message, status=status,
                       events=events, cloud_object=observed, view=adapter.view(ctx, desired))

    def _fingerprint_status(self, adapter: Adapter, ctx: Context, desired: Any) -> dict:
        fingerprint = adapter.credentials_fingerprint(ctx, desired)
        return {} if fingerprint is None else {"credentialsFingerprint": fingerprint}

    def _observed_only(self, adapter: Adapter, desired: Any, observed: Any) -> Outcome:
        if observed is None:
            return Outcome(ready=False, reason=Reason.NOT_FOUND,
                           message=f"managementPolicy Observe: no cloud object named "
                           f"{adapter.cloud_name(desired)}", next=Next.REQUEUE, delay=60.0)
        differences = adapter.differences(desired, observed)
        message = ("managementPolicy Observe: the cloud object differs in "
                   f"{', '.join(differences)}" if differences
                   else "managementPolicy Observe: the cloud object matches the spec")
        status = {"id": adapter.cloud_id(observed), **adapter.read_back(observed)}
        return Outcome(ready=True, reason=Reason.AVAILABLE, message=message, status=status)

    # -- delete --------------------------------------------------------------------------
    async def delete(self, adapter: Adapter, resource: Resource, attempt: int = 0) -> Outcome:
        try:
            return await self._delete(adapter, resource, attempt)
        except ReconcileProblem as problem:
            return self.problem_outcome(problem)
        except CloudError as error:
            return self._cloud_error(error, attempt)

    async def _delete(self, adapter: Adapter, resource: Resource, attempt: int) -> Outcome:
        body_spec = resource.body.get("spec") or {}
        if body_spec.get("deletionPolicy") == "Orphan" or \
                body_spec.get("managementPolicy") == "Observe":
            return Outcome(ready=False, reason=Reason.DELETING, message="released; the cloud "
                           "object is left in place", events=[Event(
                               "Normal", "Orphaned", "deletionPolicy Orphan: the cloud object "
                               "is left in place")])
        spec = resource.spec()
        ctx = await self._context(resource, spec)
        desired = await adapter.before_delete(ctx, spec)
        try:
            self._claim(adapter, ctx, desired)
        except InvalidInput as conflict:  # never delete what another resource manages
            return Outcome(ready=False, reason=Reason.DELETING,
                           message=f"released without deleting: {conflict.message}")
        observed = await self._observe(adapter, ctx, desired, self.settings.poll_max_age)
        known_id = resource.status.get("id")
        if observed is None and known_id:
            # A listing is no proof of absence (offset paging skips rows while others are
            # deleted): ask for the object itself before letting the resource go.
            observed = await self._read_by_id(adapter, ctx, desired, known_id)
        if observed is None:
            if known_id and self._pending(ctx, "create"):
                return self._deleting("waiting for the pending create before deleting", attempt)
            return Outcome(ready=False, reason=Reason.DELETING, message="deleted",
                           events=[Event("Normal", "Deleted", "the cloud object is gone")])
        if self._pending(ctx, "delete"):
            return self._deleting("the cloud is applying the delete", attempt)
        try:
            await adapter.delete(ctx, desired, observed)
        except NotFoundError:
            pass
        return self._deleting("the cloud accepted the delete and is applying it", 0,
                              {"pendingChange": self._mark(ctx, "delete")})

    def _deleting(self, message: str, attempt: int,
                  status: dict[str, Any] | None = None) -> Outcome:
        return Outcome(ready=False, reason=Reason.DELETING, message=message, next=Next.REQUEUE,
                       delay=poll_delay(attempt), status=status or {})

    # -- errors --------------------------------------------------------------------------
    def problem_outcome(self, problem: ReconcileProblem) -> Outcome:
        return Outcome(ready=False, reason=problem.reason, message=problem.message,
                       synced=False, synced_reason=problem.reason,
                       next=Next.TERMINAL if problem.terminal
                       else Next.DONE if problem.woken else Next.REQUEUE,
                       delay=problem.delay)

    def _cloud_error(self, error: CloudError, attempt: int) -> Outcome:
        message = str(error)
        if isinstance(error, AuthError):
            return self._failed(Reason.AUTH_FAILED, message, Next.REQUEUE,
                                self.settings.auth_retry_delay)
        if isinstance(error, AccessDeniedError):
            return self._failed(Reason.ACCESS_DENIED, message, Next.TERMINAL)
        if isinstance(error, InstanceNotFoundError | QuotaExceededError | InvalidRequestError):
            return self._failed(Reason.INVALID_SPEC, f"the cloud refused it: {message}",
                                Next.TERMINAL)
        if isinstance(error, NotFoundError):  # e.g. the group of a user: may come back
            return self._failed(Reason.DEPENDENCY_NOT_READY, f"not found in the cloud: {message}",
                                Next.REQUEUE, backoff(attempt + 4, self.settings))
        if error.retryable:
            return self._failed(Reason.CLOUD_BUSY, message, Next.REQUEUE,
                                backoff(attempt, self.settings))
        return self._failed(Reason.ERROR, message, Next.TERMINAL)

    @staticmethod
    def _failed(reason: Reason, message: str, next_: Next, delay: float = 0.0) -> Outcome:
        return Outcome(ready=False, reason=reason, message=message, synced=False,
                       synced_reason=reason, next=next_, delay=delay)
