"""The API reference's own examples, replayed through the official SDKs against the emulator.

- VPN "Example 6: Creating a User and a User Group", steps 1-4: create the group, show it,
  create a user in it, show the user.
- DMS for RocketMQ "Creating a User" (its example request and response).

Each request body is the document's, and the SDK must put exactly that on the wire (an
HttpHandler hook records it). Each answer must have the shape of the document's example
response: the same keys at every level and values of the same JSON types. The example
responses below are the documents' own, except where a comment says otherwise.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkrocketmq.v2 import CreateUserRequest, User, UserGroupPerms, UserTopicPerms
from huaweicloudsdkvpn.v5 import (
    CreateVpnUserGroupRequest,
    CreateVpnUserGroupRequestBody,
    CreateVpnUserGroupRequestBodyContent,
    CreateVpnUserRequest,
    CreateVpnUserRequestBody,
    CreateVpnUserRequestBodyContent,
    ShowVpnUserGroupRequest,
    ShowVpnUserRequest,
)
from tests.contract.helpers import mq_client, vpn_client

MASK = "**************"

# ---- VPN, Example 6 -------------------------------------------------------------------

CREATE_GROUP = {"user_group": {"name": "user-group1", "description": "UserGroup1"}}
CREATE_GROUP_ANSWER = {
    "user_group": {"id": "7625fd92-2e20-4e4d-8c56-66f110fbfaa8"},
    "request_id": "94d271493e144135423e7377e40127cf",
}
SHOW_GROUP_ANSWER = {
    "user_group": {
        "id": "7625fd92-2e20-4e4d-8c56-66f110fbfaa8",
        "name": "user-group1",
        "description": "UserGroup1",
        "type": "Custom",
        "user_number": 0,
        "created_at": "2024-06-17T09:48:27.548Z",
        "updated_at": "2024-06-17T09:48:27.548Z",
    },
    "request_id": "6735d32bb3e35e9154caba1dbc6c2dc6",
}


def create_user_body(group_id: str) -> dict[str, Any]:
    """Step 3's body; the document's user_group_id is the group step 1 created."""
    return {"user": {"name": "user001", "password": "Qwerasdf", "description": "User1",
                     "user_group_id": group_id}}


CREATE_USER_ANSWER = {
    "user": {"id": "41ad472e-d3e4-482b-8f00-7b2c1bfc4b7d"},
    "request_id": "926a0edb3bf432943e2399b700173add",
}
SHOW_USER_ANSWER = {
    "user": {
        "id": "41ad472e-d3e4-482b-8f00-7b2c1bfc4b7d",
        "name": "user001",
        "description": "User1",
        "user_group_id": "7625fd92-2e20-4e4d-8c56-66f110fbfaa8",
        "user_group_name": "user-group1",
        # Not in the document's example body, but in its response parameter table.
        "static_ip": "disable",
        "created_at": "2024-06-17T06:53:46.302Z",
        "updated_at": "2024-06-17T06:53:46.302Z",
    },
    "request_id": "926a0edb3bf432943e2399b700173add",
}

# ---- DMS for RocketMQ, Creating a User ----------------------------------------------------

# The document's secret_key is "abcd1234": lower case and digits only, two character
# classes where its own rules (and so the emulator) ask for three. The closest value the
# emulator takes is the same with a capital letter.
MQ_SECRET = "Abcd1234"
CREATE_MQ_USER = {
    "access_key": "user_name",
    "secret_key": MQ_SECRET,
    "white_remote_address": "",
    "admin": False,
    "default_topic_perm": "DENY",
    "default_group_perm": "DENY",
    "topic_perms": [{"name": "topic1", "perm": "PUB|SUB"}],
    "group_perms": [{"name": "group1", "perm": "PUB|SUB"}],
}
CREATE_MQ_USER_ANSWER = {**CREATE_MQ_USER, "secret_key": MASK}


# ---- helpers ----------------------------------------------------------------------------


class Wire:
    """The JSON bodies an SDK client sent, in order (its HttpHandler request hook)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.handler = HttpHandler().add_request_handler(self._record)

    def _record(self, request: Any, **_: Any) -> None:
        if request.body:
            self.sent.append(json.loads(request.body))


def answer(response: Any) -> Any:
    """The answer's JSON as the emulator sent it (not the SDK's model of it)."""
    return json.loads(response.raw_content)


def assert_shape(got: Any, example: Any, path: str = "answer") -> None:
    """`got` has the keys of `example` at every level and values of the same JSON types."""
    if isinstance(example, dict):
        assert isinstance(got, dict), f"{path}: {got!r} is not an object"
        assert sorted(got) == sorted(example), f"{path}: keys {sorted(got)}, expected " \
                                               f"{sorted(example)}"
        for key, value in example.items():
            assert_shape(got[key], value, f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(got, list) and len(got) == len(example), f"{path}: {got!r}"
        for index, (item, expected) in enumerate(zip(got, example, strict=True)):
            assert_shape(item, expected, f"{path}[{index}]")
    else:
        assert type(got) is type(example), \
            f"{path}: {got!r} is a {type(got).__name__}, expected {type(example).__name__}"


@pytest.fixture
def emu(fresh_emulator):
    """A private emulator (the examples' names are fixed) whose changes show at once."""
    return fresh_emulator(apply_delay=0)


# ---- the tests --------------------------------------------------------------------------


def test_vpn_example_6_user_group_and_user(emu) -> None:
    wire = Wire()
    client = vpn_client(emu, http_handler=wire.handler)
    server = emu.config.vpn_server_id

    # 1. create the user group
    created = client.create_vpn_user_group(CreateVpnUserGroupRequest(
        vpn_server_id=server, body=CreateVpnUserGroupRequestBody(
            user_group=CreateVpnUserGroupRequestBodyContent(**CREATE_GROUP["user_group"]))))
    assert wire.sent[-1] == CREATE_GROUP
    assert created.status_code == 201
    assert_shape(answer(created), CREATE_GROUP_ANSWER)
    group_id = created.user_group.id

    # 2. show it
    shown = answer(client.show_vpn_user_group(
        ShowVpnUserGroupRequest(vpn_server_id=server, group_id=group_id)))
    assert_shape(shown, SHOW_GROUP_ANSWER)
    group = shown["user_group"]
    assert (group["id"], group["name"], group["description"], group["type"],
            group["user_number"]) == (group_id, "user-group1", "UserGroup1", "Custom", 0)

    # 3. create a user in it
    body = create_user_body(group_id)
    created = client.create_vpn_user(CreateVpnUserRequest(
        vpn_server_id=server,
        body=CreateVpnUserRequestBody(user=CreateVpnUserRequestBodyContent(**body["user"]))))
    assert wire.sent[-1] == body
    assert created.status_code == 201
    assert_shape(answer(created), CREATE_USER_ANSWER)
    user_id = created.user.id

    # 4. show the user: in the group, and never the password
    response = client.show_vpn_user(ShowVpnUserRequest(vpn_server_id=server, user_id=user_id))
    assert b"Qwerasdf" not in response.raw_content
    shown = answer(response)
    assert_shape(shown, SHOW_USER_ANSWER)
    user = shown["user"]
    assert (user["id"], user["name"], user["description"], user["user_group_id"],
            user["user_group_name"]) == (user_id, "user001", "User1", group_id, "user-group1")
    assert emu.check_password("user001", "Qwerasdf")


def test_rocketmq_creating_a_user(emu) -> None:
    wire = Wire()
    body = User(**{
        **CREATE_MQ_USER,
        "topic_perms": [UserTopicPerms(**p) for p in CREATE_MQ_USER["topic_perms"]],
        "group_perms": [UserGroupPerms(**p) for p in CREATE_MQ_USER["group_perms"]],
    })
    created = mq_client(emu, http_handler=wire.handler).create_user(
        CreateUserRequest(instance_id=emu.config.instance_id, body=body))
    assert wire.sent[-1] == CREATE_MQ_USER
    assert created.status_code == 200
    assert_shape(answer(created), CREATE_MQ_USER_ANSWER)
    assert answer(created) == CREATE_MQ_USER_ANSWER  # the user echoed, the secret masked
    assert emu.check_mq_secret("user_name", MQ_SECRET)
