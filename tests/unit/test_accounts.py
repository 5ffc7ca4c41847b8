"""Accounts: one cloud session per account, whatever the concurrency; what the account's
handler reports (`check`: Ready once the cloud accepted the credentials, asked once for the
account and its resources), the resources' passes while it cannot be used, and its
deletion."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from hwcloud_access.api import HUAWEI_CLOUD_ACCOUNT
from hwcloud_access.cloud import AccountConfig, AuthError, CloudSession
from hwcloud_access.reconcile.accounts import Accounts, account_key, deletion_outcome
from hwcloud_access.reconcile.kube import SecretData
from hwcloud_access.reconcile.outcome import (
    AccountNotAllowed,
    AuthFailed,
    CloudBusy,
    DependencyNotReady,
    InvalidInput,
    Next,
    Reason,
)
from hwcloud_access.reconcile.secret_refs import SecretRefs
from hwcloud_access.reconcile.tenancy import NamespaceLabels, parse_allowed_namespaces

AKSK = {"accessKey": "AK", "secretKey": "SK-very-secret"}
IAM = {"domain": "dom", "user": "bob", "password": "Right-Passw0rd"}


class SlowAccounts(Accounts):
    """Loading an account takes a moment, as reading a CR and its Secret does."""

    async def _load(self, name: str | None, entry: Any) -> tuple[AccountConfig, str]:
        await asyncio.sleep(0.01)
        return AccountConfig(region="cn-north-4", project_id="p", access_key="a",
                             secret_key="s"), "nowhere"


async def test_concurrent_passes_share_one_session_per_account() -> None:
    made: list[AccountConfig] = []

    async def verify() -> None:
        """The credentials are accepted (what that costs: the other tests)."""

    def make_session(config: AccountConfig, on_auth_change: Any) -> object:
        made.append(config)
        return SimpleNamespace(token_provider=None, verify=verify)

    accounts = SlowAccounts(None, None, make_session, SecretRefs(), NamespaceLabels())  # type: ignore[arg-type]
    sessions = await asyncio.gather(*(accounts.session("acct", "ns") for _ in range(20)))
    assert len(made) == 1 and len({id(s) for s in sessions}) == 1


class FakeKube:
    """One HuaweiCloudAccount `acct` and its Secret `ns/creds`; counts reads, records wakes."""

    def __init__(self, auth_type: str, data: dict[str, str] | None) -> None:
        self.account: dict[str, Any] | None = {"spec": {
            "region": "cn-north-4", "projectId": "proj", "authType": auth_type,
            "credentialsSecretRef": {"namespace": "ns", "name": "creds"},
            "endpoints": {"vpn": "http://cloud", "dms": "http://cloud", "iam": "http://cloud"}}}
        self.data = data
        self.version = 1
        self.reads = 0
        self.woken: list[tuple[str, str]] = []

    def set_secret(self, data: dict[str, str] | None) -> None:
        self.data, self.version = data, self.version + 1

    async def get_object(self, kind, name, namespace=None):
        self.reads += 1
        return self.account if name == "acct" else None

    async def read_secret(self, namespace, name):
        self.reads += 1
        if self.data is None:
            return None
        return SecretData(uid="s1", resource_version=str(self.version), owner_uids=frozenset(),
                          data=dict(self.data))

    async def wake(self, key, why) -> None:
        assert key.kind == HUAWEI_CLOUD_ACCOUNT.kind
        self.woken.append((key.name, why))


class Cloud:
    """IAM that takes one password (a login) or the right AK (its project listing, the AK/SK
    check), and services that take its token or the right AK; `busy`: IAM answers 503;
    `revoked`: the AK is refused from now on."""

    def __init__(self) -> None:
        self.token_requests = 0
        self.checks = 0
        self.calls = 0
        self.busy = False
        self.revoked = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v3/auth/"):
            if self.busy:
                return httpx.Response(503, json={"error_code": "APIGW.0202",
                                                 "error_msg": "unavailable"})
            if request.url.path == "/v3/auth/tokens":
                self.token_requests += 1
                password = request.read().decode()
                if IAM["password"] not in password:
                    return httpx.Response(401, json={"error": {"code": 401,
                                                               "message": "wrong password"}})
                return httpx.Response(201, headers={"X-Subject-Token": "token"}, json={})
            self.checks += 1
        else:
            self.calls += 1
        signed_by_ak = "Access=AK," in request.headers.get("Authorization", "")
        if request.headers.get("X-Auth-Token") != "token" and \
                (not signed_by_ak or self.revoked):
            return httpx.Response(401, json={"error_code": "APIGW.0301",
                                             "error_msg": "Incorrect IAM authentication"})
        return httpx.Response(200, json={"user": {"id": "u1", "name": "alice"},
                                         "projects": [{"id": "proj"}]})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def accounts_for(kube: FakeKube, cloud: Cloud, refs: SecretRefs | None = None,
                 clock: Clock | None = None) -> Accounts:
    """Accounts on `cloud`; a refusal is remembered for 0.05 s (or as long as `clock` says:
    the sessions' clock)."""
    def make_session(config: AccountConfig, on_auth_change: Any) -> CloudSession:
        session = CloudSession(config, transport=httpx.MockTransport(cloud),
                               on_auth_change=on_auth_change, max_attempts=1,
                               **({"clock": clock} if clock else {}))
        if clock is None:
            session.auth_status.failure_memory = 0.05
        return session

    return Accounts(kube, None, make_session, refs or SecretRefs(), NamespaceLabels())  # type: ignore[arg-type]


async def settle() -> None:
    """Lets the wake-up tasks run."""
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_deleted_secret_stops_the_session_and_its_return_brings_a_new_one() -> None:
    kube, cloud = FakeKube("AKSK", AKSK), Cloud()
    refs = SecretRefs()
    accounts = accounts_for(kube, cloud, refs)
    assert await accounts.check("acct") == ("AKSK credentials in Secret ns/creds: the cloud "
                                            "accepted them")
    first = await accounts.session("acct", "ns")
    assert refs.watched("ns", "creds")  # its changes wake the account
    assert refs.changed("ns", "creds", "2") == {account_key("acct")}

    kube.set_secret(None)  # the watch wakes the account; its handler checks it
    with pytest.raises(DependencyNotReady, match="Secret ns/creds not found") as info:
        await accounts.check("acct")
    assert info.value.woken
    reads = kube.reads
    for _ in range(3):  # the resources' passes: the same problem, nothing read again
        with pytest.raises(DependencyNotReady) as again:
            await accounts.session("acct", "ns")
        assert again.value is not info.value and again.value.woken
    assert kube.reads == reads

    kube.set_secret({**AKSK, "secretKey": "SK-rotated"})
    await accounts.check("acct")
    second = await accounts.session("acct", "ns")
    assert second is not first and second.account.secret_key.get_secret_value() == "SK-rotated"


async def test_the_same_secret_back_keeps_the_session() -> None:
    kube = FakeKube("AKSK", AKSK)
    accounts = accounts_for(kube, Cloud())
    await accounts.check("acct")
    first = await accounts.session("acct", "ns")
    kube.set_secret(None)
    with pytest.raises(DependencyNotReady):
        await accounts.check("acct")
    kube.set_secret(AKSK)
    await accounts.check("acct")
    assert await accounts.session("acct", "ns") is first


async def test_a_deletion_after_the_secret_went_uses_the_credentials_read_last() -> None:
    """The Secret deleted with its namespace, before the resources there that made cloud
    objects with it: their deletions go on with the session of the credentials read last;
    nothing else does, nor a namespace the account does not admit, nor anything after the
    account itself is gone."""
    kube = FakeKube("AKSK", AKSK)
    kube.account["spec"]["allowedNamespaces"] = {
        "from": "Selector", "selector": {"matchLabels": {"team": "a"}}}
    accounts = accounts_for(kube, Cloud())
    accounts.namespaces.seen("ns", {"team": "a"})
    accounts.namespaces.seen("other", {"team": "b"})
    await accounts.check("acct")
    first = await accounts.session("acct", "ns")
    kube.set_secret(None)
    with pytest.raises(DependencyNotReady):
        await accounts.check("acct")
    assert await accounts.session("acct", "ns", deleting=True) is first
    with pytest.raises(DependencyNotReady, match="Secret ns/creds not found"):
        await accounts.session("acct", "ns")  # a create or an update waits for the Secret
    with pytest.raises(AccountNotAllowed):
        await accounts.session("acct", "other", deleting=True)
    kube.account = None
    accounts.forget("acct")
    with pytest.raises(DependencyNotReady, match="HuaweiCloudAccount acct not found"):
        await accounts.session("acct", "ns", deleting=True)


async def test_a_deletion_waits_for_a_secret_this_process_never_read() -> None:
    """After a restart there is nothing read last: the deletion waits for the Secret."""
    kube = FakeKube("AKSK", None)
    accounts = accounts_for(kube, Cloud())
    with pytest.raises(DependencyNotReady, match="Secret ns/creds not found"):
        await accounts.session("acct", "ns", deleting=True)


async def test_a_load_under_way_when_the_account_is_forgotten_is_not_kept() -> None:
    kube = FakeKube("AKSK", AKSK)
    accounts = accounts_for(kube, Cloud())
    release = asyncio.Event()
    read_secret = kube.read_secret

    async def slow_read(namespace, name):
        found = await read_secret(namespace, name)
        await release.wait()
        return found

    kube.read_secret = slow_read  # type: ignore[method-assign]
    loading = asyncio.create_task(accounts.session("acct", "ns"))
    await settle()
    kube.set_secret(None)
    accounts.forget("acct")  # the Secret's deletion seen while the old one is being read
    release.set()
    await loading  # the pass that started before gets what it read ...
    with pytest.raises(DependencyNotReady):  # ... but nobody after it
        await accounts.session("acct", "ns")


async def test_an_incomplete_secret_names_the_missing_keys_never_values() -> None:
    kube = FakeKube("IAMPassword", {"domain": "dom", "password": "Not-Shown-1"})
    accounts = accounts_for(kube, Cloud())
    with pytest.raises(InvalidInput) as info:
        await accounts.check("acct")
    assert "lacks user (needed for authType IAMPassword)" in info.value.message
    assert "Not-Shown-1" not in info.value.message and info.value.woken


async def test_an_unknown_account_is_waited_for() -> None:
    accounts = accounts_for(FakeKube("AKSK", AKSK), Cloud())
    with pytest.raises(DependencyNotReady, match="HuaweiCloudAccount other not found") as info:
        await accounts.session("other", "ns")
    assert info.value.woken


async def test_a_wrong_iam_password_is_tried_once_for_every_pass_on_the_account() -> None:
    kube, cloud = FakeKube("IAMPassword", {**IAM, "password": "Wrong-Passw0rd"}), Cloud()
    accounts = accounts_for(kube, cloud)
    results = await asyncio.gather(*(accounts.session("acct", "ns") for _ in range(50)),
                                   return_exceptions=True)
    assert all(isinstance(r, AuthFailed) and r.woken for r in results)
    assert "IAM refused the login of HuaweiCloudAccount acct" in results[0].message
    assert "wrong password" in results[0].message and "Wrong-Passw0rd" not in results[0].message
    assert cloud.token_requests == 1 and cloud.calls == 0
    await settle()
    assert [name for name, _ in kube.woken] == ["acct"]  # told once, not per pass

    with pytest.raises(AuthFailed):  # the account's own check: what IAM said, not asked again
        await accounts.check("acct")
    assert cloud.token_requests == 1
    await asyncio.sleep(0.1)  # once IAM may be asked again, the account is woken to try
    assert kube.woken[-1] == ("acct", "the cloud may be asked again")

    kube.set_secret(IAM)  # corrected: a new session, no refusal remembered
    assert await accounts.check("acct") == ("IAMPassword credentials in Secret ns/creds: the "
                                            "cloud accepted them")
    session = await accounts.session("acct", "ns")
    assert (await session.vpn.get_user("srv", "u1")).name == "alice"
    assert cloud.token_requests == 2  # the refused login and the right one


async def test_an_aksk_account_is_ready_once_the_cloud_accepts_its_keys() -> None:
    kube, cloud = FakeKube("AKSK", {**AKSK, "accessKey": "WRONG"}), Cloud()
    accounts = accounts_for(kube, cloud)
    with pytest.raises(AuthFailed) as info:
        await accounts.check("acct")
    message = info.value.message
    assert message.startswith("the cloud refused the AK/SK of HuaweiCloudAccount acct from "
                              "Secret ns/creds: iam.list_auth_projects HTTP 401 APIGW.0301")
    assert "WRONG" not in message and AKSK["secretKey"] not in message and info.value.woken
    assert (cloud.checks, cloud.calls) == (1, 0)
    await asyncio.sleep(0.1)  # once the cloud may be asked again, the account is woken
    assert kube.woken[-1] == ("acct", "the cloud may be asked again")

    kube.set_secret(AKSK)  # corrected: tried at once
    assert await accounts.check("acct") == ("AKSK credentials in Secret ns/creds: the cloud "
                                            "accepted them")
    assert (cloud.checks, cloud.calls) == (2, 0)


async def test_one_check_for_an_account_and_all_its_resources() -> None:
    kube, cloud, clock = FakeKube("AKSK", {**AKSK, "accessKey": "WRONG"}), Cloud(), Clock()
    accounts = accounts_for(kube, cloud, clock=clock)
    results = await asyncio.gather(accounts.check("acct"),
                                   *(accounts.session("acct", "ns") for _ in range(50)),
                                   return_exceptions=True)
    assert all(isinstance(r, AuthFailed) and r.woken for r in results)
    assert cloud.checks == 1 and cloud.calls == 0
    await settle()
    assert [name for name, _ in kube.woken] == ["acct"]  # told once, not per pass
    clock.now += 89  # the refusal stands 90 s: the account's own wake-ups ask nothing
    with pytest.raises(AuthFailed):
        await accounts.check("acct")
    assert cloud.checks == 1

    kube.set_secret(AKSK)  # the Secret changed: new keys, checked at once, once for all
    await asyncio.gather(accounts.check("acct"),
                         *(accounts.session("acct", "ns") for _ in range(50)))
    assert cloud.checks == 2
    accounts.forget("acct")  # the account changed, not its keys: what the cloud said stands
    clock.now += 299
    await accounts.check("acct")
    assert cloud.checks == 2
    clock.now += 1  # 5 minutes after the check, with no call in between: asked again
    await accounts.check("acct")
    assert cloud.checks == 3


async def test_a_check_the_cloud_does_not_answer_is_cloud_busy_and_tried_again() -> None:
    kube, cloud = FakeKube("AKSK", AKSK), Cloud()
    cloud.busy = True
    accounts = accounts_for(kube, cloud)
    for _ in range(2):  # nothing remembered: each check asks
        with pytest.raises(CloudBusy) as info:
            await accounts.check("acct")
        assert "did not answer the check of HuaweiCloudAccount acct's credentials" in \
            info.value.message and "503" in info.value.message and not info.value.woken
    assert cloud.checks == 0 and kube.woken == []
    cloud.busy = False
    await accounts.check("acct")
    assert cloud.checks == 1


async def test_aksk_refused_in_its_resources_calls_makes_the_account_auth_failed() -> None:
    kube, cloud = FakeKube("AKSK", AKSK), Cloud()
    accounts = accounts_for(kube, cloud)
    session = await accounts.session("acct", "ns")
    await session.vpn.get_user("srv", "u1")
    assert cloud.checks == 1
    cloud.revoked = True  # e.g. the AK was deleted in the console
    with pytest.raises(AuthError):
        await session.vpn.get_user("srv", "u1")  # a resource's call
    await settle()
    assert [name for name, _ in kube.woken] == ["acct"]  # the account is told
    with pytest.raises(AuthFailed, match="refused the AK/SK of HuaweiCloudAccount acct") as info:
        await accounts.check("acct")
    assert info.value.woken and "APIGW.0301" in info.value.message
    assert cloud.checks == 1  # what the resources' call said: not asked again
    with pytest.raises(AuthFailed):  # the other resources wait for the account
        await accounts.session("acct", "ns")
    assert cloud.calls == 2


async def test_removing_an_account_closes_its_session_and_stops_watching_its_secret() -> None:
    kube = FakeKube("AKSK", AKSK)
    refs = SecretRefs()
    accounts = accounts_for(kube, Cloud(), refs)
    await accounts.check("acct")
    session = await accounts.session("acct", "ns")
    await accounts.remove("acct")
    assert not refs.watched("ns", "creds")
    assert accounts.pacer_snapshots() == []
    with pytest.raises(RuntimeError):  # its clients are closed
        await session.vpn.get_user("srv", "u1")


def test_a_deleted_account_waits_for_its_users_with_growing_delays() -> None:
    outcomes = [deletion_outcome(3, attempt) for attempt in range(7)]
    assert {o.reason for o in outcomes} == {Reason.IN_USE}
    assert {o.next for o in outcomes} == {Next.REQUEUE}  # never terminal: kopf keeps it
    assert [o.delay for o in outcomes] == [1, 2, 4, 8, 15, 15, 15]
    assert outcomes[0].message.startswith("3 resource(s) still name this account")
    assert not outcomes[0].ready and outcomes[0].synced_reason is Reason.IN_USE
    gone = deletion_outcome(0, 9)
    assert gone.next is Next.DONE and gone.reason is Reason.DELETING


async def test_an_account_admits_only_the_namespaces_it_selects() -> None:
    kube, cloud = FakeKube("AKSK", AKSK), Cloud()
    kube.account["spec"]["allowedNamespaces"] = {
        "from": "Selector", "selector": {"matchLabels": {"team": "a"}}}
    namespaces = NamespaceLabels()
    namespaces.seen("team-a", {"team": "a"})
    namespaces.seen("team-b", {"team": "b"})
    accounts = accounts_for(kube, cloud)
    accounts.namespaces = namespaces
    assert await accounts.session("acct", "team-a") is not None
    with pytest.raises(AccountNotAllowed) as refused:
        await accounts.session("acct", "team-b")
    assert "HuaweiCloudAccount acct does not admit namespace team-b" in refused.value.message
    assert "team-a" not in refused.value.message and "creds" not in refused.value.message
    assert accounts.restricted("acct") and cloud.calls == 0
    with pytest.raises(AccountNotAllowed):  # a namespace not seen (yet) is not admitted
        await accounts.session("acct", "unknown")
    assert namespaces.seen("team-b", {"team": "a"})  # relabelled: admitted from now on
    assert await accounts.session("acct", "team-b") is not None


async def test_the_default_account_admits_what_the_operator_was_told() -> None:
    def make_session(config: AccountConfig, on_auth_change: Any) -> object:
        return SimpleNamespace(token_provider=None)

    namespaces = NamespaceLabels()
    namespaces.seen("apps", {"kubernetes.io/metadata.name": "apps"})
    namespaces.seen("other", {"kubernetes.io/metadata.name": "other"})
    default = AccountConfig(region="cn-north-4", project_id="p", access_key="a", secret_key="s")
    accounts = Accounts(None, default, make_session, SecretRefs(), namespaces,  # type: ignore[arg-type]
                        parse_allowed_namespaces("kubernetes.io/metadata.name in (apps)"))
    assert await accounts.session(None, "apps") is not None
    with pytest.raises(AccountNotAllowed, match="the operator's default account does not"):
        await accounts.session(None, "other")
