"""MqUser <-> a DMS for RocketMQ instance's ACL user (keyed by its access key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...api import MQ_USER
from ...api.mq import MqUserSpec
from ...cloud import MQ_PAGE_SIZE, MqUser, MqUserWrite, Perm
from ..credentials import generate, mq_secret_problem
from ..ownership import CloudKey
from ..resource import Adapter, Context, Credentials
from ..secret_source import resolve_secret
from ..views import CollectionView, ViewKey


@dataclass(frozen=True)
class DesiredMqUser:
    instance_id: str
    write: MqUserWrite


def _write(spec: MqUserSpec) -> MqUserWrite:
    return MqUserWrite(
        access_key=spec.access_key, white_remote_address=spec.white_remote_address,
        admin=spec.admin, default_topic_perm=spec.default_topic_perm,
        default_group_perm=spec.default_group_perm,
        topic_perms=[Perm(name=p.name, perm=p.perm) for p in spec.topic_perms],
        group_perms=[Perm(name=p.name, perm=p.perm) for p in spec.group_perms])


def _perms(perms: list[Perm]) -> set[tuple[str, str]]:
    return {(p.name, p.perm) for p in perms}


class MqUserAdapter(Adapter[DesiredMqUser, MqUser, Credentials]):
    kind = MQ_USER
    client_tokens = False  # the API has none; an intent recorded before the create is proof

    def cloud_key(self, spec: dict[str, Any], name: str) -> CloudKey:
        return CloudKey(self.kind.kind, spec.get("instanceId", ""), spec.get("accessKey", ""))

    async def prepare(self, ctx: Context, spec: MqUserSpec) -> DesiredMqUser:
        return DesiredMqUser(spec.instance_id, _write(spec))

    async def credentials(self, ctx: Context, desired: DesiredMqUser) -> Credentials:
        access_key = desired.write.access_key
        secret_key, owned = await resolve_secret(
            ctx, ctx.spec.secret_key_secret_ref,
            owned_name=f"{ctx.resource.name}-mq-credentials", owned_key="secretKey",
            identity={"accessKey": access_key}, generate=lambda: self._secret_key(access_key),
            problem=lambda value: mq_secret_problem(value, access_key))
        return Credentials(secret_key, owned)

    def throwaway_credentials(self, desired: DesiredMqUser) -> Credentials:
        return Credentials(self._secret_key(desired.write.access_key))

    @staticmethod
    def _secret_key(access_key: str) -> str:
        return generate(24, forbidden=(access_key, access_key[::-1]))

    def view(self, ctx: Context, desired: DesiredMqUser) -> CollectionView[MqUser]:
        instance_id = desired.instance_id
        return ctx.views.get(
            ViewKey(ctx.account, "mq-users", instance_id), ctx.session,
            lambda session, size: session.rocketmq.list_users(instance_id, page_size=size),
            page_size=MQ_PAGE_SIZE, id_of=lambda u: u.access_key,
            name_of=lambda u: u.access_key)

    async def read_one(self, ctx: Context, desired: DesiredMqUser, cloud_id: str) -> MqUser:
        return await ctx.session.rocketmq.get_user(desired.instance_id, cloud_id)

    def cloud_name(self, desired: DesiredMqUser) -> str:
        return desired.write.access_key

    def cloud_id(self, observed: MqUser) -> str:
        return observed.access_key

    def differences(self, desired: DesiredMqUser, observed: MqUser) -> list[str]:
        want = desired.write
        found = []
        if (observed.white_remote_address or "") != (want.white_remote_address or ""):
            found.append("whiteRemoteAddress")
        if bool(observed.admin) != want.admin:
            found.append("admin")
        if observed.default_topic_perm != want.default_topic_perm:
            found.append("defaultTopicPerm")
        if observed.default_group_perm != want.default_group_perm:
            found.append("defaultGroupPerm")
        if _perms(observed.topic_perms) != _perms(want.topic_perms):
            found.append("topicPerms")
        if _perms(observed.group_perms) != _perms(want.group_perms):
            found.append("groupPerms")
        return found

    async def create(self, ctx: Context, desired: DesiredMqUser, credentials: Credentials,
                     client_token: str) -> str:
        await ctx.session.rocketmq.create_user(desired.instance_id, desired.write,
                                               credentials.secret)
        return desired.write.access_key

    async def update(self, ctx: Context, desired: DesiredMqUser, observed: MqUser) -> None:
        await ctx.session.rocketmq.update_user(desired.instance_id, desired.write.access_key,
                                               desired.write)

    async def delete(self, ctx: Context, desired: DesiredMqUser, observed: MqUser) -> None:
        await ctx.session.rocketmq.delete_user(desired.instance_id, observed.access_key)

    def read_back(self, observed: MqUser | None) -> dict[str, Any]:
        return {}

    async def apply_credentials(self, ctx: Context, desired: DesiredMqUser,
                                credentials: Credentials, observed: MqUser) -> None:
        await ctx.session.rocketmq.update_user(desired.instance_id, desired.write.access_key,
                                               desired.write, secret_key=credentials.secret)
