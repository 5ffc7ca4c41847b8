"""Whether this replica acts now. On a kopf peering only one replica acts: kopf pauses its
own watches and handlers on the others, not the operator's background loops (the drift
sweep, the poll of unlabelled Secrets), so these ask before each round."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Acting = Callable[[], Awaitable[bool]]


async def always_acting() -> bool:
    """A standalone operator (no peering) always acts."""
    return True
