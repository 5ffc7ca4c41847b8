"""VpnUser <-> a P2C VPN server's local-password user."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from ...api import VPN_USER
from ...api.vpn import VPN_USER_NAME_PATTERN, VpnUserSpec
from ...cloud import VPN_PAGE_SIZE, VpnUser
from ..conditions import is_ready
from ..credentials import generate, vpn_password_problem
from ..outcome import DependencyNotReady, InvalidSpec
from ..ownership import CloudKey, ManagedGroup, cloud_id_in
from ..resource import Adapter, Context, Credentials
from ..secret_source import resolve_secret
from ..views import CollectionView, ViewKey
from .vpn_group import vpn_groups_view

DEFAULT_GROUP_MAX_AGE = 300.0  # the built-in group never changes


@dataclass(frozen=True)
class UserTarget:
    """The cloud user a resource names, and what a create of it sends: all a deletion needs
    (to find the user, delete it, and send again a create whose answer was lost). It
    resolves no reference: the group a groupRef names may be gone."""

    server_id: str
    name: str
    description: str
    static_ip: str
    group_id: str | None  # the spec's groupId; None: the create names no group


@dataclass(frozen=True)
class DesiredUser(UserTarget):
    """What managing compares and sends: the group resolved (the spec's groupId, its
    groupRef's cloud id, or the server's Default group), as the cloud reads it back."""

    group_id: str


def _usable(group: dict[str, Any] | None) -> bool:
    return group is not None and is_ready(group["status"]) and bool(cloud_id_in(group["status"]))


class VpnUserAdapter(Adapter[DesiredUser, VpnUser, Credentials]):
    kind = VPN_USER
    client_tokens = True

    def cloud_key(self, spec: dict[str, Any], name: str) -> CloudKey:
        return CloudKey(self.kind.kind, spec.get("vpnServerId", ""), spec.get("name") or name)

    def _name(self, ctx: Context, spec: VpnUserSpec) -> str:
        name = spec.name or ctx.resource.name
        if not re.fullmatch(VPN_USER_NAME_PATTERN, name):
            raise InvalidSpec(f"metadata.name {name!r} is not a valid VPN user name "
                              "(4-32 letters, digits, ., _ and -): set spec.name")
        return name

    async def _group_id(self, ctx: Context, spec: VpnUserSpec) -> str:
        if spec.group_id:
            managers = ctx.references.get(ManagedGroup(spec.vpn_server_id, spec.group_id), ())
            if any(namespace != ctx.resource.namespace for namespace in managers):
                raise InvalidSpec(f"groupId {spec.group_id} is a group that a VpnUserGroup "
                                  "in another namespace manages: a user joins a group this "
                                  "cluster manages through spec.groupRef, in the group's "
                                  "own namespace")
            return spec.group_id
        if spec.group_ref is None:
            return await self._default_group_id(ctx, spec.vpn_server_id)
        namespace, group_name = ctx.resource.namespace or "", spec.group_ref.name
        group = await ctx.dependencies.group(namespace, group_name)
        # A group being made is waited for in the pass; a missing one is reported at once.
        # Read again whatever the wait says: it may have become Ready as the wait ran out.
        if group is not None and not _usable(group):
            await ctx.dependencies.wait_for_ready(namespace, group_name)
            group = await ctx.dependencies.group(namespace, group_name)
        if group is None or not _usable(group):
            ctx.dependencies.wait_for_group(namespace, group_name, ctx.key)
            state = "does not exist" if group is None else "is not Ready"
            raise DependencyNotReady(f"VpnUserGroup {group_name} {state} yet; waiting for it "
                                     "to become Ready", woken=True)
        if group["spec"].get("vpnServerId") != spec.vpn_server_id:
            raise InvalidSpec(f"VpnUserGroup {group_name} is on VPN server "
                              f"{group['spec'].get('vpnServerId')}, not {spec.vpn_server_id}")
        return cloud_id_in(group["status"]) or ""

    async def _default_group_id(self, ctx: Context, server_id: str) -> str:
        """The server's built-in group, where a user with no group belongs."""
        groups = await vpn_groups_view(ctx, server_id).snapshot(
            newer_than=time.monotonic() - DEFAULT_GROUP_MAX_AGE)
        for group in groups.by_id.values():
            if group.type == "Default":
                return group.id
        raise DependencyNotReady(f"VPN server {server_id} shows no Default user group")

    async def prepare(self, ctx: Context, spec: VpnUserSpec) -> DesiredUser:
        name = self._name(ctx, spec)
        return DesiredUser(spec.vpn_server_id, name, spec.description, spec.static_ip,
                           await self._group_id(ctx, spec))

    async def credentials(self, ctx: Context, desired: DesiredUser) -> Credentials:
        name = desired.name
        password, owned = await resolve_secret(
            ctx, ctx.spec.password_secret_ref,
            owned_name=f"{ctx.resource.name}-vpn-credentials", owned_key="password",
            identity={"username": name}, generate=lambda: self._password(name),
            problem=lambda value: vpn_password_problem(value, name))
        return Credentials(password, owned)

    def throwaway_credentials(self, desired: UserTarget) -> Credentials:
        return Credentials(self._password(desired.name))

    @staticmethod
    def _password(name: str) -> str:
        return generate(20, forbidden=(name, name[::-1]))

    async def before_delete(self, ctx: Context, spec: VpnUserSpec) -> UserTarget:
        return UserTarget(spec.vpn_server_id, self._name(ctx, spec), spec.description,
                          spec.static_ip, spec.group_id)

    def view(self, ctx: Context, desired: UserTarget) -> CollectionView[VpnUser]:
        server_id = desired.server_id
        return ctx.views.get(
            ViewKey(ctx.account, "vpn-users", server_id), ctx.session,
            lambda session, size: session.vpn.list_users(server_id, page_size=size),
            page_size=VPN_PAGE_SIZE, id_of=lambda u: u.id, name_of=lambda u: u.name)

    async def read_one(self, ctx: Context, desired: UserTarget, cloud_id: str) -> VpnUser:
        return await ctx.session.vpn.get_user(desired.server_id, cloud_id)

    def cloud_name(self, desired: UserTarget) -> str:
        return desired.name

    def cloud_id(self, observed: VpnUser) -> str:
        return observed.id

    def differences(self, desired: DesiredUser, observed: VpnUser) -> list[str]:
        found = []
        if (observed.description or "") != desired.description:
            found.append("description")
        if (observed.static_ip or "disable") != desired.static_ip:
            found.append("staticIp")
        if observed.user_group_id != desired.group_id:
            found.append("group")
        return found

    async def create(self, ctx: Context, desired: UserTarget, credentials: Credentials,
                     client_token: str) -> str:
        return await ctx.session.vpn.create_user(
            desired.server_id, name=desired.name, password=credentials.secret,
            description=desired.description, user_group_id=desired.group_id,
            static_ip=desired.static_ip, client_token=client_token)

    async def update(self, ctx: Context, desired: DesiredUser, observed: VpnUser) -> None:
        await ctx.session.vpn.update_user(
            desired.server_id, observed.id, description=desired.description,
            user_group_id=desired.group_id, static_ip=desired.static_ip)

    async def delete(self, ctx: Context, desired: UserTarget, observed: VpnUser) -> None:
        await ctx.session.vpn.delete_user(desired.server_id, observed.id)

    def read_back(self, observed: VpnUser | None) -> dict[str, Any]:
        if observed is None:
            return {"groupId": None, "userGroupName": None}
        return {"groupId": observed.user_group_id, "userGroupName": observed.user_group_name}

    async def apply_credentials(self, ctx: Context, desired: DesiredUser,
                                credentials: Credentials, observed: VpnUser) -> None:
        await ctx.session.vpn.reset_password(desired.server_id, observed.id, credentials.secret)
