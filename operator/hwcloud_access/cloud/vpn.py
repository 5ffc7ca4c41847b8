"""VPN v5 (P2C VPN gateway) users and user groups.

Paths and JSON fields as in huaweicloudsdkvpn v5 (``vpn_client.py`` and ``model/``).
Calls return at once and take effect later: a read right after a write may not see
it yet (NotFoundError or old values); the caller polls.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from .caller import Caller, segment
from .errors import CloudError, InvalidRequestError, NotFoundError
from .models import (
    BatchRejected,
    BatchResult,
    PageInfo,
    VpnGroup,
    VpnServer,
    VpnUser,
    VpnUserCreate,
)

# The API's maximum ``limit`` for user, group and group-member listings. The API reference
# names no bound; the official SDK's request models do (huaweicloud-sdk-java-v3
# ListVpnUsersRequest, ListVpnUserGroupsRequest, ListVpnUsersInGroupRequest: maximum 200).
MAX_PAGE = 200
_MAX_PAGES = 10_000


def new_client_token() -> str:
    """A fresh ``X-Client-Token`` (36-character UUID)."""
    return str(uuid.uuid4())


def _check_token(token: str | None) -> str:
    if token is None:
        return new_client_token()
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
        self, operation: str, method: str, path: str, server_id: str | None, **kw: Any
    ) -> dict[str, Any]:
        response = await self._caller.call(
            operation, method, path,
            limiter_key=self._key(server_id) if server_id else None, **kw,
        )
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

    # -- server ----------------------------------------------------------------------

    async def get_server(self, server_id: str) -> VpnServer:
        """The VPN server (``GET /v5/{project_id}/vpn-servers``, found by id)."""
        path = f"/v5/{self._project}/vpn-servers"
        marker: str | None = None
        for _ in range(_MAX_PAGES):
            params = [("limit", str(MAX_PAGE))]
            if marker:
                params.append(("marker", marker))
            data = await self._json("vpn.list_servers", "GET", path, server_id, params=params)
            rows = data.get("vpn_servers") or []
            for row in rows:
                if row.get("id") == server_id:
                    return VpnServer.model_validate(row)
            next_marker = PageInfo.model_validate(data.get("page_info") or {}).next_marker
            if not next_marker or not rows or next_marker == marker:
                break
            marker = next_marker
        raise NotFoundError(f"VPN server {server_id} not found", operation="vpn.get_server")

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

    async def find_group_by_name(self, server_id: str, name: str) -> VpnGroup | None:
        async for group in self.list_groups(server_id):
            if group.name == name:
                return group
        return None

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

    async def list_group_users(
        self, server_id: str, group_id: str, *, page_size: int = MAX_PAGE
    ) -> AsyncIterator[VpnUser]:
        """Members of a group (the API gives only id, name, description for each)."""
        path = f"{self._base(server_id)}/groups/{segment(group_id, 'group id')}/users"
        async for row in self._pages("vpn.list_group_users", path, server_id, "users", page_size):
            row = dict(row)
            row.setdefault("user_group_id", group_id)
            yield VpnUser.model_validate(row)

    async def add_users_to_group(self, server_id: str, group_id: str,
                                 user_ids: Iterable[str]) -> None:
        await self._members("add-users", "vpn.add_users_to_group", server_id, group_id, user_ids)

    async def remove_users_from_group(self, server_id: str, group_id: str,
                                      user_ids: Iterable[str]) -> None:
        await self._members("remove-users", "vpn.remove_users_from_group", server_id, group_id,
                            user_ids)

    async def _members(self, action: str, operation: str, server_id: str, group_id: str,
                       user_ids: Iterable[str]) -> None:
        ids = list(user_ids)
        if not ids:
            return
        path = f"{self._base(server_id)}/groups/{segment(group_id, 'group id')}/{action}"
        await self._json(operation, "POST", path, server_id,
                         json={"users": [{"id": user_id} for user_id in ids]})

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

    async def find_user_by_name(self, server_id: str, name: str) -> VpnUser | None:
        async for user in self.list_users(server_id):
            if user.name == name:
                return user
        return None

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

    async def batch_create_users(
        self, server_id: str, users: list[VpnUserCreate], *, client_token: str | None = None
    ) -> BatchResult:
        """Rows the cloud refused come back with their cause.

        One refused row fails the whole batch (nothing is created), so ``accepted`` is
        empty whenever ``rejected`` is not: resubmit the good rows. Read as all-or-
        nothing, a partial success elsewhere costs only an "already exists" answer on
        the resubmit (adopt by name), never an object waited for in vain.
        """
        token = _check_token(client_token)
        data = await self._json(
            "vpn.batch_create_users", "POST", f"{self._base(server_id)}/users/batch-create",
            server_id, json={"users": [user.to_body() for user in users]},
            headers={"X-Client-Token": token},
        )
        rejected = [BatchRejected.model_validate(row) for row in data.get("invalid_users") or []]
        refused = {row.name for row in rejected if row.name}
        created = {
            row["name"]: row["id"]
            for row in data.get("users") or []
            if isinstance(row, dict) and row.get("name") and row.get("id")
        }
        return BatchResult(
            accepted=[] if refused or rejected else [user.name for user in users],
            created=created,
            rejected=rejected,
            request_id=data.get("request_id"),
        )

    async def batch_delete_users(self, server_id: str, user_ids: Iterable[str]) -> BatchResult:
        ids = list(user_ids)
        if not ids:
            return BatchResult()
        data = await self._json(
            "vpn.batch_delete_users", "POST", f"{self._base(server_id)}/users/batch-delete",
            server_id, json={"users": [{"id": user_id} for user_id in ids]},
        )
        rejected = [
            BatchRejected.model_validate(row)
            for row in (data.get("invalid_users") or data.get("failed_users") or [])
        ]
        refused = {row.id for row in rejected if row.id}
        return BatchResult(
            accepted=[user_id for user_id in ids if user_id not in refused],
            rejected=rejected,
            request_id=data.get("request_id"),
        )

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
        """Admin reset. Not repeated after a TransportError: a second reset with the same
        password would be refused as one of the last five, so the caller decides."""
        path = f"{self._base(server_id)}/users/{segment(user_id, 'user id')}/reset-password"
        await self._json("vpn.reset_password", "POST", path, server_id,
                         json={"new_password": new_password}, retry_transport=False)

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
