"""The operator end to end: real API server, real emulator, `hwcloud-access run` running.
Each test asserts on the cloud side (emulator state) and the Kubernetes side (conditions)."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from typing import Any

import httpx
from tests.support.cloud import aksk_account
from tests.support.emulator import EmulatorProcess
from tests.support.operator import condition, wait_for, wait_ready, wait_reason
from tests.support.testbed import Testbed

from hwcloud_access.cloud import VPN_PAGE_SIZE, CloudSession
from hwcloud_access.reconcile.kube import CREDENTIALS_LABEL, WAKEUP_ANNOTATION

API = "access.hwcloud.dev/v1alpha1"
SERVER = "6f1c1e2a-8d0b-4c59-9b0e-3c2a7f5d9a01"
INSTANCE = "11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"


def group(name: str, cloud_name: str, **spec: Any) -> dict:
    return {"apiVersion": API, "kind": "VpnUserGroup", "metadata": {"name": name},
            "spec": {"vpnServerId": SERVER, "name": cloud_name, **spec}}


def user(name: str, cloud_name: str, **spec: Any) -> dict:
    return {"apiVersion": API, "kind": "VpnUser", "metadata": {"name": name},
            "spec": {"vpnServerId": SERVER, "name": cloud_name, **spec}}


def mq_user(name: str, access_key: str, **spec: Any) -> dict:
    return {"apiVersion": API, "kind": "MqUser", "metadata": {"name": name},
            "spec": {"instanceId": INSTANCE, "accessKey": access_key, **spec}}


def secret(name: str, **data: str) -> dict:
    """A Secret labelled as the README asks, so that the operator's watch shows its changes
    (test_secret_watch.py has Secrets without the label)."""
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "labels": {CREDENTIALS_LABEL: "true"}},
            "type": "Opaque", "stringData": data}


def cloud_users(emulator: EmulatorProcess, name: str) -> list[dict]:
    return [u for u in emulator.vpn_state()["users"] if u["name"] == name]


def cloud_groups(emulator: EmulatorProcess, name: str) -> list[dict]:
    return [g for g in emulator.vpn_state()["groups"] if g["name"] == name]


def cloud_mq(emulator: EmulatorProcess, access_key: str) -> list[dict]:
    return [u for u in emulator.mq_state()["users"] if u["access_key"] == access_key]


def events(testbed: Testbed, namespace: str, name: str) -> list[str]:
    out = testbed.kubectl("get", "events", "-n", namespace, "--field-selector",
                          f"involvedObject.name={name}", "-o",
                          "jsonpath={range .items[*]}{.reason}{'\\n'}{end}").stdout
    return out.split()


def read_secret(testbed: Testbed, namespace: str, name: str) -> dict[str, str]:
    obj = testbed.get("secret", name, namespace)
    assert obj is not None, f"Secret {name} missing"
    return {k: base64.b64decode(v).decode() for k, v in obj["data"].items()}


def out_of_band(emulator: EmulatorProcess, call) -> Any:
    """Runs `call(session)` with a cloud session of its own: a change made outside the cluster."""
    async def run() -> Any:
        async with CloudSession(aksk_account(emulator)) as session:
            return await call(session)

    return asyncio.run(run())


def test_seed_flow_vpn_group_and_users(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(group("devs", f"devs-{ns}", description="developers"), ns)
    testbed.apply(user("alice", f"alice-{ns}", groupRef={"name": "devs"},
                       description="Alice"), ns)
    testbed.apply(secret("bob-pw", password="Correct-Horse-42"), ns)
    testbed.apply(user("bob", f"bob-{ns}", groupRef={"name": "devs"}, staticIp="172.16.0.21",
                       passwordSecretRef={"name": "bob-pw", "key": "password"}), ns)

    g = wait_ready(testbed, "VpnUserGroup", "devs", ns)
    alice = wait_ready(testbed, "VpnUser", "alice", ns)
    bob = wait_ready(testbed, "VpnUser", "bob", ns)

    [cloud_group] = cloud_groups(emulator, f"devs-{ns}")
    assert g["status"]["id"] == cloud_group["id"]
    assert g["status"]["type"] == "Custom"
    [cloud_alice] = cloud_users(emulator, f"alice-{ns}")
    assert cloud_alice["user_group_id"] == cloud_group["id"]
    assert cloud_alice["description"] == "Alice"
    assert alice["status"]["userGroupName"] == f"devs-{ns}"
    assert alice["status"]["id"] == cloud_alice["id"]
    # the generated password is in a Secret the VpnUser owns, and the cloud accepts it
    generated = alice["status"]["credentialsSecret"]
    data = read_secret(testbed, ns, generated)
    assert data["username"] == f"alice-{ns}"
    assert emulator.check_password(f"alice-{ns}", data["password"])
    owner = testbed.get("secret", generated, ns)["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "VpnUser" and owner["uid"] == alice["metadata"]["uid"]
    assert emulator.check_password(f"bob-{ns}", "Correct-Horse-42")
    [cloud_bob] = cloud_users(emulator, f"bob-{ns}")
    assert cloud_bob["static_ip"] == "172.16.0.21"
    assert "credentialsSecret" not in bob["status"] or bob["status"]["credentialsSecret"] is None
    assert "Created" in events(testbed, ns, "alice")
    conditions = {c["type"]: c for c in alice["status"]["conditions"]}
    assert conditions["Synced"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "Available"
    wait_for(lambda: testbed.get("VpnUserGroup", "devs", ns)["status"].get("userNumber") == 2,
             20, what="the group's userNumber counting its two users")


def test_a_groups_user_count_follows_its_users(stack) -> None:
    """userNumber follows users created, moved and deleted through the cluster: each change
    wakes the groups it touches ("its users changed"), whatever the drift sweep (which also
    sees the count move, every 3 s here) does meanwhile."""
    testbed, _, _, ns = stack

    def recounted(name: str, users: int, since: dict[str, str]):
        """The group once it shows `users` after a wake-up for its users newer than the
        one `since` had."""
        obj = testbed.get("VpnUserGroup", name, ns)
        woken = obj["metadata"].get("annotations", {}).get(WAKEUP_ANNOTATION, "")
        return (obj["status"].get("userNumber") == users and woken != since.get(name)
                and woken.endswith(" its users changed") and obj)

    def wakes() -> dict[str, str]:
        return {name: testbed.get("VpnUserGroup", name, ns)["metadata"].get(
            "annotations", {}).get(WAKEUP_ANNOTATION, "") for name in ("one", "two")}

    for name in ("one", "two"):
        testbed.apply(group(name, f"{name}-{ns}"), ns)
        wait_ready(testbed, "VpnUserGroup", name, ns)
    before = wakes()
    for name in ("u1", "u2"):
        testbed.apply(user(name, f"{name}-{ns}", groupRef={"name": "one"}), ns)
        wait_ready(testbed, "VpnUser", name, ns)
    wait_for(lambda: recounted("one", 2, before), 30, what="group one counting two users")

    before = wakes()
    testbed.apply(user("u2", f"u2-{ns}", groupRef={"name": "two"}), ns)
    wait_for(lambda: recounted("one", 1, before), 30, what="group one after a user moved")
    wait_for(lambda: recounted("two", 1, before), 30, what="group two after a user joined")

    before = wakes()
    testbed.kubectl("delete", "vpnuser", "u1", "-n", ns, "--timeout=60s")
    wait_for(lambda: recounted("one", 0, before), 30, what="group one after its user went")


def test_seed_flow_mq_user(stack) -> None:
    testbed, emulator, _, ns = stack
    ak = f"svc_{ns.replace('-', '_')}"
    testbed.apply(mq_user("orders", ak, whiteRemoteAddress="10.0.0.0/8",
                          defaultTopicPerm="SUB", defaultGroupPerm="SUB",
                          topicPerms=[{"name": "orders", "perm": "PUB|SUB"}],
                          groupPerms=[{"name": "orders-consumers", "perm": "SUB"}]), ns)
    obj = wait_ready(testbed, "MqUser", "orders", ns)
    [cloud] = cloud_mq(emulator, ak)
    assert cloud["white_remote_address"] == "10.0.0.0/8"
    assert cloud["topic_perms"] == [{"name": "orders", "perm": "PUB|SUB"}]
    assert cloud["group_perms"] == [{"name": "orders-consumers", "perm": "SUB"}]
    assert obj["status"]["id"] == ak
    data = read_secret(testbed, ns, obj["status"]["credentialsSecret"])
    assert data["accessKey"] == ak
    assert emulator.check_mq_secret(ak, data["secretKey"])


def test_update_every_mutable_field(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(group("g1", f"g1-{ns}"), ns)
    testbed.apply(group("g2", f"g2-{ns}"), ns)
    testbed.apply(user("u", f"u-{ns}", groupRef={"name": "g1"}), ns)
    ak = f"upd_{ns.replace('-', '_')}"
    testbed.apply(mq_user("m", ak), ns)
    for kind, name in (("VpnUserGroup", "g1"), ("VpnUserGroup", "g2"), ("VpnUser", "u"),
                       ("MqUser", "m")):
        wait_ready(testbed, kind, name, ns)

    testbed.apply(group("g1", f"g1-{ns}", description="changed"), ns)
    testbed.apply(user("u", f"u-{ns}", groupRef={"name": "g2"}, description="moved",
                       staticIp="172.16.3.4"), ns)
    testbed.apply(mq_user("m", ak, admin=True, whiteRemoteAddress="192.168.0.0/16",
                          defaultTopicPerm="PUB", defaultGroupPerm="SUB",
                          topicPerms=[{"name": "t1", "perm": "SUB"}],
                          groupPerms=[{"name": "c1", "perm": "DENY"}]), ns)
    wait_ready(testbed, "VpnUserGroup", "g1", ns)
    u = wait_ready(testbed, "VpnUser", "u", ns)
    wait_ready(testbed, "MqUser", "m", ns)

    assert cloud_groups(emulator, f"g1-{ns}")[0]["description"] == "changed"
    [cloud_user] = cloud_users(emulator, f"u-{ns}")
    assert cloud_user["description"] == "moved"
    assert cloud_user["static_ip"] == "172.16.3.4"
    assert cloud_user["user_group_name"] == f"g2-{ns}"
    assert u["status"]["userGroupName"] == f"g2-{ns}"
    [cloud] = cloud_mq(emulator, ak)
    assert cloud["admin"] is True and cloud["default_topic_perm"] == "PUB"
    assert cloud["white_remote_address"] == "192.168.0.0/16"
    assert cloud["topic_perms"] == [{"name": "t1", "perm": "SUB"}]
    assert "Updated" in events(testbed, ns, "u")


def test_delete_and_orphan(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(user("gone", f"gone-{ns}"), ns)
    testbed.apply(user("kept", f"kept-{ns}", deletionPolicy="Orphan"), ns)
    gone = wait_ready(testbed, "VpnUser", "gone", ns)
    wait_ready(testbed, "VpnUser", "kept", ns)
    testbed.kubectl("delete", "vpnuser", "gone", "kept", "-n", ns, "--timeout=60s")
    assert cloud_users(emulator, f"gone-{ns}") == []
    assert len(cloud_users(emulator, f"kept-{ns}")) == 1
    # the generated Secret goes with its owner (garbage collector)
    wait_for(lambda: testbed.get("secret", gone["status"]["credentialsSecret"], ns) is None,
             30, what="owned Secret garbage-collected")


def test_deleted_and_made_again_under_the_same_name(stack) -> None:
    """The second resource gets a Secret of its own, not the first one's (gone with it)."""
    testbed, emulator, _, ns = stack
    testbed.apply(user("again", f"again-{ns}"), ns)
    first = wait_ready(testbed, "VpnUser", "again", ns)
    testbed.kubectl("delete", "vpnuser", "again", "-n", ns, "--timeout=60s")
    testbed.apply(user("again", f"again-{ns}"), ns)
    second = wait_ready(testbed, "VpnUser", "again", ns)
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    secret_name = second["status"]["credentialsSecret"]
    owner = testbed.get("secret", secret_name, ns)["metadata"]["ownerReferences"][0]
    assert owner["uid"] == second["metadata"]["uid"]
    [cloud] = cloud_users(emulator, f"again-{ns}")
    assert emulator.check_password(f"again-{ns}", read_secret(testbed, ns, secret_name)["password"])
    assert cloud["id"] == second["status"]["id"] != first["status"]["id"]


def test_group_with_users_waits_for_them_before_deleting(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(group("team", f"team-{ns}"), ns)
    testbed.apply(user("member", f"member-{ns}", groupRef={"name": "team"}), ns)
    member = wait_ready(testbed, "VpnUser", "member", ns)
    out_of_band(emulator, lambda s: s.vpn.create_user(  # one the cluster does not manage
        SERVER, name=f"stray-{ns}", password="Stray-Password-5",
        user_group_id=member["status"]["groupId"], client_token=str(uuid.uuid4())))
    emulator.apply_now()
    testbed.kubectl("delete", "vpnusergroup", "team", "-n", ns, "--wait=false")
    waiting = wait_reason(testbed, "VpnUserGroup", "team", ns, "DependencyNotReady")
    assert "still has 2 user(s) (1 of them VpnUser(s) in this namespace, 1 not managed " \
        "here" in condition(waiting)["message"]
    assert len(cloud_groups(emulator, f"team-{ns}")) == 1
    out_of_band(emulator, lambda s: s.vpn.delete_user(SERVER, cloud_users(
        emulator, f"stray-{ns}")[0]["id"]))
    testbed.kubectl("delete", "vpnuser", "member", "-n", ns, "--timeout=60s")
    wait_for(lambda: testbed.get("VpnUserGroup", "team", ns) is None, 90,
             what="group deleted after its users")
    assert cloud_groups(emulator, f"team-{ns}") == []


def test_adoption_of_an_existing_cloud_object_only_on_request(stack) -> None:
    testbed, emulator, _, ns = stack
    existing = out_of_band(emulator, lambda s: s.vpn.create_group(
        SERVER, name=f"legacy-{ns}", description="made by hand",
        client_token="11111111-2222-4333-8444-" + ns[-10:].rjust(12, "0")))
    emulator.apply_now()
    testbed.apply(group("legacy", f"legacy-{ns}", description="changed"), ns)
    refused = wait_reason(testbed, "VpnUserGroup", "legacy", ns, "AlreadyExists")
    assert "adoptionPolicy: Adopt" in condition(refused)["message"]
    assert not refused["status"].get("id")
    [untouched] = cloud_groups(emulator, f"legacy-{ns}")
    assert untouched["description"] == "made by hand"  # adoption only on request
    testbed.apply(group("legacy", f"legacy-{ns}", description="made by hand",
                        adoptionPolicy="Adopt"), ns)
    obj = wait_ready(testbed, "VpnUserGroup", "legacy", ns)
    assert obj["status"]["id"] == existing
    assert len(cloud_groups(emulator, f"legacy-{ns}")) == 1
    assert "adopted" in condition(obj)["message"]
    assert "Adopted" in events(testbed, ns, "legacy")


def test_lost_create_answer_leaves_no_duplicate(stack) -> None:
    testbed, emulator, _, ns = stack
    emulator.set_faults(drop_next=1, drop_operations=["create_user"])
    testbed.apply(user("lost", f"lost-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "lost", ns)
    assert len(cloud_users(emulator, f"lost-{ns}")) == 1
    assert emulator.faults()["drop_next"] == 0  # the fault did fire


def test_read_back_by_get_when_a_listing_has_more_pages_than_waiters(stack) -> None:
    """With more than a page of users on the server a listing is 2+ pages; one object
    waiting for its create to show reads itself instead."""
    testbed, emulator, _, ns = stack

    async def fill(session) -> list[str]:
        return list(await asyncio.gather(*(session.vpn.create_user(
            SERVER, name=f"fill{n:03d}-{ns}", password="Filler-Pass-42")
            for n in range(VPN_PAGE_SIZE + 20))))

    fillers = out_of_band(emulator, fill)
    emulator.apply_now()
    # A listing from before the fillers (one page) may still serve a first look for 2 s
    # (snapshot_max_age): past that, the pass lists afresh and knows there are two pages.
    time.sleep(2.5)
    emulator.reset_stats()
    testbed.apply(user("lonely", f"lonely-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "lonely", ns)
    shows = emulator.stats()["calls"].get("show_user", {})
    assert shows.get("200", 0) >= 1, emulator.stats()["calls"]

    async def empty(session) -> None:
        await asyncio.gather(*(session.vpn.delete_user(SERVER, uid) for uid in fillers))

    out_of_band(emulator, empty)


def test_drift_deleted_and_changed_outside(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(user("drifty", f"drifty-{ns}", description="desired"), ns)
    first = wait_ready(testbed, "VpnUser", "drifty", ns)["status"]["id"]

    out_of_band(emulator, lambda s: s.vpn.update_user(SERVER, first, description="tampered"))
    wait_for(lambda: cloud_users(emulator, f"drifty-{ns}")[0]["description"] == "desired",
             30, what="description put back")

    out_of_band(emulator, lambda s: s.vpn.delete_user(SERVER, first))
    emulator.apply_now()
    second = wait_for(lambda: (c := cloud_users(emulator, f"drifty-{ns}")) and c[0]["id"], 30,
                      what="user re-created")
    assert second != first
    wait_for(lambda: (o := testbed.get("VpnUser", "drifty", ns))
             and o["status"].get("id") == second and condition(o).get("status") == "True", 30,
             what="status follows the re-created user")
    assert "Drift" in events(testbed, ns, "drifty")


def test_busy_storm_converges_without_duplicates(stack) -> None:
    testbed, emulator, _, ns = stack
    emulator.set_config(queue_capacity=3)
    try:
        names = [f"storm{i}" for i in range(15)]
        testbed.apply({"apiVersion": "v1", "kind": "List", "items": [
            user(n, f"{n}-{ns}") for n in names]}, ns)
        for n in names:
            wait_ready(testbed, "VpnUser", n, ns, timeout=120)
            assert len(cloud_users(emulator, f"{n}-{ns}")) == 1
    finally:
        emulator.set_config(queue_capacity=10)


def test_password_rotation(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(secret("rot-pw", password="First-Pass-123"), ns)
    testbed.apply(user("rot", f"rot-{ns}",
                       passwordSecretRef={"name": "rot-pw", "key": "password"}), ns)
    wait_ready(testbed, "VpnUser", "rot", ns)
    assert emulator.check_password(f"rot-{ns}", "First-Pass-123")
    testbed.apply(secret("rot-pw", password="Second-Pass-456"), ns)
    wait_for(lambda: emulator.check_password(f"rot-{ns}", "Second-Pass-456"), 30,
             what="password reset in the cloud")
    assert "CredentialsRotated" in wait_for(lambda: events(testbed, ns, "rot")
                                           if "CredentialsRotated" in events(testbed, ns, "rot")
                                           else None, 10)


def test_invalid_password_in_secret_makes_no_cloud_call(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(secret("weak", password="short"), ns)
    testbed.apply(user("weak", f"weak-{ns}",
                       passwordSecretRef={"name": "weak", "key": "password"}), ns)
    obj = wait_reason(testbed, "VpnUser", "weak", ns, "InvalidSpec")
    assert "8 to 32" in condition(obj)["message"]
    assert "short" not in condition(obj)["message"]
    time.sleep(1)
    assert cloud_users(emulator, f"weak-{ns}") == []
    assert [p for p in emulator.vpn_state()["pending"] if p.get("name") == f"weak-{ns}"] == []
    assert not obj["status"].get("id")
    # Fixed: the Secret's watch wakes it at once, not after the 120 s retry delay.
    fixed = time.monotonic()
    testbed.apply(secret("weak", password="Long-Enough-Now-7"), ns)
    wait_ready(testbed, "VpnUser", "weak", ns, timeout=30)
    print(f"Ready {time.monotonic() - fixed:.1f} s after the Secret was fixed")


def test_missing_secret_then_created(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(user("late", f"late-{ns}",
                       passwordSecretRef={"name": "late-pw", "key": "password"}), ns)
    obj = wait_reason(testbed, "VpnUser", "late", ns, "DependencyNotReady")
    assert "late-pw" in condition(obj)["message"]
    testbed.apply(secret("late-pw", password="Finally-Here-1"), ns)
    wait_ready(testbed, "VpnUser", "late", ns)
    assert emulator.check_password(f"late-{ns}", "Finally-Here-1")


def test_foreign_secret_in_the_way_of_the_generated_one(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(secret("carol-vpn-credentials", password="Not-Ours-123"), ns)
    testbed.apply(user("carol", f"carol-{ns}"), ns)
    obj = wait_reason(testbed, "VpnUser", "carol", ns, "InvalidSpec")
    assert "carol-vpn-credentials exists and is not owned" in condition(obj)["message"]
    assert cloud_users(emulator, f"carol-{ns}") == []
    testbed.kubectl("delete", "secret", "carol-vpn-credentials", "-n", ns)
    ready = wait_ready(testbed, "VpnUser", "carol", ns)  # woken by the Secret's deletion
    generated = read_secret(testbed, ns, ready["status"]["credentialsSecret"])["password"]
    assert generated != "Not-Ours-123"
    assert emulator.check_password(f"carol-{ns}", generated)


def test_user_created_before_its_group(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(user("early", f"early-{ns}", groupRef={"name": "later"}), ns)
    wait_reason(testbed, "VpnUser", "early", ns, "DependencyNotReady")
    assert cloud_users(emulator, f"early-{ns}") == []
    testbed.apply(group("later", f"later-{ns}"), ns)
    obj = wait_ready(testbed, "VpnUser", "early", ns)
    assert obj["status"]["userGroupName"] == f"later-{ns}"


def test_paused_and_observe(stack) -> None:
    testbed, emulator, _, ns = stack
    paused = user("paused", f"paused-{ns}")
    paused["metadata"]["annotations"] = {"access.hwcloud.dev/paused": "true"}
    testbed.apply(paused, ns)
    wait_for(lambda: condition(testbed.get("VpnUser", "paused", ns), "Synced")
             .get("reason") == "ReconcilePaused", 30, what="paused")
    assert cloud_users(emulator, f"paused-{ns}") == []

    testbed.apply(group("watched", f"nothing-{ns}", managementPolicy="Observe"), ns)
    wait_reason(testbed, "VpnUserGroup", "watched", ns, "NotFound")
    assert cloud_groups(emulator, f"nothing-{ns}") == []

    paused["metadata"]["annotations"] = {"access.hwcloud.dev/paused": "false"}
    testbed.apply(paused, ns)
    wait_ready(testbed, "VpnUser", "paused", ns)


def test_reconcile_requested_at_runs_a_pass_and_says_so(stack) -> None:
    testbed, _, _, ns = stack
    testbed.apply(user("asked", f"asked-{ns}"), ns)
    first = wait_ready(testbed, "VpnUser", "asked", ns)
    assert "lastHandledReconcileAt" not in first["status"]
    for moment in ("2026-11-23T15:00:00Z", "again"):
        testbed.kubectl("annotate", "--overwrite", "vpnuser", "asked", "-n", ns,
                        f"access.hwcloud.dev/reconcile-requested-at={moment}")
        handled = wait_for(
            lambda m=moment: (o := testbed.get("VpnUser", "asked", ns))
            and o["status"].get("lastHandledReconcileAt") == m and o,
            30, what=f"reconcile requested at {moment} handled")
        assert condition(handled)["status"] == "True"
        assert handled["metadata"]["generation"] == first["metadata"]["generation"]


def test_operator_killed_in_the_middle_of_a_create(stack, tmp_path) -> None:
    testbed, emulator, operator, ns = stack
    emulator.set_config(apply_delay=3.0)
    try:
        testbed.apply(user("crash", f"crash-{ns}"), ns)
        wait_for(lambda: any(p.get("name") == f"crash-{ns}"
                             for p in emulator.vpn_state()["pending"]), 20,
                 interval=0.05, what="create accepted")
        operator.kill()
        operator.start()
        wait_ready(testbed, "VpnUser", "crash", ns)
        assert len(cloud_users(emulator, f"crash-{ns}")) == 1
    finally:
        emulator.set_config(apply_delay=0.3)


def test_metrics_and_liveness(stack) -> None:
    testbed, _, operator, ns = stack
    testbed.apply(user("metered", f"metered-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "metered", ns)
    assert httpx.get(operator.liveness_url, timeout=5).status_code == 200
    text = httpx.get(operator.metrics_url, timeout=5).text
    assert 'hwcloud_access_reconciles_total{kind="VpnUser",result="ready"}' in text
    assert 'hwcloud_access_cloud_calls_total{operation="vpn.create_user",status="201"}' in text
    assert 'hwcloud_access_objects{kind="VpnUser",ready="true"}' in text
    assert "hwcloud_access_cloud_call_seconds_bucket" in text
    pacer = f'account="(default)",pacer="vpn:{SERVER}"'
    rate = [line for line in text.splitlines()
            if line.startswith(f"hwcloud_access_pacer_write_rate{{{pacer}}}")]
    assert rate and float(rate[0].split()[-1]) > 0
    assert f"hwcloud_access_pacer_waiting{{{pacer}}}" in text
    assert f"hwcloud_access_pacer_congestion_signals_total{{{pacer}}}" in text


def test_kopf_api_connections_are_pooled(stack) -> None:
    """-A: 64 for requests, 5 watches for the namespaces, 3 cluster-wide."""
    _, _, operator, _ = stack
    assert "at most 72 connections to the API server" in operator.log()


def test_no_secret_in_logs_events_status_or_annotations(stack) -> None:
    testbed, emulator, operator, ns = stack
    testbed.apply(secret("own-pw", password="Visible-Nowhere-77"), ns)
    testbed.apply(user("given", f"given-{ns}",
                       passwordSecretRef={"name": "own-pw", "key": "password"}), ns)
    testbed.apply(user("made", f"made-{ns}"), ns)
    ak = f"sec_{ns.replace('-', '_')}"
    testbed.apply(mq_user("mq", ak), ns)
    made = wait_ready(testbed, "VpnUser", "made", ns)
    mq = wait_ready(testbed, "MqUser", "mq", ns)
    wait_ready(testbed, "VpnUser", "given", ns)
    testbed.apply(secret("own-pw", password="Rotated-Nowhere-88"), ns)
    wait_for(lambda: emulator.check_password(f"given-{ns}", "Rotated-Nowhere-88"), 30)
    secrets = ["Visible-Nowhere-77", "Rotated-Nowhere-88",
               read_secret(testbed, ns, made["status"]["credentialsSecret"])["password"],
               read_secret(testbed, ns, mq["status"]["credentialsSecret"])["secretKey"],
               emulator.config.secret_key]
    objects = testbed.kubectl("get", "vpnusers,mqusers,vpnusergroups,events", "-n", ns,
                              "-o", "yaml").stdout
    for value in secrets:
        assert value not in operator.log(), "a secret value is in the operator's log"
        assert value not in objects, "a secret value is in an object, Event or annotation"


def account(name: str, emulator: EmulatorProcess, secret_ns: str, secret_name: str,
            auth_type: str = "AKSK") -> dict:
    info = emulator.config
    return {"apiVersion": API, "kind": "HuaweiCloudAccount", "metadata": {"name": name},
            "spec": {"region": info.region, "projectId": info.project_id, "authType": auth_type,
                     "credentialsSecretRef": {"name": secret_name, "namespace": secret_ns},
                     "endpoints": {"vpn": emulator.url, "dms": emulator.url,
                                   "iam": emulator.url}}}


def test_resources_use_their_huaweicloudaccount(stack) -> None:
    testbed, emulator, _, ns = stack
    info = emulator.config
    testbed.apply(secret("aksk", accessKey=info.access_key, secretKey=info.secret_key), ns)
    testbed.apply(secret("iam", domain=info.iam_domain, user=info.iam_user,
                         password=info.iam_password), ns)
    testbed.apply(account(f"aksk-{ns}", emulator, ns, "aksk"))
    testbed.apply(account(f"iam-{ns}", emulator, ns, "iam", "IAMPassword"))
    try:
        wait_ready(testbed, "HuaweiCloudAccount", f"aksk-{ns}", None)
        wait_ready(testbed, "HuaweiCloudAccount", f"iam-{ns}", None)
        ak = f"acct_{ns.replace('-', '_')}"
        testbed.apply(mq_user("via-aksk", ak, accountRef={"name": f"aksk-{ns}"}), ns)
        testbed.apply(user("via-iam", f"via-iam-{ns}", accountRef={"name": f"iam-{ns}"}), ns)
        testbed.apply(user("via-none", f"via-none-{ns}", accountRef={"name": f"none-{ns}"}), ns)
        wait_ready(testbed, "MqUser", "via-aksk", ns)
        wait_ready(testbed, "VpnUser", "via-iam", ns)
        assert len(cloud_mq(emulator, ak)) == 1
        assert len(cloud_users(emulator, f"via-iam-{ns}")) == 1
        assert emulator.stats()["calls"].get("issue_token"), "the IAM account used a token"
        missing = wait_reason(testbed, "VpnUser", "via-none", ns, "DependencyNotReady")
        assert f"HuaweiCloudAccount none-{ns} not found" in condition(missing)["message"]
    finally:
        testbed.kubectl("delete", "huaweicloudaccount", f"aksk-{ns}", f"iam-{ns}",
                        "--wait=false", check=False)


def test_account_without_its_secret_keys_is_not_ready(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(secret("half", accessKey="only-the-access-key"), ns)
    testbed.apply(account(f"half-{ns}", emulator, ns, "half"))
    try:
        obj = wait_reason(testbed, "HuaweiCloudAccount", f"half-{ns}", None, "InvalidSpec")
        assert "lacks secretKey" in condition(obj)["message"]
    finally:
        testbed.kubectl("delete", "huaweicloudaccount", f"half-{ns}", "--wait=false",
                        check=False)


def test_mq_secret_key_rotation(stack) -> None:
    testbed, emulator, _, ns = stack
    ak = f"rot_{ns.replace('-', '_')}"
    testbed.apply(secret("mq-key", secretKey="First-Key-123!"), ns)
    testbed.apply(mq_user("rotmq", ak, secretKeySecretRef={"name": "mq-key",
                                                         "key": "secretKey"}), ns)
    wait_ready(testbed, "MqUser", "rotmq", ns)
    assert emulator.check_mq_secret(ak, "First-Key-123!")
    testbed.apply(secret("mq-key", secretKey="Second-Key-456!"), ns)
    wait_for(lambda: emulator.check_mq_secret(ak, "Second-Key-456!"), 30,
             what="secret key updated in the cloud")


def test_user_without_group_lands_in_and_returns_to_the_default_group(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(group("side", f"side-{ns}"), ns)
    testbed.apply(user("loner", f"loner-{ns}"), ns)
    obj = wait_ready(testbed, "VpnUser", "loner", ns)
    default = emulator.vpn_state()["default_group_id"]
    assert obj["status"]["groupId"] == default
    testbed.apply(user("loner", f"loner-{ns}", groupRef={"name": "side"}), ns)
    wait_ready(testbed, "VpnUser", "loner", ns)
    assert cloud_users(emulator, f"loner-{ns}")[0]["user_group_name"] == f"side-{ns}"
    testbed.apply(user("loner", f"loner-{ns}"), ns)
    wait_ready(testbed, "VpnUser", "loner", ns)
    assert cloud_users(emulator, f"loner-{ns}")[0]["user_group_id"] == default


def test_observe_reports_an_existing_user_and_writes_nothing(stack) -> None:
    testbed, emulator, _, ns = stack
    out_of_band(emulator, lambda s: s.vpn.create_user(
        SERVER, name=f"seen-{ns}", password="Out-Of-Band-1", description="by hand",
        client_token=str(uuid.uuid4())))
    emulator.apply_now()
    [before] = cloud_users(emulator, f"seen-{ns}")
    testbed.apply(user("seen", f"seen-{ns}", description="wanted", managementPolicy="Observe"),
                  ns)
    obj = wait_ready(testbed, "VpnUser", "seen", ns)
    assert "differs in description" in condition(obj)["message"]
    assert testbed.get("secret", "seen-vpn-credentials", ns) is None
    time.sleep(1)
    assert cloud_users(emulator, f"seen-{ns}") == [before]  # nothing changed, no reset
