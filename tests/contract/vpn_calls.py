"""Thin wrappers around the official VPN v5 SDK calls used by the contract tests."""

from __future__ import annotations

from typing import Any

from huaweicloudsdkvpn.v5 import (
    AddVpnUsersToGroupRequest,
    AddVpnUserToGroupRequestBody,
    BatchCreateVpnUsersRequest,
    BatchCreateVpnUsersRequestBody,
    BatchDeleteVpnUsersRequest,
    BatchDeleteVpnUsersRequestBody,
    CreateVpnUser,
    CreateVpnUserGroupRequest,
    CreateVpnUserGroupRequestBody,
    CreateVpnUserGroupRequestBodyContent,
    CreateVpnUserRequest,
    CreateVpnUserRequestBody,
    CreateVpnUserRequestBodyContent,
    DeleteVpnUserGroupRequest,
    DeleteVpnUserRequest,
    ListVpnServersByProjectRequest,
    ListVpnUserGroupsRequest,
    ListVpnUsersInGroupRequest,
    ListVpnUsersRequest,
    OpVpnUser,
    RemoveVpnUserFromGroupRequestBody,
    RemoveVpnUsersFromGroupRequest,
    ResetVpnUserPasswordRequest,
    ResetVpnUserPasswordRequestBody,
    ShowVpnUserGroupRequest,
    ShowVpnUserRequest,
    UpdateVpnUserGroupRequest,
    UpdateVpnUserGroupRequestBody,
    UpdateVpnUserGroupRequestBodyContent,
    UpdateVpnUserPasswordRequest,
    UpdateVpnUserPasswordRequestBody,
    UpdateVpnUserRequest,
    UpdateVpnUserRequestBody,
    UpdateVpnUserRequestBodyContent,
    VpnClient,
)

PASSWORD = "Passw0rd-Emu"


class Vpn:
    """One VPN server through the SDK."""

    def __init__(self, client: VpnClient, server_id: str) -> None:
        self.client = client
        self.server = server_id

    # servers
    def list_servers(self, **kw: Any):
        return self.client.list_vpn_servers_by_project(ListVpnServersByProjectRequest(**kw))

    # groups
    def create_group(self, name: str, description: str | None = None, token: str | None = None):
        body = CreateVpnUserGroupRequestBody(
            user_group=CreateVpnUserGroupRequestBodyContent(name=name, description=description)
        )
        request = CreateVpnUserGroupRequest(
            vpn_server_id=self.server, x_client_token=token, body=body
        )
        return self.client.create_vpn_user_group(request)

    def show_group(self, group_id: str):
        request = ShowVpnUserGroupRequest(vpn_server_id=self.server, group_id=group_id)
        return self.client.show_vpn_user_group(request).user_group

    def list_groups(self, **kw: Any):
        return self.client.list_vpn_user_groups(
            ListVpnUserGroupsRequest(vpn_server_id=self.server, **kw)
        )

    def update_group(self, group_id: str, name: str | None = None, description: str | None = None):
        body = UpdateVpnUserGroupRequestBody(
            user_group=UpdateVpnUserGroupRequestBodyContent(name=name, description=description)
        )
        request = UpdateVpnUserGroupRequest(vpn_server_id=self.server, group_id=group_id, body=body)
        return self.client.update_vpn_user_group(request)

    def delete_group(self, group_id: str):
        request = DeleteVpnUserGroupRequest(vpn_server_id=self.server, group_id=group_id)
        return self.client.delete_vpn_user_group(request)

    def group_users(self, group_id: str, **kw: Any):
        request = ListVpnUsersInGroupRequest(vpn_server_id=self.server, group_id=group_id, **kw)
        return self.client.list_vpn_users_in_group(request)

    def add_users(self, group_id: str, user_ids: list[str]):
        body = AddVpnUserToGroupRequestBody(users=[OpVpnUser(id=u) for u in user_ids])
        request = AddVpnUsersToGroupRequest(vpn_server_id=self.server, group_id=group_id, body=body)
        return self.client.add_vpn_users_to_group(request)

    def remove_users(self, group_id: str, user_ids: list[str]):
        body = RemoveVpnUserFromGroupRequestBody(users=[OpVpnUser(id=u) for u in user_ids])
        request = RemoveVpnUsersFromGroupRequest(
            vpn_server_id=self.server, group_id=group_id, body=body
        )
        return self.client.remove_vpn_users_from_group(request)

    # users
    def create_user(
        self,
        name: str,
        password: str = PASSWORD,
        *,
        description: str | None = None,
        group_id: str | None = None,
        static_ip: str | None = None,
        token: str | None = None,
    ):
        content = CreateVpnUserRequestBodyContent(
            name=name,
            password=password,
            description=description,
            user_group_id=group_id,
            static_ip=static_ip,
        )
        request = CreateVpnUserRequest(
            vpn_server_id=self.server,
            x_client_token=token,
            body=CreateVpnUserRequestBody(user=content),
        )
        return self.client.create_vpn_user(request)

    def show_user(self, user_id: str):
        request = ShowVpnUserRequest(vpn_server_id=self.server, user_id=user_id)
        return self.client.show_vpn_user(request).user

    def list_users(self, **kw: Any):
        return self.client.list_vpn_users(ListVpnUsersRequest(vpn_server_id=self.server, **kw))

    def update_user(self, user_id: str, **fields: Any):
        body = UpdateVpnUserRequestBody(user=UpdateVpnUserRequestBodyContent(**fields))
        request = UpdateVpnUserRequest(vpn_server_id=self.server, user_id=user_id, body=body)
        return self.client.update_vpn_user(request)

    def delete_user(self, user_id: str):
        request = DeleteVpnUserRequest(vpn_server_id=self.server, user_id=user_id)
        return self.client.delete_vpn_user(request)

    def reset_password(self, user_id: str, new_password: str):
        body = ResetVpnUserPasswordRequestBody(new_password=new_password)
        request = ResetVpnUserPasswordRequest(vpn_server_id=self.server, user_id=user_id, body=body)
        return self.client.reset_vpn_user_password(request)

    def change_password(self, user_id: str, old: str, new: str):
        body = UpdateVpnUserPasswordRequestBody(old_password=old, new_password=new)
        request = UpdateVpnUserPasswordRequest(
            vpn_server_id=self.server, user_id=user_id, body=body
        )
        return self.client.update_vpn_user_password(request)

    def batch_create(self, rows: list[dict[str, Any]], token: str | None = None):
        body = BatchCreateVpnUsersRequestBody(users=[CreateVpnUser(**row) for row in rows])
        request = BatchCreateVpnUsersRequest(
            vpn_server_id=self.server, x_client_token=token, body=body
        )
        return self.client.batch_create_vpn_users(request)

    def batch_delete(self, user_ids: list[str]):
        body = BatchDeleteVpnUsersRequestBody(users=[OpVpnUser(id=u) for u in user_ids])
        request = BatchDeleteVpnUsersRequest(vpn_server_id=self.server, body=body)
        return self.client.batch_delete_vpn_users(request)
