"""VpnUserGroup <-> a P2C VPN server's user group."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from ...api import VPN_USER, VPN_USER_GROUP
from ...api.vpn import VPN_GROUP_NAME_PATTERN, VpnUserGroupSpec
from ...cloud import VPN_PAGE_SIZE, VpnGroup
from ..outcome import DependencyNotReady, InvalidSpec
from ..ownership import CloudKey, ManagedGroup, claims_object
from ..resource import Adapter, Context
from ..views import CollectionView, ViewKey


@dataclass(frozen=True)
class DesiredGroup:
    server_id: str
    name: str
    description: str


def vpn_groups_view(ctx: Context, server_id: str) -> CollectionView[VpnGroup]:
    return ctx.views.get(
        ViewKey(ctx.account, "vpn-groups", server_id), ctx.session,
        lambda session, size: session.vpn.list_groups(server_id, page_size=size),
        page_size=VPN_PAGE_SIZE, id_of=lambda g: g.id, name_of=lambda g: g.name)


async def _members_message(ctx: Context, group: VpnGroup) -> str:
    """Why a group waits: its users, counting those that are VpnUsers of its namespace (a
    count only: nothing is said of other namespaces)."""
    namespace = ctx.resource.namespace or ""
    managed = sum(1 for user in await ctx.kube.list_objects(VPN_USER, namespace)
                  if (user.get("status") or {}).get("groupId") == group.id)
    others = group.user_number - managed
    detail = f"{managed} of them VpnUser(s) in this namespace"
    if others > 0:
        detail += (f", {others} not managed here (delete them or move them to another group "
                   "in the cloud)")
    return (f"the group still has {group.user_number} user(s) ({detail}); it is deleted once "
            "they are gone")


class VpnUserGroupAdapter(Adapter[DesiredGroup, VpnGroup, None]):
    kind = VPN_USER_GROUP
    client_tokens = True

    def cloud_key(self, spec: dict[str, Any], name: str) -> CloudKey:
        return CloudKey(self.kind.kind, spec.get("vpnServerId", ""), spec.get("name") or name)

    def references(self, body: Mapping[str, Any]) -> dict[Hashable, Any]:
        """The group's cloud id, once it made or adopted it, for the VpnUsers' groupId
        check: its namespace (ManagedGroup)."""
        status = body.get("status") or {}
        if not claims_object(dict(body)) or not status.get("id"):
            return {}
        server = (body.get("spec") or {}).get("vpnServerId", "")
        return {ManagedGroup(server, status["id"]): body["metadata"].get("namespace") or ""}

    async def prepare(self, ctx: Context, spec: VpnUserGroupSpec) -> DesiredGroup:
        name = spec.name or ctx.resource.name
        if not re.fullmatch(VPN_GROUP_NAME_PATTERN, name):
            raise InvalidSpec(f"metadata.name {name!r} is not a valid VPN group name "
                              "(1-64 letters, digits, _ and -): set spec.name")
        return DesiredGroup(spec.vpn_server_id, name, spec.description)

    def view(self, ctx: Context, desired: DesiredGroup) -> CollectionView[VpnGroup]:
        return vpn_groups_view(ctx, desired.server_id)

    async def read_one(self, ctx: Context, desired: DesiredGroup, cloud_id: str) -> VpnGroup:
        return await ctx.session.vpn.get_group(desired.server_id, cloud_id)

    def cloud_name(self, desired: DesiredGroup) -> str:
        return desired.name

    def cloud_id(self, observed: VpnGroup) -> str:
        return observed.id

    def differences(self, desired: DesiredGroup, observed: VpnGroup) -> list[str]:
        return ["description"] if (observed.description or "") != desired.description else []

    async def create(self, ctx: Context, desired: DesiredGroup, credentials: None,
                     client_token: str) -> str:
        return await ctx.session.vpn.create_group(
            desired.server_id, name=desired.name, description=desired.description,
            client_token=client_token)

    async def update(self, ctx: Context, desired: DesiredGroup, observed: VpnGroup) -> None:
        await ctx.session.vpn.update_group(desired.server_id, observed.id, name=desired.name,
                                           description=desired.description)

    async def delete(self, ctx: Context, desired: DesiredGroup, observed: VpnGroup) -> None:
        if observed.user_number:
            # The listing may be seconds old: the wait counts the users the group has now,
            # and a group whose last users just left is deleted at once.
            observed = await self.read_one(ctx, desired, observed.id)
        if observed.user_number:
            raise DependencyNotReady(await _members_message(ctx, observed), delay=10.0)
        await ctx.session.vpn.delete_group(desired.server_id, observed.id)

    def read_back(self, observed: VpnGroup | None) -> dict[str, Any]:
        if observed is None:
            return {"type": None, "userNumber": None}
        return {"type": observed.type, "userNumber": observed.user_number}
