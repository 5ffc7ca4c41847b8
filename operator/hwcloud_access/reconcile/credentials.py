"""Passwords and secret keys: generating ones the cloud accepts, checking user-supplied ones,
and fingerprinting them so that a rotation can be detected without storing the secret.

A fingerprint is HMAC-SHA256 under the operator's own key (kept in a Secret): without that
key it tells nothing about the secret, so it may live in the resource's status. It starts
with the key's id, so that a new key (its Secret deleted and made again) is told apart from
a new secret: a fingerprint made under another key is renewed, never read as a rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

UPPER, LOWER, DIGITS = string.ascii_uppercase, string.ascii_lowercase, string.digits
MQ_SPECIAL = "`~!@#$%^&*()-_=+\\|[{}];:'\",<.>/?"
VPN_SPECIAL = MQ_SPECIAL + " "
GENERATED_SPECIAL = "!@#%^*-_=+"  # a subset both services accept and shells do not mangle


def _classes(value: str, special: str) -> int:
    return sum(any(c in chars for c in value) for chars in (UPPER, LOWER, DIGITS, special))


def generate(length: int = 20, *, forbidden: tuple[str, ...] = ()) -> str:
    """A random secret with every character class, not equal to any forbidden value."""
    alphabet = UPPER + LOWER + DIGITS + GENERATED_SPECIAL
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        if _classes(value, GENERATED_SPECIAL) == 4 and value not in forbidden:
            return value


def vpn_password_problem(password: str, user_name: str) -> str | None:
    """Why the VPN would refuse this password, or None. Never quotes the password."""
    if not 8 <= len(password) <= 32:
        return f"the password has {len(password)} characters; the VPN needs 8 to 32"
    if any(c not in UPPER + LOWER + DIGITS + VPN_SPECIAL for c in password):
        return "the password has a character the VPN does not allow"
    if _classes(password, VPN_SPECIAL) < 2:
        return "the password needs at least 2 of: upper case, lower case, digits, special"
    if password in (user_name, user_name[::-1]):
        return "the password must not be the user name or its reverse"
    return None


def mq_secret_problem(secret_key: str, access_key: str) -> str | None:
    """Why RocketMQ would refuse this secret key, or None. Never quotes the key."""
    if not 8 <= len(secret_key) <= 32:
        return f"the secret key has {len(secret_key)} characters; RocketMQ needs 8 to 32"
    if any(c not in UPPER + LOWER + DIGITS + MQ_SPECIAL for c in secret_key):
        return "the secret key has a character RocketMQ does not allow"
    if _classes(secret_key, MQ_SPECIAL) < 3:
        return "the secret key needs at least 3 of: upper case, lower case, digits, special"
    if secret_key in (access_key, access_key[::-1]):
        return "the secret key must not be the access key or its reverse"
    return None


class Fingerprinter:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the fingerprint key must have at least 16 bytes")
        self._key = key
        self.key_id = hmac.new(key, b"key-id", hashlib.sha256).hexdigest()[:8]

    def __call__(self, owner_uid: str, value: str) -> str:
        message = f"{owner_uid}\0{value}".encode()
        return f"{self.key_id}:{hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]}"

    def made_with_this_key(self, fingerprint: str) -> bool:
        """False for a fingerprint made under another key (or by a version without key ids):
        comparing it with a new one says nothing about the secret."""
        return fingerprint.startswith(f"{self.key_id}:")

    def __repr__(self) -> str:
        return "Fingerprinter(<key hidden>)"
