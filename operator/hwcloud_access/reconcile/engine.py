"""The reconcile engine: observe -> compare -> create / update / delete -> wait for the
cloud to apply it -> conditions. One engine for every kind; adapters say how each maps.

Waits are bounded. `settle` waits in memory, up to IN_PASS_WAIT (30 s) in all, for the
cloud to apply a change, and a pass as long for a turn to create or for a VpnUser's group;
a longer wait ends the pass with an Outcome that says when to look again, which the caller
(the kopf handler) schedules. A single cloud call may wait for its server's pacer and its
retries up to the cloud budget (HWCLOUD_CLOUD_BUDGET, 120 s) before the pass ends CloudBusy.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..cloud import (
    AccessDeniedError,
    AlreadyExistsError,
    AuthError,
    CloudError,
    ConflictError,
    InstanceNotFoundError,
    InvalidRequestError,
    NotFoundError,
    PasswordReusedError,
    QuotaExceededError,
)
from ..cloud.retry import backoff
from .accounts import Accounts
from .admission import Admission
from .conditions import conditions_for, is_ready, now_rfc3339
from .credentials import Fingerprinter
from .dependencies import Dependencies
from .drift import RESYNC_ANNOTATION, resync_interval
from .kube import Kube
from .outcome import AlreadyOwned, Event, InvalidInput, Next, Outcome, Reason, ReconcileProblem
from .ownership import Ownership
from .registry import IN_PASS_WAIT
from .resource import PAUSED_ANNOTATION, Adapter, Context, Credentials, Resource, parse_time
from .secret_refs import SecretRefs
from .secret_source import CREDENTIALS_SECRET
from .views import CollectionView, Views

# kopf's index of what every resource refers to: its claim (CloudKey -> Claimant), and what
# its adapter adds (Adapter.references)
Claims = Mapping[Hashable, Iterable[Any]]
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
    # A deletion the cloud refuses (or cannot be resolved yet) is tried again, ever more
    # slowly: the finalizer stays until the cloud confirms the object gone.
    blocked_base_delay: float = 5.0
    blocked_max_delay: float = 300.0
    # A change the cloud is applying, or a turn to create, is waited for inside the pass this
    # long at most; longer waits go back to kopf (a status write, kopf's retry state, and a
    # touch or a wake-up each).
    settle_max_wait: float = IN_PASS_WAIT


def client_token(uid: str, lost_id: str | None = None) -> str:
    """Same resource, same token: a create whose answer was lost is safe to repeat. A
    deliberate re-create (the object was deleted outside) gets a new one."""
    return str(uuid.uuid5(TOKEN_NAMESPACE, uid if lost_id is None else f"{uid}/{lost_id}"))


def poll_delay(attempt: int) -> float:
    return POLL_DELAYS[min(attempt, len(POLL_DELAYS) - 1)]


def adopted_message(cloud_id: str) -> str:
    return f"adopted existing cloud object {cloud_id}"


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
        self.ownership = Ownership()

    def _owned_by_another(self, adapter: Adapter, resource: Resource, claims: Claims) -> bool:
        key = adapter.key_of(resource.body)
        if not self.ownership.owned_by_another(key, resource.body, claims.get(key, ())):
            return False
        self.ownership.wait(key, resource.key)
        return True

    def _hold(self, adapter: Adapter, ctx: Context) -> None:
        """This resource claims its cloud object now (a create sent, an object adopted)."""
        self.ownership.hold(adapter.key_of(ctx.resource.body), ctx.resource.body)

    async def _context(self, resource: Resource, spec: Any, claims: Claims, *,
                       deleting: bool = False) -> Context:
        account = spec.account_ref.name if spec.account_ref else None
        session = await self.accounts.session(account, resource.namespace or "",
                                              deleting=deleting)
        return Context(resource, session, self.kube, self.views, self.fingerprint,
                       self.dependencies, self.secret_refs, spec, claims)

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _intent(resource: Resource, action: str | None = None) -> dict[str, Any] | None:
        """The pending change (of this action) in status, however old."""
        pending = resource.status.get("pendingChange")
        if not pending or (action and pending.get("action") != action):
            return None
        return pending

    def _pending(self, ctx: Context, action: str | None = None) -> dict[str, Any] | None:
        """The pending change in status if it is recent enough to still be applying."""
        pending = self._intent(ctx.resource, action)
        if pending is None:
            return None
        age = _age(pending.get("since"))
        if age is None or age > self.settings.pending_timeout:
            return None
        return pending

    def _mark(self, ctx: Context, action: str, **details: str) -> dict[str, Any]:
        return {"action": action, "since": now_rfc3339(), "generation": ctx.resource.generation,
                **details}

    async def _record(self, ctx: Context, intent: dict[str, Any] | None,
                      announce: Outcome | None = None) -> None:
        """Writes an intent to status before the cloud call it announces: a crash or a lost
        answer after the call is then resolved from it, not guessed. The pass goes on with
        the status as written, so that its own status write replaces the intent. `announce`:
        the conditions to show meanwhile (the call may wait for the server's pacer). None
        voids the intent: the call was refused before it changed anything, so that no later
        pass takes a refusal for the effect of a change that never happened."""
        resource = ctx.resource
        status: dict[str, Any] = {"pendingChange": intent}
        if announce is not None:
            status["conditions"] = conditions_for(announce, resource.status.get("conditions"),
                                                  resource.generation)
        await self.kube.patch_status(resource.kind, resource.namespace or "", resource.name,
                                     status)
        resource.record(status)

    async def _void_if_refused(self, ctx: Context, error: CloudError, *,
                               recorded_now: bool) -> None:
        """Voids the intent this pass recorded (`recorded_now`) when its call was refused
        before it changed anything; an intent whose call may have applied, or that an
        earlier send left, stays to be resolved."""
        if recorded_now and not error.may_have_applied:
            await self._record(ctx, None)

    async def _observe(self, adapter: Adapter, ctx: Context, desired: Any,
                       view: CollectionView[Any], max_age: float, *,
                       waiting: bool = False) -> Any:
        """The cloud object by id (status) or by name, from the shared listing `view` at
        most `max_age` seconds old; or, `waiting` for a change of a known object to show
        while a listing would cost more calls than the objects waiting with it, by a GET."""
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

    def _busy_backoff(self, attempt: int) -> float:
        return backoff(attempt, self.settings.busy_base_delay, self.settings.busy_max_delay)

    def _blocked_backoff(self, attempt: int) -> float:
        return backoff(attempt, self.settings.blocked_base_delay, self.settings.blocked_max_delay)

    # -- reconcile -----------------------------------------------------------------------
    async def settle(self, adapter: Adapter, resource: Resource, attempt: int = 0, *,
                     claims: Claims) -> tuple[Outcome, Resource]:
        """Passes until the outcome is more than a short wait for the cloud to apply a change:
        those waits happen here, in memory (no status write, no retry state for kopf to
        store, no touch to wake it), up to `settle_max_wait` seconds in all. A crash meanwhile
        loses nothing: the next start resolves the create's intent. Returns the last
        outcome, with the events of every pass, and the resource as the last pass saw it
        (its `written` is what the API server holds)."""
        events: list[Event] = []
        waited = 0.0
        while True:
            outcome = await self.reconcile(adapter, resource, attempt, claims=claims)
            events.extend(outcome.events)
            short = outcome.next is Next.REQUEUE and outcome.reason is Reason.APPLYING
            if not short or waited + outcome.delay > self.settings.settle_max_wait:
                outcome.events = events
                return outcome, resource
            await asyncio.sleep(outcome.delay)
            waited += outcome.delay
            attempt += 1
            resource = resource.with_status(outcome.status)

    async def reconcile(self, adapter: Adapter, resource: Resource, attempt: int = 0, *,
                        claims: Claims) -> Outcome:
        """One pass. `claims`: who claims which cloud object (the kopf index)."""
        try:
            interval = resync_interval(resource.annotations.get(RESYNC_ANNOTATION))
            bad_annotation = None
        except ValueError as error:
            interval, bad_annotation = None, str(error)
        try:
            outcome = await self._reconcile(adapter, resource, attempt, claims)
        except ReconcileProblem as problem:
            outcome = self.problem_outcome(problem)
        except CloudError as error:
            outcome = self._cloud_error(error, attempt)
        outcome.resync_interval = interval
        if bad_annotation and outcome.synced:
            outcome.synced, outcome.synced_reason = False, Reason.INVALID_SPEC
            outcome.synced_message = bad_annotation
        return outcome

    async def _reconcile(self, adapter: Adapter, resource: Resource, attempt: int,
                         claims: Claims) -> Outcome:
        spec = resource.spec()
        if resource.paused:
            return Outcome(ready=is_ready(resource.status), reason=Reason.PAUSED,
                           message=f"paused by the {PAUSED_ANNOTATION} annotation",
                           synced=False, synced_reason=Reason.PAUSED)
        ctx = await self._context(resource, spec, claims)
        observe_only = spec.management_policy == "Observe"
        # Before prepare, which may make a generated credentials Secret for nothing. Observe
        # too: it claims nothing, but must not show another resource's object (another
        # team's settings) either.
        if self._owned_by_another(adapter, resource, claims):
            refused = self.problem_outcome(AlreadyOwned(
                f"another resource in this cluster manages the cloud object "
                f"{adapter.key_of(resource.body).name}; this one leaves it alone"
                + (" and shows nothing of it" if observe_only else "")))
            refused.status = self._shown(adapter, None) if observe_only else {}
            return refused
        desired = await adapter.prepare(ctx, spec)
        if observe_only:
            return await self._observe_only(adapter, ctx, desired)
        credentials = await adapter.credentials(ctx, desired)
        outcome = await self._converge(adapter, ctx, attempt, desired, credentials)
        if credentials is not None:
            outcome.status = {CREDENTIALS_SECRET: credentials.generated_secret,
                              **outcome.status}
        return outcome

    def _first_look_age(self, view: CollectionView[Any],
                        pending: dict[str, Any] | None) -> float:
        """How old a listing may be for this pass's look (younger while a change applies)."""
        if pending:
            return self.settings.poll_max_age
        return max(self.settings.snapshot_max_age,
                   view.pages * self.settings.snapshot_age_per_page)

    async def _observe_only(self, adapter: Adapter, ctx: Context, desired: Any) -> Outcome:
        """managementPolicy Observe: read and compare, never write."""
        view = adapter.view(ctx, desired)
        observed = await self._observe(adapter, ctx, desired, view,
                                       self._first_look_age(view, None))
        if observed is None:  # say NotFound only after an up-to-date look
            observed = await self._observe(adapter, ctx, desired, view, max_age=0.0)
        return self._observed_only(adapter, desired, observed)

    async def _converge(self, adapter: Adapter, ctx: Context, attempt: int, desired: Any,
                        credentials: Credentials | None) -> Outcome:
        """Observe, then create or go on with what the cloud has."""
        pending = self._pending(ctx)
        view = adapter.view(ctx, desired)  # the pass's one listing, shared by its steps
        observed = await self._observe(adapter, ctx, desired, view,
                                       self._first_look_age(view, pending),
                                       waiting=bool(pending))
        known_id = ctx.resource.status.get("id")
        if observed is None and known_id and not pending:
            # Absent from a listing that may predate the object (it was seen by a GET, or
            # the listing is long and shared for longer): ask the object before calling
            # it deleted outside the cluster.
            observed = await self._read_by_id(adapter, ctx, desired, known_id)
        if observed is None:
            return await self._create(adapter, ctx, attempt, desired, credentials, view)
        return await self._found(adapter, ctx, attempt, desired, credentials, view, observed)

    async def _create(self, adapter: Adapter, ctx: Context, attempt: int, desired: Any,
                      credentials: Credentials | None, view: CollectionView[Any]) -> Outcome:
        """Nothing in the cloud under this resource's id or name: wait for a create already
        accepted, or send one, its intent (client token) recorded first."""
        resource = ctx.resource
        known_id = resource.status.get("id")
        pending = self._pending(ctx, "create")
        if known_id and pending:
            return self._applying("the cloud is applying the create", attempt,
                                  {"pendingChange": pending})
        intent = self._intent(resource, "create")
        events = []
        if intent and intent.get("clientToken") and not known_id:
            token = intent["clientToken"]  # sent before, its answer lost: the same create
        else:
            if known_id:
                events.append(Event("Warning", "Drift", f"cloud object {known_id} was deleted "
                                    "outside the cluster; re-creating it"))
            token = client_token(resource.uid, known_id)
        scope = view.key
        in_line = self.admission.enter(scope, ctx.key)
        if in_line and await self.admission.turn(scope, ctx.key, self.settings.settle_max_wait):
            in_line = self.admission.enter(scope, ctx.key)  # the turn held for it
        if in_line:
            return Outcome(ready=False, reason=Reason.CREATING, message=f"waiting for a "
                           f"turn to create ({in_line} in line for this server)")
        first_send = intent is None or intent.get("clientToken") != token
        try:
            if first_send:
                await self._record(ctx, self._mark(ctx, "create", clientToken=token), Outcome(
                    ready=False, reason=Reason.CREATING,
                    message="sending the create, then waiting for the cloud to apply it"))
            self._hold(adapter, ctx)
            new_id = await adapter.create(ctx, desired, credentials, token)
        except AlreadyExistsError as conflict:
            # Made since our listing, by someone else or by our own earlier create (an API
            # without client tokens): go on with it if it shows.
            observed = await self._observe(adapter, ctx, desired, view, max_age=0.0)
            if observed is not None:
                return await self._found(adapter, ctx, attempt, desired, credentials, view,
                                         observed, refused_first_send=first_send)
            if intent is None:  # a name taken by an object the listing does not show
                return self._failed(Reason.INVALID_SPEC, f"the cloud refused it: {conflict}",
                                    Next.TERMINAL)
            return self._applying("the cloud says the object exists (an earlier create of "
                                  "this resource); waiting for it to show", attempt,
                                  {"pendingChange": resource.status.get("pendingChange")})
        except CloudError as refused:
            await self._void_if_refused(ctx, refused, recorded_now=first_send)
            raise
        finally:
            self.admission.leave(scope, ctx.key)
        events.append(Event("Normal", "Created", f"created {adapter.kind.kind} "
                            f"{adapter.cloud_name(desired)} ({new_id})"))
        status = {"id": new_id, "pendingChange": self._mark(ctx, "create", clientToken=token),
                  **self._fingerprint_status(ctx, credentials)}
        return self._applying("the cloud accepted the create and is applying it", 0,
                              status, events)

    async def _found(self, adapter: Adapter, ctx: Context, attempt: int, desired: Any,
                     credentials: Credentials | None, view: CollectionView[Any],
                     observed: Any, *,
                     refused_first_send: bool = False) -> Outcome:
        """The cloud object exists: update what differs, set new credentials, or be Ready.
        `refused_first_send`: found after this pass's first create with its token was
        refused as "already exists"."""
        resource = ctx.resource
        known_id = resource.status.get("id")
        cloud_id = adapter.cloud_id(observed)
        events: list[Event] = []
        adopted = ""
        if known_id != cloud_id and \
                not await self._made_it(adapter, ctx, desired, credentials, cloud_id,
                                        refused_first_send):
            name = adapter.cloud_name(desired)
            if ctx.spec.adoption_policy != "Adopt":
                self.ownership.unhold(adapter.key_of(resource.body), resource.uid)
                return Outcome(
                    ready=False, reason=Reason.ALREADY_EXISTS, synced=False,
                    synced_reason=Reason.ALREADY_EXISTS, next=Next.TERMINAL,
                    status={"pendingChange": None},
                    message=f"a cloud object named {name} exists ({cloud_id}) that this "
                    "resource did not create; it is left alone (spec.adoptionPolicy: Adopt "
                    "takes it over and sets this resource's credentials on it)")
            adopted = adopted_message(cloud_id)
            events.append(Event("Normal", "Adopted", f"{adopted} named {name}"))
            self._hold(adapter, ctx)
        status: dict[str, Any] = {"id": cloud_id, "observedId": None,  # from Observe
                                  **adapter.read_back(observed)}

        # An adopted object gets this resource's credentials first: later passes know it
        # only as their own.
        refused = adopted and await self._credentials(adapter, ctx, desired, credentials,
                                                      observed, status, events, adopted=True)
        if refused:
            return refused
        differences = adapter.differences(desired, observed)
        if differences:
            return await self._update(adapter, ctx, attempt, desired, observed, differences,
                                      status, events, adopted=cloud_id if adopted else None)
        refused = await self._credentials(adapter, ctx, desired, credentials, observed, status,
                                          events, adopted=False)
        if refused is not None:
            return refused
        status["pendingChange"] = None
        # Adopted in this pass, or in the one that sent the update just applied.
        adopted_earlier = (self._intent(resource, "update") or {}).get("adopted")
        message = adopted or (adopted_message(adopted_earlier) if adopted_earlier
                              else "the cloud matches the spec")
        return Outcome(ready=True, reason=Reason.AVAILABLE, message=message, status=status,
                       events=events, cloud_object=observed, view=view)

    async def _update(self, adapter: Adapter, ctx: Context, attempt: int, desired: Any,
                      observed: Any, differences: list[str], status: dict[str, Any],
                      events: list[Event], *, adopted: str | None) -> Outcome:
        """`adopted`: the id of the object adopted in this pass (then no drift: the spec
        was never applied to it); kept in the update's intent for the Ready message."""
        resource = ctx.resource
        changed = ", ".join(differences)
        update_pending = self._pending(ctx, "update")
        if update_pending and update_pending.get("generation") == resource.generation:
            status["pendingChange"] = update_pending
            return self._applying(f"the cloud is applying the update of {changed}", attempt,
                                  status, events)
        await adapter.update(ctx, desired, observed)
        if not adopted and resource.status.get("observedGeneration") == resource.generation:
            events.append(Event("Warning", "Drift", f"{changed} changed outside the cluster; "
                                "putting it back"))
        events.append(Event("Normal", "Updated", f"updated {changed}"))
        status["pendingChange"] = self._mark(ctx, "update",
                                             **({"adopted": adopted} if adopted else {}))
        message = f"the cloud accepted the update of {changed} and is applying it"
        return self._applying(f"{adopted_message(adopted)}; {message}" if adopted else message,
                              0, status, events)

    async def _made_it(self, adapter: Adapter, ctx: Context, desired: Any,
                       credentials: Credentials | None, cloud_id: str,
                       refused_first_send: bool) -> bool:
        """Whether an object found by name is the one this resource's create made: the create
        sent again with its client token names what that token made (a name taken by an
        object made without it is refused). Without client tokens (RocketMQ) the intent
        recorded before an earlier pass's create is the only proof; "already exists" to the
        first create sent under the intent proves the object someone else's."""
        intent = self._intent(ctx.resource, "create")
        if intent is None or not intent.get("clientToken"):
            return False
        if not adapter.client_tokens:
            return not refused_first_send
        try:  # the very create again (its credentials too), as a lost answer's repeat is
            made = await adapter.create(ctx, desired, credentials, intent["clientToken"])
        except AlreadyExistsError:
            return False
        return made == cloud_id

    async def _credentials(self, adapter: Adapter, ctx: Context, desired: Any,
                           credentials: Credentials | None, observed: Any,
                           status: dict[str, Any], events: list[Event], *,
                           adopted: bool) -> Outcome | None:
        """Sets the Secret's credentials in the cloud on an object just adopted, or when they
        are not the ones last set; an Outcome when the cloud refuses them. (None last set:
        this resource's own create set them, its answer lost before the status write.)"""
        if credentials is None:  # a kind without credentials
            return None
        wanted = self.fingerprint(ctx.resource.uid, credentials.secret)
        applied = ctx.resource.status.get("credentialsFingerprint")
        # Otherwise the same, or a fingerprint of another key (renewed): nothing to set.
        if adopted or applied is not None and applied != wanted and \
                self.fingerprint.made_with_this_key(applied):
            intent = self._intent(ctx.resource, "credentials")
            resent = intent is not None and intent.get("fingerprint") == wanted
            if not resent:
                await self._record(ctx, self._mark(ctx, "credentials", fingerprint=wanted))
            try:
                await adapter.apply_credentials(ctx, desired, credentials, observed)
            except PasswordReusedError as refused:
                if not resent:
                    return Outcome(
                        ready=False, reason=Reason.INVALID_SPEC, synced=False,
                        synced_reason=Reason.INVALID_SPEC, next=Next.REQUEUE,
                        delay=InvalidInput.delay, status={**status, "pendingChange": None},
                        message=f"the cloud refused the credentials in the Secret: {refused}")
                # Right after our own reset whose answer was lost: that reset took effect.
            except CloudError as refused:
                await self._void_if_refused(ctx, refused, recorded_now=not resent)
                raise
            events.append(Event("Normal", "CredentialsRotated",
                                "set this resource's credentials on the adopted object"
                                if adopted else
                                "the credentials Secret changed; reset them in the cloud"))
        status["credentialsFingerprint"] = wanted
        return None

    def _fingerprint_status(self, ctx: Context, credentials: Credentials | None) -> dict:
        if credentials is None:
            return {}
        return {"credentialsFingerprint": self.fingerprint(ctx.resource.uid, credentials.secret)}

    # Observe holds no claim: no status.id, no create intent (left from Manage); what it
    # sees goes to status.observedId, which a later switch to Manage does not count as its
    # own (it would otherwise take over another team's or a hand-made object by observing
    # it first).
    NO_CLAIM = {"id": None, "pendingChange": None}

    @staticmethod
    def _shown(adapter: Adapter, observed: Any) -> dict[str, Any]:
        """What an Observe resource shows of the object it sees; of None, nothing (the
        same fields, emptied)."""
        return {"observedId": None if observed is None else adapter.cloud_id(observed),
                **adapter.read_back(observed)}

    def _observed_only(self, adapter: Adapter, desired: Any, observed: Any) -> Outcome:
        status = {**self.NO_CLAIM, **self._shown(adapter, observed)}
        if observed is None:
            return Outcome(ready=False, reason=Reason.NOT_FOUND,
                           message=f"managementPolicy Observe: no cloud object named "
                           f"{adapter.cloud_name(desired)}", next=Next.REQUEUE, delay=60.0,
                           status=status)
        differences = adapter.differences(desired, observed)
        message = ("managementPolicy Observe: the cloud object differs in "
                   f"{', '.join(differences)}" if differences
                   else "managementPolicy Observe: the cloud object matches the spec")
        return Outcome(ready=True, reason=Reason.AVAILABLE, message=message, status=status)

    # -- delete --------------------------------------------------------------------------
    async def delete(self, adapter: Adapter, resource: Resource, attempt: int = 0, *,
                     claims: Claims) -> Outcome:
        """Releases the resource only when the cloud confirmed its object gone, or the
        resource lets it be (Orphan, Observe, never its own): every other answer keeps it,
        with a condition that says why, and is tried again."""
        try:
            return await self._delete(adapter, resource, attempt, claims)
        except ReconcileProblem as problem:
            return self._failed(problem.reason, problem.message, Next.REQUEUE,
                                max(problem.delay, self._blocked_backoff(attempt)))
        except CloudError as error:
            if isinstance(error, AuthError):
                return self._failed(Reason.AUTH_FAILED, str(error), Next.REQUEUE,
                                    self.settings.auth_retry_delay)
            if error.retryable:
                return self._failed(Reason.CLOUD_BUSY, str(error), Next.REQUEUE,
                                    self._busy_backoff(attempt))
            return self._failed(Reason.DELETE_BLOCKED, f"the cloud refused the delete: {error}; "
                                "trying again (deletionPolicy Orphan would leave the object in "
                                "the cloud)", Next.REQUEUE, self._blocked_backoff(attempt))

    async def _delete(self, adapter: Adapter, resource: Resource, attempt: int,
                      claims: Claims) -> Outcome:
        body_spec = resource.body.get("spec") or {}
        why = "managementPolicy Observe" if body_spec.get("managementPolicy") == "Observe" \
            else "deletionPolicy Orphan" if body_spec.get("deletionPolicy") == "Orphan" else None
        if why:
            return Outcome(ready=False, reason=Reason.DELETING, message="released; the cloud "
                           "object is left in place", released=True, events=[Event(
                               "Normal", "Orphaned", f"{why}: the cloud object is left in "
                               "place")])
        if self._owned_by_another(adapter, resource, claims):  # never delete what it manages
            return Outcome(ready=False, reason=Reason.DELETING, released=True,
                           message="released without deleting: another resource in this "
                           "cluster manages the cloud object")
        known_id = resource.status.get("id")
        intent = self._intent(resource, "create")
        if not known_id and intent is None:
            return Outcome(ready=False, reason=Reason.DELETING, released=True,
                           message="released: this resource made nothing in the cloud")
        spec = resource.spec()
        ctx = await self._context(resource, spec, claims, deleting=True)
        desired = await adapter.before_delete(ctx, spec)
        observed = await self._observe(adapter, ctx, desired, adapter.view(ctx, desired),
                                       self.settings.poll_max_age)
        if observed is not None and (adapter.cloud_id(observed) != known_id if known_id
                                     else adapter.client_tokens):
            observed = None  # found by its name only: the client token tells whose it is
        if observed is None and known_id:
            # A listing is no proof of absence (offset paging skips rows while others are
            # deleted): ask for the object itself before letting the resource go.
            observed = await self._read_by_id(adapter, ctx, desired, known_id)
        if observed is None:
            if intent is None or not intent.get("clientToken"):
                return Outcome(ready=False, reason=Reason.DELETING, message="deleted",
                               released=True,
                               events=[Event("Normal", "Deleted", "the cloud object is gone")])
            if known_id and self._pending(ctx, "create"):
                return self._deleting("waiting for the pending create to show, to delete it",
                                      attempt)
            return await self._resolve_create(adapter, ctx, desired, intent["clientToken"],
                                              attempt)
        if self._pending(ctx, "delete"):
            return self._deleting("the cloud is applying the delete", attempt)
        try:
            await adapter.delete(ctx, desired, observed)
        except NotFoundError:
            pass
        return self._deleting("the cloud accepted the delete and is applying it", 0,
                              {"pendingChange": self._mark(ctx, "delete")})

    async def _resolve_create(self, adapter: Adapter, ctx: Context, desired: Any, token: str,
                              attempt: int) -> Outcome:
        """A create was sent (its intent is in status) and its object is not seen: the same
        create again, with the same client token, makes the cloud name what it made (or make
        it now, with credentials nobody holds), so that it can be deleted."""
        try:
            new_id = await adapter.create(ctx, desired, adapter.throwaway_credentials(desired),
                                          token)
        except AlreadyExistsError:
            if adapter.client_tokens:  # the name is taken, by an object the token did not make
                return Outcome(ready=False, reason=Reason.DELETING, released=True,
                               message="released: the create sent earlier made nothing")
            # No client tokens (RocketMQ): it exists, so it shows.
            return self._deleting("a create sent earlier made the object; waiting for it to "
                                  "show, to delete it", attempt)
        return self._deleting(f"a create sent earlier may have reached the cloud: sent again "
                              f"with its client token, it is {new_id}; deleting it once it "
                              "shows", 0, {"id": new_id, "pendingChange": self._mark(
                                  ctx, "create", clientToken=token)})

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
        if isinstance(error, ConflictError):  # outside a create: the cloud's state may change
            return self._failed(Reason.CLOUD_BUSY, f"the cloud refused it as conflicting with "
                                f"what it holds now: {message}; trying again", Next.REQUEUE,
                                self._busy_backoff(attempt))
        if isinstance(error, InstanceNotFoundError | QuotaExceededError | InvalidRequestError):
            return self._failed(Reason.INVALID_SPEC, f"the cloud refused it: {message}",
                                Next.TERMINAL)
        if isinstance(error, NotFoundError):  # e.g. the group of a user: may come back
            return self._failed(Reason.DEPENDENCY_NOT_READY, f"not found in the cloud: {message}",
                                Next.REQUEUE, self._busy_backoff(attempt + 4))
        if error.retryable:
            return self._failed(Reason.CLOUD_BUSY, message, Next.REQUEUE,
                                self._busy_backoff(attempt))
        return self._failed(Reason.ERROR, message, Next.TERMINAL)

    @staticmethod
    def _failed(reason: Reason, message: str, next_: Next, delay: float = 0.0) -> Outcome:
        return Outcome(ready=False, reason=reason, message=message, synced=False,
                       synced_reason=reason, next=next_, delay=delay)
