"""DMS for RocketMQ v2 users, driven by the official SDK against the emulator."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest
from huaweicloudsdkrocketmq.v2 import (
    CreateUserRequest,
    DeleteUserRequest,
    ListUserRequest,
    ShowUserRequest,
    UpdateUserRequest,
    User,
    UserGroupPerms,
    UserTopicPerms,
)
from tests.contract.helpers import mq_client, sdk_error, signed, wait_for

MASK = "**************"
SECRET = "Secret-Key-1"


class Mq:
    def __init__(self, emu, instance_id: str | None = None) -> None:
        self.client = mq_client(emu)
        self.instance = instance_id or emu.config.instance_id

    def create(self, access_key: str, secret_key: str = SECRET, **fields):
        body = User(access_key=access_key, secret_key=secret_key, **fields)
        return self.client.create_user(CreateUserRequest(instance_id=self.instance, body=body))

    def show(self, name: str):
        return self.client.show_user(ShowUserRequest(instance_id=self.instance, user_name=name))

    def list(self, **kw):
        return self.client.list_user(ListUserRequest(instance_id=self.instance, **kw))

    def update(self, name: str, **fields):
        request = UpdateUserRequest(instance_id=self.instance, user_name=name, body=User(**fields))
        return self.client.update_user(request)

    def delete(self, name: str):
        return self.client.delete_user(DeleteUserRequest(instance_id=self.instance, user_name=name))


def _ak() -> str:
    return "app_" + uuid.uuid4().hex[:12]


@pytest.fixture
def mq(emulator) -> Mq:
    return Mq(emulator)


def test_user_lifecycle(mq, emulator) -> None:
    ak = _ak()
    created = mq.create(
        ak,
        white_remote_address="10.0.0.0/8,192.168.1.5",
        admin=False,
        default_topic_perm="PUB|SUB",
        default_group_perm="DENY",
        topic_perms=[UserTopicPerms(name="orders", perm="PUB")],
        group_perms=[UserGroupPerms(name="billing", perm="SUB")],
    )
    assert created.status_code == 200
    assert (created.access_key, created.secret_key) == (ak, MASK)
    shown = mq.show(ak)
    assert shown.secret_key == MASK
    assert shown.white_remote_address == "10.0.0.0/8,192.168.1.5"
    assert (shown.default_topic_perm, shown.default_group_perm) == ("PUB|SUB", "DENY")
    assert [(p.name, p.perm) for p in shown.topic_perms] == [("orders", "PUB")]
    assert [(p.name, p.perm) for p in shown.group_perms] == [("billing", "SUB")]
    assert ak in {u.access_key for u in mq.list(limit=50).users}

    # an empty secret_key keeps the old key
    updated = mq.update(ak, secret_key="", admin=True, topic_perms=[])
    assert updated.admin is True and updated.topic_perms == [] and updated.secret_key == MASK
    assert emulator.check_mq_secret(ak, SECRET)
    admin = next(u for u in emulator.mq_state()["users"] if u["access_key"] == ak)
    assert admin["secret_version"] == 1
    assert admin["secret_sha256"] == hashlib.sha256(SECRET.encode()).hexdigest()
    assert "secret_key" not in admin

    mq.update(ak, secret_key="New-Secret-2")
    assert emulator.check_mq_secret(ak, "New-Secret-2")
    assert not emulator.check_mq_secret(ak, SECRET)

    deleted = mq.delete(ak)
    assert deleted.status_code == 200
    err = sdk_error(lambda: mq.show(ak))
    assert (err.status_code, err.error_code) == (400, "DMS.00500972")
    err = sdk_error(lambda: mq.delete(ak))
    assert err.error_code == "DMS.00500972"
    err = sdk_error(lambda: mq.update(ak, admin=True))
    assert err.error_code == "DMS.00500972"


def test_defaults_of_a_minimal_user(mq) -> None:
    ak = _ak()
    mq.create(ak)
    shown = mq.show(ak)
    assert (shown.admin, shown.white_remote_address) == (False, "")
    assert (shown.default_topic_perm, shown.default_group_perm) == ("DENY", "SUB")
    mq.delete(ak)


def test_duplicate_and_immutable_access_key(mq) -> None:
    ak = _ak()
    mq.create(ak)
    err = sdk_error(lambda: mq.create(ak))
    assert (err.status_code, err.error_code) == (400, "DMS.00400973")
    err = sdk_error(lambda: mq.update(ak, access_key=ak + "x"))
    assert err.error_code == "DMS.00400010"
    mq.delete(ak)


@pytest.mark.parametrize(
    "access_key",
    ["1abcdefg", "short", "a" * 65, "has space1", "bad.char1"],
)
def test_access_key_rules(mq, access_key) -> None:
    err = sdk_error(lambda: mq.create(access_key))
    assert (err.status_code, err.error_code) == (400, "DMS.00400010")


@pytest.mark.parametrize(
    "secret_key",
    ["Ab1!", "Ab1!" * 8 + "x", "lowercase123", "NoDigitsHere", "Secret-Key-1\u00e9", "SAME"],
)
def test_secret_key_rules(mq, secret_key) -> None:
    ak = "Same_Key" + uuid.uuid4().hex[:4]
    if secret_key == "SAME":
        ak = "Abc-123_xyz"
        secret_key = ak
    err = sdk_error(lambda: mq.create(ak, secret_key))
    assert (err.status_code, err.error_code) == (400, "DMS.00400010")
    assert secret_key not in err.error_msg


def test_reversed_access_key_is_refused(mq) -> None:
    ak = "Abc-123_xyz"
    err = sdk_error(lambda: mq.create(ak, ak[::-1]))
    assert err.error_code == "DMS.00400010" and "reversed" in err.error_msg


@pytest.mark.parametrize(
    "fields",
    [
        {"default_topic_perm": "ALL"},
        {"default_group_perm": "PUB"},
        {"topic_perms": [UserTopicPerms(name="t", perm="WRITE")]},
        {"group_perms": [UserGroupPerms(name="g", perm="WRITE")]},
        {"white_remote_address": "not-an-ip"},
    ],
)
def test_perm_and_whitelist_rules(mq, fields) -> None:
    err = sdk_error(lambda: mq.create(_ak(), **fields))
    assert (err.status_code, err.error_code) == (400, "DMS.00400010")


@pytest.mark.parametrize("perm", ["DENY", "SUB", "PUB", "PUB|SUB"])
def test_a_group_perm_takes_every_acl_value(mq, perm) -> None:
    ak = _ak()
    mq.create(ak, group_perms=[UserGroupPerms(name="g", perm=perm)])
    shown = wait_for(lambda: mq.show(ak))
    assert [(p.name, p.perm) for p in shown.group_perms] == [("g", perm)]


def test_unknown_instance(emulator) -> None:
    mq = Mq(emulator, "00000000-0000-0000-0000-000000000000")
    err = sdk_error(lambda: mq.list())
    assert (err.status_code, err.error_code) == (404, "DMS.00404022")


def test_paging_with_offset_and_limit(fresh_emulator) -> None:
    emu = fresh_emulator()
    mq = Mq(emu)
    keys = [f"pager_{i:02d}x" for i in range(23)]
    for key in keys:
        mq.create(key)
    first = mq.list()
    assert first.total == 23 and len(first.users) == 10  # default limit 10
    seen = []
    for offset in range(0, 30, 7):
        seen += [u.access_key for u in mq.list(offset=offset, limit=7).users]
    assert seen == keys
    assert mq.list(offset=100, limit=5).users == []
    assert len(mq.list(limit=50).users) == 23
    for bad in ({"limit": 0}, {"limit": 51}, {"offset": -1}):
        assert sdk_error(lambda bad=bad: mq.list(**bad)).error_code == "DMS.00400010"


def test_acl_disabled_and_delay(fresh_emulator) -> None:
    no_acl = "22a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
    emu = fresh_emulator(
        rocketmq_apply_delay=0.4,
        rocketmq_instances=[
            {"id": "11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8", "acl_enabled": True},
            {"id": no_acl, "acl_enabled": False},
        ],
    )
    err = sdk_error(lambda: Mq(emu, no_acl).create(_ak()))
    assert (err.status_code, err.error_code) == (400, "DMS.00400926")
    mq = Mq(emu)
    ak = _ak()
    mq.create(ak)
    assert sdk_error(lambda: mq.show(ak)).error_code == "DMS.00500972"  # not applied yet
    assert sdk_error(lambda: mq.create(ak)).error_code == "DMS.00400973"  # but reserved
    wait_for(lambda: mq.show(ak))
    mq.update(ak, admin=True)
    assert mq.show(ak).admin is False
    wait_for(lambda: mq.show(ak).admin)


def test_create_with_client_token(emulator) -> None:
    c = emulator.config
    path = f"/v2/{c.project_id}/instances/{c.instance_id}/users"
    token = str(uuid.uuid4())
    ak = _ak()
    payload = f'{{"access_key": "{ak}", "secret_key": "{SECRET}"}}'.encode()
    answers = []
    for _ in range(2):
        url, headers, body = signed(
            emulator, "POST", path, body=payload, headers={"X-Client-Token": token}
        )
        answers.append(httpx.post(url, headers=headers, content=body, timeout=10))
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["secret_key"] == MASK
    Mq(emulator).delete(ak)
