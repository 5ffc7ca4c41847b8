"""HuaweiCloudAccounts end to end (real API server, emulator, `hwcloud-access run`): the
account follows its credentials Secret, its deletion waits for the resources naming it, it
is Ready once the cloud accepts its credentials, and a refused IAM password or AK/SK costs
one login or check for all of them."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from tests.e2e.test_operator import account, cloud_mq, cloud_users, mq_user, secret, user
from tests.support.emulator import EmulatorProcess
from tests.support.operator import condition, wait_for, wait_ready, wait_reason
from tests.support.testbed import Testbed

HWA = "HuaweiCloudAccount"


@pytest.fixture
def stack(operator_stack, namespace):
    testbed, emulator, _ = operator_stack
    made: list[str] = []
    yield testbed, emulator, namespace, made
    # The namespace goes after the test, and with it the resources; then the accounts.
    for name in made:
        testbed.kubectl("delete", "huaweicloudaccount", name, "--wait=false", check=False)


def ak(ns: str, tag: str) -> str:
    return f"{tag}_{ns.replace('-', '_')}"


def reasons(testbed: Testbed, kind: str, ns: str) -> dict[str, str]:
    items = json.loads(testbed.kubectl("get", kind, "-n", ns, "-o", "json").stdout)["items"]
    return {o["metadata"]["name"]: condition(o).get("reason", "") for o in items}


def calls(emulator: EmulatorProcess, operation: str, status: str) -> int:
    return emulator.stats()["calls"].get(operation, {}).get(status, 0)


def token_requests(emulator: EmulatorProcess, status: str) -> int:
    return calls(emulator, "issue_token", status)


def aksk_checks(emulator: EmulatorProcess, status: str) -> int:
    """The AK/SK checks IAM answered with `status` (GET /v3/auth/projects)."""
    return calls(emulator, "list_auth_projects", status)


def account_on_creds(stack, tag: str) -> str:
    """An account `<tag>-<ns>` on the emulator's AK/SK in the Secret `creds` of the test's
    namespace."""
    testbed, emulator, ns, made = stack
    info = emulator.config
    name = f"{tag}-{ns}"
    made.append(name)
    testbed.apply(secret("creds", accessKey=info.access_key, secretKey=info.secret_key), ns)
    testbed.apply(account(name, emulator, ns, "creds"))
    return name


def account_in_use(stack, tag: str) -> str:
    """`account_on_creds`, with an MqUser `first` (AK `<tag>1_<ns>`) and a VpnUser `second`
    (`<tag>2-<ns>`) on it, both Ready."""
    testbed, _, ns, _ = stack
    name = account_on_creds(stack, tag)
    testbed.apply(mq_user("first", ak(ns, f"{tag}1"), accountRef={"name": name}), ns)
    testbed.apply(user("second", f"{tag}2-{ns}", accountRef={"name": name}), ns)
    wait_ready(testbed, "MqUser", "first", ns)
    wait_ready(testbed, "VpnUser", "second", ns)
    return name


def test_account_follows_its_secret_and_so_do_its_resources(stack) -> None:
    testbed, emulator, ns, _ = stack
    info = emulator.config
    name = account_on_creds(stack, "follow")
    testbed.apply(mq_user("svc", ak(ns, "follow"), accountRef={"name": name}), ns)
    wait_ready(testbed, HWA, name, None)
    wait_ready(testbed, "MqUser", "svc", ns)

    testbed.kubectl("delete", "secret", "creds", "-n", ns)
    gone = wait_reason(testbed, HWA, name, None, "DependencyNotReady")
    assert f"credentials Secret {ns}/creds not found" in condition(gone)["message"]
    stuck = wait_reason(testbed, "MqUser", "svc", ns, "DependencyNotReady")  # woken to say so
    assert f"credentials Secret {ns}/creds not found" in condition(stuck)["message"]

    testbed.apply(secret("creds", accessKey=info.access_key), ns)  # back, but incomplete
    half = wait_reason(testbed, HWA, name, None, "InvalidSpec")
    assert "lacks secretKey" in condition(half)["message"]
    assert info.access_key not in json.dumps(half)

    testbed.apply(secret("creds", accessKey=info.access_key, secretKey=info.secret_key), ns)
    wait_ready(testbed, HWA, name, None, timeout=20)
    wait_ready(testbed, "MqUser", "svc", ns, timeout=20)  # woken, not retried


def test_account_deletion_waits_for_the_resources_naming_it(stack) -> None:
    testbed, emulator, ns, made = stack
    name = account_in_use(stack, "used")
    assert "access.hwcloud.dev/finalizer" in testbed.get(HWA, name)["metadata"]["finalizers"]

    testbed.kubectl("delete", "huaweicloudaccount", name, "--wait=false")
    blocked = wait_reason(testbed, HWA, name, None, "InUse")
    message = condition(blocked)["message"]
    assert message.startswith("2 resource(s) still name this account") and ns not in message
    assert condition(blocked, "Synced")["reason"] == "InUse"

    testbed.kubectl("delete", "mquser", "first", "-n", ns, "--timeout=60s")
    wait_for(lambda: condition(testbed.get(HWA, name)).get("message", "").startswith("1 "),
             30, what="one user left")
    # The last one cannot move to another account (its cloud object would be left behind)...
    moved = testbed.kubectl("apply", "-f", "-", "-n", ns, check=False,
                            input=yaml.safe_dump(user("second", f"used2-{ns}")))
    assert moved.returncode != 0 and "accountRef is immutable" in moved.stderr
    # ... but once it is deleted too, so is the account.
    testbed.kubectl("delete", "vpnuser", "second", "-n", ns, "--timeout=60s")
    wait_for(lambda: testbed.get(HWA, name) is None, 30, what="account deleted")


def test_a_namespace_deleted_with_its_account_secret_deletes_its_cloud_users(stack) -> None:
    """The namespace controller deletes the Secret at once and the resources wait for the
    cloud: they are deleted with the credentials read last, and the namespace goes."""
    testbed, emulator, ns, _ = stack
    name = account_in_use(stack, "inside")
    testbed.kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: testbed.get("namespace", ns) is None, 90, what="namespace deleted")
    assert cloud_users(emulator, f"inside2-{ns}") == []
    assert cloud_mq(emulator, ak(ns, "inside1")) == []
    gone = wait_reason(testbed, HWA, name, None, "DependencyNotReady")  # its Secret went too
    assert f"credentials Secret {ns}/creds not found" in condition(gone)["message"]


def test_a_wrong_iam_password_costs_one_login_for_fifty_resources(stack) -> None:
    testbed, emulator, ns, made = stack
    info = emulator.config
    name = f"iam-{ns}"
    made.append(name)
    refused, accepted = token_requests(emulator, "401"), token_requests(emulator, "201")
    testbed.apply(secret("iam", domain=info.iam_domain, user=info.iam_user,
                         password="Not-The-Password-1"), ns)
    testbed.apply({"apiVersion": "v1", "kind": "List", "items": [
        account(name, emulator, ns, "iam", "IAMPassword"),
        *(mq_user(f"mq{n:02d}", ak(ns, f"iam{n:02d}"), accountRef={"name": name})
          for n in range(50))]}, ns)

    failed = wait_reason(testbed, HWA, name, None, "AuthFailed")
    assert "IAM.0002" in condition(failed)["message"]
    assert "The username or password is wrong" in condition(failed)["message"]
    wait_for(lambda: set(reasons(testbed, "MqUser", ns).values()) == {"AuthFailed"}
             and len(reasons(testbed, "MqUser", ns)) == 50, 60, what="50 MqUsers AuthFailed")
    time.sleep(3)  # nothing retries on its own meanwhile
    assert token_requests(emulator, "401") - refused == 1
    mine = {ak(ns, f"iam{n:02d}") for n in range(50)}
    assert not mine & {u["access_key"] for u in emulator.mq_state()["users"]}

    testbed.apply(secret("iam", domain=info.iam_domain, user=info.iam_user,
                         password=info.iam_password), ns)
    wait_ready(testbed, HWA, name, None, timeout=20)
    wait_for(lambda: set(reasons(testbed, "MqUser", ns).values()) == {"Available"}, 60,
             what="50 MqUsers Ready once the password is right")
    assert token_requests(emulator, "401") - refused == 1
    assert token_requests(emulator, "201") - accepted == 1


def test_an_aksk_account_is_ready_once_the_cloud_accepts_its_keys(stack) -> None:
    testbed, emulator, ns, made = stack
    info = emulator.config
    name = f"aksk-{ns}"
    made.append(name)
    refused, accepted = aksk_checks(emulator, "401"), aksk_checks(emulator, "200")
    refused_mq = calls(emulator, "list_mq_users", "401")
    testbed.apply(secret("creds", accessKey=info.access_key, secretKey="Not-The-Key-123"), ns)
    testbed.apply({"apiVersion": "v1", "kind": "List", "items": [
        account(name, emulator, ns, "creds"),
        *(mq_user(f"mq{n}", ak(ns, f"aksk{n}"), accountRef={"name": name}) for n in range(5))]},
        ns)

    failed = wait_reason(testbed, HWA, name, None, "AuthFailed")
    message = condition(failed)["message"]
    assert f"the cloud refused the AK/SK of HuaweiCloudAccount {name}" in message
    assert "APIGW.0301" in message and "Not-The-Key-123" not in json.dumps(failed)
    wait_for(lambda: set(reasons(testbed, "MqUser", ns).values()) == {"AuthFailed"}
             and len(reasons(testbed, "MqUser", ns)) == 5, 60, what="5 MqUsers AuthFailed")
    time.sleep(3)  # the refusal stands: nothing asks the cloud again meanwhile
    assert aksk_checks(emulator, "401") - refused == 1  # for the account and its 5 MqUsers
    assert calls(emulator, "list_mq_users", "401") == refused_mq  # they waited for it

    testbed.apply(secret("creds", accessKey=info.access_key, secretKey=info.secret_key), ns)
    ready = wait_ready(testbed, HWA, name, None, timeout=20)  # no restart
    assert condition(ready)["message"] == \
        f"AKSK credentials in Secret {ns}/creds: the cloud accepted them"
    wait_for(lambda: set(reasons(testbed, "MqUser", ns).values()) == {"Available"}, 60,
             what="5 MqUsers Ready once the keys are right")
    assert aksk_checks(emulator, "200") - accepted == 1
    assert aksk_checks(emulator, "401") - refused == 1
