"""VPN v5 (P2C VPN gateway) users and user groups.

Paths and JSON fields as in huaweicloudsdkvpn v5 (``vpn_client.py`` and ``model/``).
Calls return at once and take effect later: a read right after a write may not see
it yet (NotFoundError or old values); the caller polls.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from .caller import Caller, segment
from .errors import CloudError, InvalidRequestError, NotFoundError
from .models import PageInfo, VpnGroup, VpnUser

# The API's maximum ``limit`` for user and group listings. The API reference names no
# bound; the official SDK's request models do (huaweicloud-sdk-java-v3 ListVpnUsersRequest,
# ListVpnUserGroupsRequest: maximum 200).
MAX_PAGE = 200
_MAX_PAGES = 10_000


def _check_token(token: str | None) -> str:
    """``token`` checked, or a fresh ``X-Client-Token`` (a 36-character UUID)."""
    if token is None:
        return str(uuid.uuid4())
    if len(token) != 36:
        raise InvalidRequestError("client_token must be a 36-character UUID")
    return token


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


class VpnClient:
    def __init__(self, caller: Caller, project_id: str) -> None:
        self._caller = caller
        self._project = segment(project_id, "project id")

    # -- helpers -------------------------------------------------------------------

    def _base(self, server_id: str) -> str:
        return (
            f"/v5/{self._project}/p2c-vpn-gateways/vpn-servers/{segment(server_id, 'server id')}"
        )

    @staticmethod
    def _key(server_id: str) -> str:
        return f"vpn:{server_id}"

    async def _json(
        self, operation: str, method: str, path: str, server_id: str, **kw: Any
    ) -> dict[str, Any]:
        response = await self._caller.call(operation, method, path,
                                           limiter_key=self._key(server_id), **kw)
        if not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {}

    async def _pages(
        self, operation: str, path: str, server_id: str, field: str, page_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        limit = max(1, min(page_size, MAX_PAGE))
        marker: str | None = None
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            params = [("limit", str(limit))]
            if marker:
                params.append(("marker", marker))
            data = await self._json(operation, "GET", path, server_id, params=params)
            rows = data.get(field) or []
            for row in rows:
                yield row
            marker = PageInfo.model_validate(data.get("page_info") or {}).next_marker
            if not marker or not rows or marker in seen:
                return
            seen.add(marker)

    # -- groups ----------------------------------------------------------------------

    async def list_groups(
        self, server_id: str, *, page_size: int = MAX_PAGE
    ) -> AsyncIterator[VpnGroup]:
        path = f"{self._base(server_id)}/groups"
        async for row in self._pages("vpn.list_groups", path, server_id, "user_groups", page_size):
            yield VpnGroup.model_validate(row)

    async def get_group(self, server_id: str, group_id: str) -> VpnGroup:
        path = f"{self._base(server_id)}/groups/{segment(group_id, 'group id')}"
        data = await self._json("vpn.get_group", "GET", path, server_id)
        return VpnGroup.model_validate(data.get("user_group") or {})

    async def create_group(
        self, server_id: str, *, name: str, description: str | None = None,
        client_token: str | None = None,
    ) -> str:
        """The new group's id. Safe to repeat with the same ``client_token``."""
        token = _check_token(client_token)
        data = await self._json(
            "vpn.create_group", "POST", f"{self._base(server_id)}/groups", server_id,
            json={"user_group": _drop_none(name=name, description=description)},
            headers={"X-Client-Token": token},
        )
        return _created_id(data, "user_group", "vpn.create_group")

    async def update_group(
        self, server_id: str, group_id: str, *, name: str | None = None,
        description: str | None = None,
    ) -> None:
        path = f"{self._base(server_id)}/groups/{segment(group_id, 'group id')}"
        await self._json("vpn.update_group", "PUT", path, server_id,
                         json={"user_group": _drop_none(name=name, description=description)})

    async def delete_group(self, server_id: str, group_id: str) -> None:
        """Gone already counts as done."""
        path = f"{self._base(server_id)}/groups/{segment(group_id, 'group id')}"
        try:
            await self._json("vpn.delete_group", "DELETE", path, server_id)
        except NotFoundError:
            return

    # -- users -----------------------------------------------------------------------

    async def list_users(
        self, server_id: str, *, page_size: int = MAX_PAGE
    ) -> AsyncIterator[VpnUser]:
        path = f"{self._base(server_id)}/users"
        async for row in self._pages("vpn.list_users", path, server_id, "users", page_size):
            yield VpnUser.model_validate(row)

    async def get_user(self, server_id: str, user_id: str) -> VpnUser:
        path = f"{self._base(server_id)}/users/{segment(user_id, 'user id')}"
        data = await self._json("vpn.get_user", "GET", path, server_id)
        return VpnUser.model_validate(data.get("user") or {})

    async def create_user(
        self,
        server_id: str,
        *,
        name: str,
        password: str,
        description: str | None = None,
        user_group_id: str | None = None,
        static_ip: str | None = None,
        client_token: str | None = None,
    ) -> str:
        """The new user's id. Safe to repeat with the same ``client_token``."""
        token = _check_token(client_token)
        body = _drop_none(name=name, password=password, description=description,
                          user_group_id=user_group_id, static_ip=static_ip)
        data = await self._json(
            "vpn.create_user", "POST", f"{self._base(server_id)}/users", server_id,
            json={"user": body}, headers={"X-Client-Token": token},
        )
        return _created_id(data, "user", "vpn.create_user")

    async def update_user(
        self,
        server_id: str,
        user_id: str,
        *,
        description: str | None = None,
        user_group_id: str | None = None,
        static_ip: str | None = None,
    ) -> None:
        """Only the fields given (not None) are sent; the name is immutable."""
        path = f"{self._base(server_id)}/users/{segment(user_id, 'user id')}"
        body = _drop_none(description=description, user_group_id=user_group_id,
                          static_ip=static_ip)
        await self._json("vpn.update_user", "PUT", path, server_id, json={"user": body})

    async def reset_password(self, server_id: str, user_id: str, new_password: str) -> None:
        """Admin reset. Not repeated when it may have taken effect (no answer, a 5xx): a
        second reset with the same password would be refused as one of the last five, so
        the caller, which recorded its intent, decides."""
        path = f"{self._base(server_id)}/users/{segment(user_id, 'user id')}/reset-password"
        await self._json("vpn.reset_password", "POST", path, server_id,
                         json={"new_password": new_password}, repeatable=False)

    async def delete_user(self, server_id: str, user_id: str) -> None:
        """Gone already counts as done."""
        path = f"{self._base(server_id)}/users/{segment(user_id, 'user id')}"
        try:
            await self._json("vpn.delete_user", "DELETE", path, server_id)
        except NotFoundError:
            return


def _created_id(data: dict[str, Any], field: str, operation: str) -> str:
    obj = data.get(field)
    if isinstance(obj, dict) and obj.get("id"):
        return str(obj["id"])
    raise CloudError(f"the answer has no {field}.id", operation=operation)
