"""The API reference's examples as custom resources, through the real operator.

examples/vpn-api-example6.yaml (VPN "Example 6") and examples/mquser-api-example.yaml
(RocketMQ "Creating a User") are applied as they are; once they are Ready, the emulator's
state must hold what the documents' examples create, credentials included.
"""

from __future__ import annotations

from tests.support.operator import wait_ready
from tests.support.testbed import ROOT

EXAMPLES = ROOT / "examples"


def apply_example(testbed, file_name: str, namespace: str) -> None:
    testbed.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / file_name))


def test_vpn_example_6(stack) -> None:
    testbed, emulator, _, ns = stack
    apply_example(testbed, "vpn-api-example6.yaml", ns)
    group = wait_ready(testbed, "VpnUserGroup", "user-group1", ns)
    user = wait_ready(testbed, "VpnUser", "user001", ns)

    state = emulator.vpn_state()
    [cloud_group] = [g for g in state["groups"] if g["name"] == "user-group1"]
    assert cloud_group["description"] == "UserGroup1"
    assert group["status"]["id"] == cloud_group["id"]
    assert group["status"]["type"] == "Custom"
    [cloud_user] = [u for u in state["users"] if u["name"] == "user001"]
    assert (cloud_user["description"], cloud_user["user_group_id"]) == (
        "User1", cloud_group["id"])
    assert user["status"]["id"] == cloud_user["id"]
    assert user["status"]["userGroupName"] == "user-group1"
    assert emulator.check_password("user001", "Qwerasdf")


def test_rocketmq_creating_a_user(stack) -> None:
    testbed, emulator, _, ns = stack
    apply_example(testbed, "mquser-api-example.yaml", ns)
    wait_ready(testbed, "MqUser", "user-name", ns)

    [cloud] = [u for u in emulator.mq_state()["users"] if u["access_key"] == "user_name"]
    assert (cloud["white_remote_address"], cloud["admin"]) == ("", False)
    assert (cloud["default_topic_perm"], cloud["default_group_perm"]) == ("DENY", "DENY")
    assert cloud["topic_perms"] == [{"name": "topic1", "perm": "PUB|SUB"}]
    assert cloud["group_perms"] == [{"name": "group1", "perm": "PUB|SUB"}]
    assert emulator.check_mq_secret("user_name", "Abcd1234")
