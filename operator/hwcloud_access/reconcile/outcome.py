"""What one reconcile pass decided: the status to write, events to emit, and what comes next."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..api.base import PENDING_REASON


class Reason(StrEnum):
    """The fixed vocabulary of condition reasons (documented in the README)."""

    AVAILABLE = "Available"  # Ready: the cloud reads back what the spec asks for
    PENDING = PENDING_REASON  # Reconciling: the CRD's status until the first pass
    CREATING = "Creating"  # a create is being sent
    APPLYING = "Applying"  # the cloud accepted a change and is still applying it
    DELETING = "Deleting"  # deletion in progress
    DELETE_BLOCKED = "DeleteBlocked"  # the cloud refused the delete; retried, finalizer kept
    CLOUD_BUSY = "CloudBusy"  # retryable cloud answer (VPN.0030, 429, 5xx, timeouts), a conflict
    INVALID_SPEC = "InvalidSpec"  # input the schema could not catch, or the cloud refused
    DEPENDENCY_NOT_READY = "DependencyNotReady"  # group, Secret or account not there yet
    AUTH_FAILED = "AuthFailed"  # the cloud refused the credentials
    ACCESS_DENIED = "AccessDenied"  # the credentials lack permission
    NOT_FOUND = "NotFound"  # Observe mode: no such cloud object
    ALREADY_EXISTS = "AlreadyExists"  # a same-named cloud object it did not make (no Adopt)
    ALREADY_OWNED = "AlreadyOwned"  # another resource manages the same cloud object
    ACCOUNT_NOT_ALLOWED = "AccountNotAllowed"  # the account does not admit the namespace
    IN_USE = "InUse"  # an account being deleted that resources still name
    PAUSED = "ReconcilePaused"  # the paused annotation is set
    SUCCESS = "ReconcileSuccess"  # Synced: the last pass completed
    ERROR = "ReconcileError"  # Synced: unexpected failure


class Next(StrEnum):
    DONE = "done"  # nothing to wait for
    REQUEUE = "requeue"  # call again after `delay`
    TERMINAL = "terminal"  # wait for a spec change


@dataclass
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclass
class Outcome:
    ready: bool
    reason: Reason
    message: str
    next: Next = Next.DONE
    delay: float = 0.0
    synced: bool = True
    synced_reason: Reason = Reason.SUCCESS
    synced_message: str | None = None  # the Synced message when it differs from Ready's
    status: dict[str, Any] = field(default_factory=dict)  # kind-specific status fields
    events: list[Event] = field(default_factory=list)
    cloud_object: Any = None  # what the cloud read back when it matched (drift baseline)
    view: Any = None  # the listing it was read from
    released: bool = False  # deletion: the cloud confirmed it gone, or the resource lets it be
    resync_interval: float | None = None  # the object's own drift period, if it set one


class ReconcileProblem(Exception):
    """Raised inside a pass to end it with a condition; caught by the engine."""

    reason: Reason = Reason.ERROR
    terminal: bool = False
    delay: float = 30.0

    def __init__(self, message: str, *, delay: float | None = None,
                 woken: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.woken = woken  # something will wake the object: no need to look again
        if delay is not None:
            self.delay = delay


class InvalidSpec(ReconcileProblem):
    """Bad input in the spec itself: waits for a spec change."""

    reason = Reason.INVALID_SPEC
    terminal = True


class InvalidInput(ReconcileProblem):
    """Bad input outside the spec (a Secret's content): re-checked slowly, not terminal."""

    reason = Reason.INVALID_SPEC
    delay = 120.0


class AlreadyOwned(ReconcileProblem):
    """Another resource of the cluster manages the cloud object: left alone until this one
    changes or the owner goes (it is woken then). The message never names the owner."""

    reason = Reason.ALREADY_OWNED
    terminal = True


class AccountNotAllowed(ReconcileProblem):
    """The account's allowedNamespaces does not admit the resource's namespace: no cloud
    call; waits for a change of the resource, the account or the namespace's labels."""

    reason = Reason.ACCOUNT_NOT_ALLOWED
    terminal = True


class DependencyNotReady(ReconcileProblem):
    reason = Reason.DEPENDENCY_NOT_READY
    delay = 30.0


class AuthFailed(ReconcileProblem):
    """The cloud refused an account's credentials."""

    reason = Reason.AUTH_FAILED


class CloudBusy(ReconcileProblem):
    """The cloud did not answer, or answered with something to retry."""

    reason = Reason.CLOUD_BUSY
