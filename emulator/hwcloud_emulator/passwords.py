"""Secret handling: passwords and MQ secret keys are kept only as salted hashes.

``hash_secret`` gives ``"<salt hex>$<hmac-sha256 hex>"`` (a fresh 16-byte salt each time);
that is what the state file holds. ``fingerprint`` is the plain sha256 hex the admin state
shows so that tests can tell a rotation happened (it lives in memory only, never on disk).
One HMAC round keeps thousands of creates per second cheap; this is an emulator, not a vault.
"""

from __future__ import annotations

import hashlib
import hmac
import os

HISTORY = 5  # a reset may not reuse any of the last 5 passwords (the current one included)


def hash_secret(secret: str) -> str:
    salt = os.urandom(16)
    digest = hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{salt.hex()}${digest}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        salt_hex, digest = stored.split("$", 1)
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    mine = hmac.new(salt, secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mine, digest)


def in_history(secret: str, history: tuple[str, ...]) -> bool:
    return any(verify_secret(secret, stored) for stored in history)


def push_history(secret: str, history: tuple[str, ...]) -> tuple[str, ...]:
    """The new history, newest first, at most HISTORY entries."""
    return (hash_secret(secret), *history)[:HISTORY]


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
