"""Account scoping (allowedNamespaces) end to end: a namespace the account does not admit
gets AccountNotAllowed and no cloud call, and learns nothing of the tenant it admits; a label
change or an account change is reacted to at once (no polling); accountRef is fixed once the
resource has a cloud object; a VpnUser cannot join another namespace's group by its id. A
hand-made RocketMQ user is adopted on request only."""

from __future__ import annotations

import json
import uuid

import pytest
from tests.e2e.test_operator import (
    INSTANCE,
    account,
    cloud_mq,
    cloud_users,
    events,
    group,
    mq_user,
    out_of_band,
    read_secret,
    secret,
    user,
)
from tests.support.operator import condition, wait_ready, wait_reason

from hwcloud_access.cloud import MqUserWrite

pytestmark = pytest.mark.e2e


def scoped(body: dict, **labels: str) -> dict:
    body["spec"]["allowedNamespaces"] = {"from": "Selector",
                                         "selector": {"matchLabels": labels}}
    return body


def mq_calls(emulator) -> int:
    return sum(sum((emulator.stats()["calls"].get(op) or {}).values())
               for op in ("create_mq_user", "list_mq_users", "show_mq_user"))


def test_an_account_serves_only_the_namespaces_it_admits(stack) -> None:
    testbed, emulator, _, ns = stack
    info = emulator.config
    name = f"scoped-{ns}"
    testbed.apply(secret("creds", accessKey=info.access_key, secretKey=info.secret_key), ns)
    testbed.apply(scoped(account(name, emulator, ns, "creds"), tenant=f"a-{ns}"))
    try:
        wait_ready(testbed, "HuaweiCloudAccount", name, None)
        key = f"scoped_{ns.replace('-', '_')}"
        before = mq_calls(emulator)
        testbed.apply(mq_user("app", key, accountRef={"name": name}), ns)
        refused = wait_reason(testbed, "MqUser", "app", ns, "AccountNotAllowed")
        message = condition(refused)["message"]
        assert f"HuaweiCloudAccount {name} does not admit namespace {ns}" in message
        assert "creds" not in message  # nothing of the account's Secret
        assert mq_calls(emulator) == before and cloud_mq(emulator, key) == []

        # the namespace gets the label: woken at once, not polled (the refusal is terminal)
        testbed.kubectl("label", "namespace", ns, f"tenant=a-{ns}")
        ready = wait_ready(testbed, "MqUser", "app", ns, timeout=30)
        assert ready["status"]["id"] == key and len(cloud_mq(emulator, key)) == 1

        # the resource now has a cloud object: its account cannot change any more
        other = testbed.kubectl("patch", "mquser", "app", "-n", ns, "--type=merge", "-p",
                                json.dumps({"spec": {"accountRef": {"name": "elsewhere"}}}),
                                check=False)
        assert other.returncode != 0 and "accountRef is immutable" in other.stderr

        # the account stops admitting the namespace: the resource says so, the user stays
        testbed.apply(scoped(account(name, emulator, ns, "creds"), tenant="someone-else"))
        wait_reason(testbed, "MqUser", "app", ns, "AccountNotAllowed", timeout=30)
        assert len(cloud_mq(emulator, key)) == 1
    finally:
        testbed.kubectl("delete", "mquser", "app", "-n", ns, "--wait=false", check=False)
        testbed.kubectl("patch", "mquser", "app", "-n", ns, "--type=merge", "-p",
                        json.dumps({"spec": {"deletionPolicy": "Orphan"}}), check=False)
        testbed.kubectl("delete", "huaweicloudaccount", name, "--wait=false", check=False)


def test_a_second_tenant_is_refused_and_learns_nothing_of_the_first(stack,
                                                                     other_namespace) -> None:
    """team-a's namespace carries the account's label and is served; team-b's does not: its
    MqUser (an admin, on the same instance) gets AccountNotAllowed, no cloud call, and a
    message that names neither team-a's namespace nor its resources."""
    testbed, emulator, _, team_a = stack
    team_b = other_namespace
    info = emulator.config
    name = f"shared-{uuid.uuid4().hex[:8]}"  # names neither team
    label = f"tenant-{uuid.uuid4().hex[:8]}"
    testbed.kubectl("label", "namespace", team_a, f"tenant={label}")
    testbed.apply(secret("creds", accessKey=info.access_key, secretKey=info.secret_key), team_a)
    testbed.apply(scoped(account(name, emulator, team_a, "creds"), tenant=label))
    try:
        wait_ready(testbed, "HuaweiCloudAccount", name, None)
        cloud_name = f"alpha-{uuid.uuid4().hex[:8]}"
        testbed.apply(user("alpha-user", cloud_name, accountRef={"name": name}), team_a)
        wait_ready(testbed, "VpnUser", "alpha-user", team_a)  # VPN: no MQ call meanwhile

        key = f"beta_{uuid.uuid4().hex[:8]}"
        before = mq_calls(emulator)
        testbed.apply(mq_user("beta-admin", key, admin=True, accountRef={"name": name}),
                      team_b)
        refused = wait_reason(testbed, "MqUser", "beta-admin", team_b, "AccountNotAllowed")
        message = condition(refused)["message"]
        assert f"HuaweiCloudAccount {name} does not admit namespace {team_b}" in message
        for secret_of_a in (team_a, "alpha-user", cloud_name, label, "creds"):
            assert secret_of_a not in message
        assert mq_calls(emulator) == before and cloud_mq(emulator, key) == []
        assert "id" not in refused["status"]
    finally:
        for ns, kind, obj in ((team_a, "vpnuser", "alpha-user"),
                              (team_b, "mquser", "beta-admin")):
            testbed.kubectl("delete", kind, obj, "-n", ns, "--wait=false", check=False)
        testbed.kubectl("patch", "mquser", "beta-admin", "-n", team_b, "--type=merge", "-p",
                        json.dumps({"spec": {"deletionPolicy": "Orphan"}}), check=False)
        testbed.kubectl("delete", "huaweicloudaccount", name, "--wait=false", check=False)


def test_a_hand_made_mq_user_is_adopted_on_request_with_the_secrets_key(stack) -> None:
    testbed, emulator, _, ns = stack
    key = f"hand_{uuid.uuid4().hex[:10]}"
    out_of_band(emulator, lambda s: s.rocketmq.create_user(
        INSTANCE, MqUserWrite(access_key=key), "Hand-Made-Key-8"))
    emulator.apply_now()
    testbed.apply(mq_user("legacy", key), ns)
    wait_reason(testbed, "MqUser", "legacy", ns, "AlreadyExists")
    assert emulator.check_mq_secret(key, "Hand-Made-Key-8")  # nothing written to it

    testbed.apply(mq_user("legacy", key, adoptionPolicy="Adopt"), ns)
    adopted = wait_ready(testbed, "MqUser", "legacy", ns)
    assert adopted["status"]["id"] == key
    assert condition(adopted)["message"] == f"adopted existing cloud object {key}"
    assert {"Adopted", "CredentialsRotated"} <= set(events(testbed, ns, "legacy"))
    secret_key = read_secret(testbed, ns, adopted["status"]["credentialsSecret"])["secretKey"]
    assert emulator.check_mq_secret(key, secret_key)
    assert not emulator.check_mq_secret(key, "Hand-Made-Key-8")
    assert len(cloud_mq(emulator, key)) == 1


def test_a_user_cannot_join_another_teams_group_by_its_id(stack, other_namespace) -> None:
    testbed, emulator, _, ns = stack
    team_a, team_b = ns, other_namespace
    testbed.apply(group("theirs", f"theirs-{ns}"), team_a)
    theirs = wait_ready(testbed, "VpnUserGroup", "theirs", team_a)["status"]["id"]
    name = f"intruder-{ns}"
    testbed.apply(user("intruder", name, groupId=theirs), team_b)
    refused = wait_reason(testbed, "VpnUser", "intruder", team_b, "InvalidSpec")
    message = condition(refused)["message"]
    assert "another namespace" in message and "spec.groupRef" in message
    assert team_a not in message and "theirs" not in message.replace(theirs, "")
    assert cloud_users(emulator, name) == []  # no user made in their group
