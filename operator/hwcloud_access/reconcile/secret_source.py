"""Where a user's password or secret key comes from: the Secret the spec names, or a
generated one written to a Secret the resource owns (and that is deleted with it)."""

from __future__ import annotations

from collections.abc import Callable

from ..api import GROUP
from ..api.base import SecretKeySelector
from .kube import CREDENTIALS_SELECTOR
from .outcome import DependencyNotReady, InvalidInput, InvalidSpec
from .resource import Context

CREDENTIALS_SECRET = "credentialsSecret"  # status: the name of the Secret the resource owns


async def resolve_secret(ctx: Context, ref: SecretKeySelector | None, *, owned_name: str,
                         owned_key: str, identity: dict[str, str],
                         generate: Callable[[], str],
                         problem: Callable[[str], str | None]) -> tuple[str, str | None]:
    """(value, name of the owned Secret or None). Never puts the value in a message."""
    resource = ctx.resource
    namespace = resource.namespace
    if namespace is None:  # a cluster-scoped kind has no namespace for its Secrets
        raise InvalidSpec(f"{resource.kind.kind} {resource.name} is not namespaced: it has no "
                          "namespace to hold its credentials Secret")
    if ref is not None:
        secret = await ctx.kube.read_watched_secret(namespace, ref.name)
        ctx.secret_refs.track(ctx.key, ref.name, secret.resource_version if secret else "")
        if secret is None:
            raise DependencyNotReady(f"Secret {namespace}/{ref.name} not found; waiting for "
                                     "it to be created", woken=True)
        if ctx.secret_refs.first_unlabelled(ctx.key, secret.labelled):
            await ctx.kube.post_event(
                namespace, resource.owner_reference(), "Warning", "SecretNotLabelled",
                f"Secret {namespace}/{ref.name} lacks the label {CREDENTIALS_SELECTOR}: the "
                "operator does not watch it, so a change of it is noticed at the operator's "
                "next resync (--resync-interval), not at once")
        value = secret.data.get(ref.key)
        if not value:
            raise InvalidInput(f"Secret {namespace}/{ref.name} has no key {ref.key!r}")
        owned = None
    else:
        secret = ctx.kube.cached_secret(namespace, owned_name)
        if secret is None and resource.status.get(CREDENTIALS_SECRET) == owned_name:
            secret = await ctx.kube.read_watched_secret(namespace, owned_name)  # restarted
        if secret is None:  # create first: a new resource costs no read
            labels = {f"{GROUP}/owner-kind": resource.kind.kind,
                      f"{GROUP}/owner-name": resource.name}
            secret = await ctx.kube.create_owned_secret(
                namespace, owned_name, {**identity, owned_key: generate()},
                resource.owner_reference(), labels)
        if secret is None:  # it exists: an earlier pass made it, or somebody else did
            secret = await ctx.kube.read_watched_secret(namespace, owned_name)
            if secret is None:
                raise DependencyNotReady(f"Secret {namespace}/{owned_name} vanished")
        # Tracked even when refused: removing a foreign Secret of that name wakes us.
        ctx.secret_refs.track(ctx.key, owned_name, secret.resource_version)
        if resource.uid not in secret.owner_uids:
            raise InvalidSpec(f"Secret {namespace}/{owned_name} exists and is not owned by this "
                              f"{resource.kind.kind}: name a Secret in the spec or remove it")
        value = secret.data.get(owned_key, "")
        if not value:
            raise InvalidInput(f"Secret {namespace}/{owned_name} has no key {owned_key!r}")
        owned = owned_name
    reason = problem(value)
    if reason:
        source = f"Secret {namespace}/{ref.name if ref else owned_name}"
        raise InvalidInput(f"{source}: {reason}")
    return value, owned
