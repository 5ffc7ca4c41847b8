"""Secrets the watch does not show (no access.hwcloud.dev/credentials label, or not there):
read again at each resync, a new version handled as the watch would; and a resource is told
once that its Secret lacks the label."""

from __future__ import annotations

import base64
import logging

import pytest
from kubernetes.client.exceptions import ApiException

from hwcloud_access.reconcile.acting import Acting, always_acting
from hwcloud_access.reconcile.kube import CREDENTIALS_LABEL, Kube
from hwcloud_access.reconcile.secret_refs import SecretRefs
from hwcloud_access.reconcile.secret_watch import POLLED, WATCHED, SecretWatch

USER = ("VpnUser", "ns", "alice")
OTHER = ("MqUser", "ns", "orders")


class FakeApiServer:
    """The Secret reads and creates KubeHttp would send: name -> (resourceVersion,
    labelled), or absent (404)."""

    def __init__(self) -> None:
        self.secrets: dict[str, tuple[str, bool]] = {}
        self.reads: list[str] = []
        self.refuse: set[str] = set()
        self.made: list[dict] = []

    async def request(self, method: str, path: str, body: dict | None = None) -> dict:
        if method == "POST" and path == "/api/v1/namespaces/ns/secrets" and body:
            self.made.append(body)
            return {**body, "metadata": {**body["metadata"], "uid": "uid", "resourceVersion": "1"}}
        assert method == "GET" and path.startswith("/api/v1/namespaces/ns/secrets/")
        name = path.rsplit("/", 1)[1]
        self.reads.append(name)
        if name in self.refuse:
            raise ApiException(status=403, reason="Forbidden")
        if name not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        version, labelled = self.secrets[name]
        return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                             "resourceVersion": version,
                             "labels": {CREDENTIALS_LABEL: "true"} if labelled else {"app": "x"}},
                "data": {"password": base64.b64encode(b"Some-Pass-1").decode()}}


@pytest.fixture
def core() -> FakeApiServer:
    return FakeApiServer()


@pytest.fixture
def kube(core: FakeApiServer) -> Kube:
    return Kube(core)  # type: ignore[arg-type]


def watch(kube: Kube, refs: SecretRefs, acting: Acting = always_acting
          ) -> tuple[SecretWatch, list[tuple[tuple, str]]]:
    woken: list[tuple[tuple, str]] = []

    async def wake(key: tuple, why: str) -> None:
        woken.append((key, why))

    return SecretWatch(kube, refs, wake, interval=300.0, acting=acting), woken


async def use(kube: Kube, refs: SecretRefs, resource: tuple, name: str) -> None:
    """A pass of `resource` reading its Secret `ns/name`, as resolve_secret does."""
    secret = await kube.read_watched_secret("ns", name)
    refs.track(resource, name, secret.resource_version if secret else "")


async def test_a_new_version_of_an_unlabelled_secret_wakes_its_users_at_the_resync(
        kube: Kube, core: FakeApiServer) -> None:
    refs = SecretRefs(on_unwatched=kube.forget_secret)
    secrets, woken = watch(kube, refs)
    core.secrets = {"plain": ("1", False), "labelled": ("1", True)}
    await use(kube, refs, USER, "plain")
    await use(kube, refs, OTHER, "labelled")
    core.reads.clear()

    await secrets.poll()
    assert core.reads == ["plain"] and woken == []  # unchanged; the labelled one is watched

    core.secrets["plain"] = ("2", False)
    await secrets.poll()
    assert woken == [(USER, POLLED)]
    assert kube.cached_secret("ns", "plain") is None  # the next pass reads it afresh
    await secrets.poll()
    assert woken == [(USER, POLLED)]  # once per version


async def test_a_missing_secret_is_read_again_until_it_comes_and_watched_once_labelled(
        kube: Kube, core: FakeApiServer) -> None:
    refs = SecretRefs(on_unwatched=kube.forget_secret)
    secrets, woken = watch(kube, refs)
    await use(kube, refs, USER, "late")
    await secrets.poll()
    assert woken == [] and core.reads == ["late", "late"]

    core.secrets["late"] = ("5", True)
    await secrets.poll()
    assert woken == [(USER, POLLED)]
    await use(kube, refs, USER, "late")
    core.reads.clear()
    await secrets.poll()
    assert core.reads == []  # labelled: the watch shows it from now on


async def test_the_watch_wakes_once_per_version_and_drops_a_stale_copy(
        kube: Kube, core: FakeApiServer) -> None:
    refs = SecretRefs(on_unwatched=kube.forget_secret)
    secrets, woken = watch(kube, refs)
    core.secrets["pw"] = ("1", True)
    await use(kube, refs, USER, "pw")
    await secrets.seen("ns", "pw", "1")
    assert woken == [] and kube.cached_secret("ns", "pw") is not None
    await secrets.seen("ns", "pw", "2")
    await secrets.seen("ns", "pw", "2")
    assert woken == [(USER, WATCHED)] and kube.cached_secret("ns", "pw") is None


async def test_a_replica_that_does_not_act_reads_no_secret_again(
        kube: Kube, core: FakeApiServer) -> None:
    """Paused by kopf's peering after it has acted: another replica polls."""
    refs = SecretRefs(on_unwatched=kube.forget_secret)
    standing = {"acting": False}

    async def acting() -> bool:
        return standing["acting"]

    secrets, woken = watch(kube, refs, acting)
    core.secrets["plain"] = ("1", False)
    await use(kube, refs, USER, "plain")
    core.secrets["plain"] = ("2", False)
    core.reads.clear()
    await secrets.poll()
    assert core.reads == [] and woken == []
    standing["acting"] = True
    await secrets.poll()
    assert core.reads == ["plain"] and woken == [(USER, POLLED)]


async def test_a_secret_nobody_uses_any_more_is_not_read_again(kube: Kube,
                                                               core: FakeApiServer) -> None:
    refs = SecretRefs(on_unwatched=kube.forget_secret)
    secrets, _ = watch(kube, refs)
    core.secrets["plain"] = ("1", False)
    await use(kube, refs, USER, "plain")
    refs.forget(USER)
    core.reads.clear()
    await secrets.poll()
    assert core.reads == []


async def test_a_failed_read_leaves_the_others_and_logs_no_secret(
        kube: Kube, core: FakeApiServer, caplog: pytest.LogCaptureFixture) -> None:
    refs = SecretRefs(on_unwatched=kube.forget_secret)
    secrets, woken = watch(kube, refs)
    core.secrets = {"a": ("1", False), "b": ("1", False)}
    await use(kube, refs, USER, "a")
    await use(kube, refs, OTHER, "b")
    core.refuse, core.secrets["b"] = {"a"}, ("2", False)
    with caplog.at_level(logging.WARNING):
        await secrets.poll()
    assert woken == [(OTHER, POLLED)]
    assert "re-reading 1 unlabelled Secret(s) failed (HTTP 403)" in caplog.text
    assert "Some-Pass-1" not in caplog.text


def test_a_resource_is_told_once_that_its_secret_lacks_the_label() -> None:
    refs = SecretRefs()
    refs.track(USER, "plain", "1")
    assert refs.first_unlabelled(USER, labelled=False)
    assert not refs.first_unlabelled(USER, labelled=False)
    assert not refs.first_unlabelled(OTHER, labelled=True)
    assert not refs.first_unlabelled(USER, labelled=True)  # labelled meanwhile
    assert refs.first_unlabelled(USER, labelled=False)  # and unlabelled again
    refs.track(USER, "another", "1")  # another Secret: told about that one too
    assert refs.first_unlabelled(USER, labelled=False)


async def test_generated_secrets_carry_the_label(kube: Kube, core: FakeApiServer) -> None:
    owner = {"apiVersion": "access.hwcloud.dev/v1alpha1", "kind": "VpnUser",
             "metadata": {"name": "alice", "uid": "u1"}}
    created = await kube.create_owned_secret("ns", "alice-vpn-credentials", {}, owner,
                                             {"a": "b"})
    assert core.made[0]["metadata"]["labels"] == {"a": "b", CREDENTIALS_LABEL: "true"}
    assert created is not None and kube.labelled("ns", "alice-vpn-credentials")
