"""Least privilege on Secrets, end to end (real API server with an audit log of every request
on Secrets, emulator, `hwcloud-access run -A --resync-interval 3`): the operator lists and
watches only Secrets labelled access.hwcloud.dev/credentials=true, and reads others only by
the name a resource gives; a labelled Secret's change is seen by the watch at once, an
unlabelled one's at the next resync."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.e2e.test_operator import account, events, secret, user
from tests.support.emulator import EmulatorProcess
from tests.support.operator import condition, wait_for, wait_ready, wait_reason
from tests.support.testbed import Testbed

from hwcloud_access.reconcile.kube import CREDENTIALS_SELECTOR, WAKEUP_ANNOTATION
from hwcloud_access.reconcile.kube_http import USER_AGENT
from hwcloud_access.reconcile.secret_watch import POLLED, WATCHED

# Who sends the operator's requests: kopf's own session (its watches) and the engine's
# (reconcile/kube_http.py). The tests' kubectl and the controller manager say otherwise.
OPERATOR_AGENTS = ("kopf/", USER_AGENT)
RESYNC = 3.0  # the operator_stack's --resync-interval


def unlabelled(name: str, **data: str) -> dict:
    body = secret(name, **data)
    del body["metadata"]["labels"]
    return body


def ready_user(testbed: Testbed, emulator: EmulatorProcess, ns: str, name: str,
               password_secret: dict) -> None:
    """A VpnUser `name` whose password is in `password_secret` (applied first), Ready with it."""
    testbed.apply(password_secret, ns)
    testbed.apply(user(name, f"{name}-{ns}", passwordSecretRef={
        "name": password_secret["metadata"]["name"], "key": "password"}), ns)
    wait_ready(testbed, "VpnUser", name, ns)
    assert emulator.check_password(f"{name}-{ns}", password_secret["stringData"]["password"])


def operator_requests(testbed: Testbed) -> list[dict]:
    """The audit events of the operator's requests on Secrets."""
    return [event for event in testbed.audit()
            if event.get("userAgent", "").startswith(OPERATOR_AGENTS)]


def woken_by(testbed: Testbed, kind: str, name: str, namespace: str | None) -> str:
    """Why the operator last woke the object (its wake-up annotation: "<time> <why>")."""
    annotations = testbed.get(kind, name, namespace)["metadata"].get("annotations") or {}
    return annotations.get(WAKEUP_ANNOTATION, " ").split(" ", 1)[1]


def test_a_labelled_secret_is_watched(stack) -> None:
    testbed, emulator, _, ns = stack
    ready_user(testbed, emulator, ns, "lab", secret("pw", password="Labelled-Pass-1"))
    testbed.apply(secret("pw", password="Labelled-Pass-2"), ns)
    wait_for(lambda: emulator.check_password(f"lab-{ns}", "Labelled-Pass-2"), 30,
             what="password reset in the cloud")
    # The watch woke it (the resync reads only Secrets without the label).
    assert woken_by(testbed, "VpnUser", "lab", ns) == WATCHED
    assert "SecretNotLabelled" not in events(testbed, ns, "lab")


def test_the_operator_asks_only_for_labelled_secrets(stack) -> None:
    testbed, emulator, _, ns = stack
    testbed.apply(unlabelled("bystander", token="Nothing-For-The-Operator-1"), ns)
    ready_user(testbed, emulator, ns, "lab", secret("pw", password="Labelled-Pass-1"))
    testbed.apply(unlabelled("bystander", token="Nothing-For-The-Operator-2"), ns)
    wait_for(lambda: any(e["objectRef"].get("namespace") == ns
                         for e in operator_requests(testbed)), 10,
             what="the operator's requests in the audit log")
    ns_requests = [e for e in operator_requests(testbed) if e["objectRef"].get("namespace") == ns]
    assert {e["objectRef"].get("name") for e in ns_requests} == {"pw"}  # by name only

    # Every list and watch of Secrets the operator sent since it started carries the label
    # selector: the API server never sent it the bystander, nor its change, nor any other
    # unlabelled Secret. (Without the selector kopf lists and watches every Secret.)
    collections = [e for e in operator_requests(testbed) if e["verb"] in ("list", "watch")]
    assert {e["verb"] for e in collections} == {"list", "watch"}
    for event in collections:
        selector = parse_qs(urlsplit(event["requestURI"]).query).get("labelSelector")
        assert selector == [CREDENTIALS_SELECTOR], \
            f"the operator asked for Secrets without the label: {event['requestURI']}"
    assert not [e for e in operator_requests(testbed)
                if e["objectRef"].get("name") == "bystander"]


def test_an_unlabelled_secret_works_and_is_read_again_at_the_resync(stack) -> None:
    testbed, emulator, _, ns = stack
    ready_user(testbed, emulator, ns, "plain", unlabelled("plain-pw", password="Plain-Pass-1"))
    # It says so, once.
    warned = wait_for(lambda: [line for line in testbed.kubectl(
        "get", "events", "-n", ns, "--field-selector",
        "involvedObject.name=plain,reason=SecretNotLabelled",
        "-o", "jsonpath={range .items[*]}{.type} {.message}{'\\n'}{end}").stdout.splitlines()
        if line], 10, what="the SecretNotLabelled Event")
    assert len(warned) == 1 and warned[0].startswith("Warning ")
    assert f"Secret {ns}/plain-pw lacks the label {CREDENTIALS_SELECTOR}" in warned[0]

    testbed.apply(unlabelled("plain-pw", password="Plain-Pass-2"), ns)
    wait_for(lambda: emulator.check_password(f"plain-{ns}", "Plain-Pass-2"), 4 * RESYNC + 10,
             what="password reset at the resync")
    assert woken_by(testbed, "VpnUser", "plain", ns) == POLLED
    assert events(testbed, ns, "plain").count("SecretNotLabelled") == 1


def test_an_unlabelled_account_secret_is_read_again_at_the_resync(stack) -> None:
    testbed, emulator, _, ns = stack
    info = emulator.config
    name = f"plain-{ns}"
    testbed.apply(unlabelled("creds", accessKey=info.access_key, secretKey=info.secret_key), ns)
    testbed.apply(account(name, emulator, ns, "creds"))
    try:
        wait_ready(testbed, "HuaweiCloudAccount", name, None)
        testbed.kubectl("delete", "secret", "creds", "-n", ns)
        gone = wait_reason(testbed, "HuaweiCloudAccount", name, None, "DependencyNotReady",
                           timeout=4 * RESYNC + 10)
        assert f"credentials Secret {ns}/creds not found" in condition(gone)["message"]
        assert woken_by(testbed, "HuaweiCloudAccount", name, None) == POLLED
    finally:
        testbed.kubectl("delete", "huaweicloudaccount", name, "--wait=false", check=False)
