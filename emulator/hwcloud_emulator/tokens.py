"""IAM tokens issued by the emulator: opaque random strings with an expiry (never logged)."""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass

from hwcloud_emulator.errors import CloudError


@dataclass
class Token:
    project_id: str
    user_name: str
    domain_name: str
    methods: tuple[str, ...]
    issued_at: float  # epoch seconds
    expires_at: float  # epoch seconds


class TokenStore:
    _PRUNE_ABOVE = 10_000

    def __init__(self) -> None:
        self._tokens: dict[str, Token] = {}

    def __len__(self) -> int:
        return len(self._tokens)

    def issue(
        self,
        *,
        project_id: str,
        user_name: str,
        domain_name: str,
        methods: tuple[str, ...],
        ttl: float,
    ) -> tuple[str, Token]:
        if len(self._tokens) > self._PRUNE_ABOVE:
            self.prune()
        now = time.time()
        value = "MIIE" + base64.urlsafe_b64encode(os.urandom(96)).decode("ascii").rstrip("=")
        token = Token(project_id, user_name, domain_name, methods, now, now + ttl)
        self._tokens[value] = token
        return value, token

    def check(self, value: str) -> Token:
        token = self._tokens.get(value)
        if token is None:
            raise CloudError("AUTH_INVALID", "the X-Auth-Token is not valid")
        if time.time() >= token.expires_at:
            raise CloudError("TOKEN_EXPIRED")
        return token

    def expire_all(self) -> int:
        now = time.time()
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, now)
        return len(self._tokens)

    def prune(self) -> None:
        """Forget tokens that expired more than a day ago."""
        horizon = time.time() - 86400
        self._tokens = {k: t for k, t in self._tokens.items() if t.expires_at > horizon}
