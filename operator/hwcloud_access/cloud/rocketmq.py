"""DMS for RocketMQ v2 users (ACL), keyed by access key.

Paths and JSON fields as in huaweicloudsdkrocketmq v2 (``rocketmq_client.py`` and
``model/``): ``/v2/{project_id}/instances/{instance_id}/users[/{user_name}]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from .caller import Caller, segment
from .errors import CloudError, ConflictError, InstanceNotFoundError, NotFoundError
from .models import MqUser, MqUserWrite

MAX_PAGE = 50  # the API's maximum ``limit``
_MAX_PAGES = 10_000


class RocketMqClient:
    def __init__(self, caller: Caller, project_id: str) -> None:
        self._caller = caller
        self._project = segment(project_id, "project id")

    def _base(self, instance_id: str) -> str:
        return f"/v2/{self._project}/instances/{segment(instance_id, 'instance id')}/users"

    def _user_path(self, instance_id: str, access_key: str) -> str:
        return f"{self._base(instance_id)}/{segment(access_key, 'access key')}"

    async def _json(self, operation: str, method: str, path: str, instance_id: str,
                    **kw: Any) -> dict[str, Any]:
        response = await self._caller.call(operation, method, path,
                                           limiter_key=f"dms:{instance_id}", **kw)
        if not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {}

    async def list_users(self, instance_id: str, *, page_size: int = 50) -> AsyncIterator[MqUser]:
        limit = max(1, min(page_size, MAX_PAGE))
        offset = 0
        for _ in range(_MAX_PAGES):
            data = await self._json(
                "rocketmq.list_users", "GET", self._base(instance_id), instance_id,
                params=[("offset", str(offset)), ("limit", str(limit))],
            )
            rows = data.get("users") or []
            for row in rows:
                yield MqUser.model_validate(row)
            offset += len(rows)
            total = data.get("total")
            if not rows or (total is not None and offset >= int(total)):
                return

    async def get_user(self, instance_id: str, access_key: str) -> MqUser:
        """NotFoundError when the user does not exist (DMS.00500972)."""
        data = await self._json("rocketmq.get_user", "GET",
                                self._user_path(instance_id, access_key), instance_id)
        if "user" in data and isinstance(data["user"], dict):
            data = data["user"]
        return MqUser.model_validate(data)

    async def create_user(self, instance_id: str, user: MqUserWrite, secret_key: str) -> None:
        """Create; repeated once after an answer that may hide a success (none, a 5xx), and
        then "already exists" is success (the API has no client token; the caller's
        read-back settles the fields)."""
        operation = "rocketmq.create_user"
        body = user.to_body(secret_key)
        try:
            await self._json(operation, "POST", self._base(instance_id), instance_id,
                             json=body, repeatable=False)
            return
        except CloudError as error:
            if not error.may_have_applied:
                raise
            # it may have been applied: try once more, a duplicate reads as conflict
        try:
            await self._json(operation, "POST", self._base(instance_id), instance_id,
                             json=body, repeatable=False)
        except ConflictError:
            return

    async def update_user(self, instance_id: str, access_key: str, user: MqUserWrite,
                          secret_key: str | None = None) -> None:
        """``secret_key=None`` sends an empty secret key, which keeps the old one."""
        body = user.to_body(secret_key or "")
        await self._json("rocketmq.update_user", "PUT",
                         self._user_path(instance_id, access_key), instance_id, json=body)

    async def delete_user(self, instance_id: str, access_key: str) -> None:
        """Gone already counts as done; so does a missing instance (no user can be there)."""
        try:
            await self._json("rocketmq.delete_user", "DELETE",
                             self._user_path(instance_id, access_key), instance_id)
        except (NotFoundError, InstanceNotFoundError):
            return
