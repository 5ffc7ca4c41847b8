"""Account scoping (allowedNamespaces) end to end: a namespace the account does not admit
gets AccountNotAllowed and no cloud call; a label change or an account change is reacted to
at once (no polling); accountRef is fixed once the resource has a cloud object."""

from __future__ import annotations

import json

import pytest
from tests.e2e.test_operator import account, cloud_mq, mq_user, secret
from tests.support.operator import condition, wait_ready, wait_reason

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
