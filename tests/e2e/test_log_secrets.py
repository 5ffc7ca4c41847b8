"""No secret in any log at any level: the operator at -v (kopf's debug logging: bodies,
patches, handler calls) through a whole create / rotate / delete cycle of VPN users and
RocketMQ users, generated and given credentials, through the default AK/SK account and an
IAM-password HuaweiCloudAccount (so a token is issued and used); then every secret used is
looked for in the operator's whole log and in the emulator's (at DEBUG).

It runs on a test bed of its own: the e2e suite's session operator watches every namespace
of the shared one, and two operators must never act on the same objects."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from tests.e2e.test_operator import (
    account,
    cloud_mq,
    cloud_users,
    mq_user,
    read_secret,
    secret,
    user,
)
from tests.support.emulator import EmulatorProcess
from tests.support.operator import OperatorProcess, operator_env, wait_for, wait_ready
from tests.support.testbed import Testbed, install_crds, start_testbed, stop_testbed

pytestmark = pytest.mark.e2e

NS = "logs"
# The emulator's tokens: "MIIE" and base64url, as Huawei's PKI tokens start. Any run of it in
# a log is a token (or a piece of one), whoever it was issued to.
TOKEN_SHAPE = re.compile(r"MIIE[A-Za-z0-9_-]{20,}")


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    state = tmp_path_factory.mktemp("log-secrets-testbed")
    testbed = start_testbed(state)
    try:
        install_crds(testbed)
        testbed.kubectl("create", "namespace", NS)
        yield testbed
    finally:
        stop_testbed(state)


@pytest.fixture(scope="module")
def cloud() -> Iterator[EmulatorProcess]:
    """An emulator at DEBUG whose AK/SK and IAM password are this test's own."""
    config = {
        "apply_delay": 0.2,
        "queue_capacity": 100,
        "credentials": [{"access_key": "HWLOGTESTAK00000001",
                         "secret_key": "logTestSk" + uuid.uuid4().hex}],
        "iam_users": [{"domain": "log-domain", "name": "log-operator",
                       "password": "Iam-Pw-" + uuid.uuid4().hex[:16]}],
    }
    with EmulatorProcess(config, log_level="DEBUG") as emu:
        yield emu


@pytest.fixture(scope="module")
def verbose_operator(bed: Testbed, cloud: EmulatorProcess, tmp_path_factory: pytest.TempPathFactory
                     ) -> Iterator[OperatorProcess]:
    log = Path(tmp_path_factory.mktemp("log-secrets-operator")) / "operator.log"
    operator = OperatorProcess(operator_env(bed, cloud), log, "-v", "-A").start()
    try:
        yield operator
    finally:
        operator.stop()


def issued_token(cloud: EmulatorProcess) -> str:
    """A token of the test's own, to show what TOKEN_SHAPE looks for is what IAM issues."""
    info = cloud.config
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": info.iam_user, "password": info.iam_password,
        "domain": {"name": info.iam_domain}}}},
        "scope": {"project": {"id": info.project_id}}}}
    response = httpx.post(f"{cloud.url}/v3/auth/tokens", json=body, timeout=10)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def rotate(bed: Testbed, name: str, **data: str) -> None:
    """New content for an existing Secret (given or generated: both are the credential)."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    bed.kubectl("patch", "secret", name, "-n", NS, "--type=merge",
                "-p", json.dumps({"data": encoded}))


def test_no_secret_in_any_log_at_verbose(bed: Testbed, cloud: EmulatorProcess,
                                         verbose_operator: OperatorProcess) -> None:
    info = cloud.config
    bed.apply(secret("iam-login", domain=info.iam_domain, user=info.iam_user,
                     password=info.iam_password), NS)
    bed.apply(account("iam-login", cloud, NS, "iam-login", "IAMPassword"))
    wait_ready(bed, "HuaweiCloudAccount", "iam-login", None)
    via_iam = {"accountRef": {"name": "iam-login"}}

    bed.apply(secret("given-pw", password="Given-Vpn-Pass-71"), NS)
    bed.apply(secret("given-key", secretKey="Given-Mq-Key-72!"), NS)
    bed.apply(user("given", "log-given", passwordSecretRef={"name": "given-pw",
                                                             "key": "password"}), NS)
    bed.apply(user("made", "log-made", **via_iam), NS)
    bed.apply(mq_user("given-mq", "log_given_mq", **via_iam,
                      secretKeySecretRef={"name": "given-key", "key": "secretKey"}), NS)
    bed.apply(mq_user("made-mq", "log_made_mq"), NS)
    made = wait_ready(bed, "VpnUser", "made", NS)
    made_mq = wait_ready(bed, "MqUser", "made-mq", NS)
    wait_ready(bed, "VpnUser", "given", NS)
    wait_ready(bed, "MqUser", "given-mq", NS)
    made_secret = made["status"]["credentialsSecret"]
    made_mq_secret = made_mq["status"]["credentialsSecret"]
    generated = [read_secret(bed, NS, made_secret)["password"],
                 read_secret(bed, NS, made_mq_secret)["secretKey"]]
    assert cloud.check_password("log-made", generated[0])
    assert cloud.check_mq_secret("log_made_mq", generated[1])

    rotated = {"given-pw": ("password", "Rotated-Vpn-Pass-81"),
               "given-key": ("secretKey", "Rotated-Mq-Key-82!"),
               made_secret: ("password", "Rotated-Made-Pass-83"),
               made_mq_secret: ("secretKey", "Rotated-Made-Key-84!")}
    for name, (key, value) in rotated.items():
        rotate(bed, name, **{key: value})
    for cloud_name, (_, value) in zip(["log-given", "log-made"],
                                      [rotated["given-pw"], rotated[made_secret]], strict=True):
        wait_for(lambda n=cloud_name, v=value: cloud.check_password(n, v), 60,
                 what=f"{cloud_name}'s password reset")
    for access_key, (_, value) in zip(["log_given_mq", "log_made_mq"],
                                      [rotated["given-key"], rotated[made_mq_secret]],
                                      strict=True):
        wait_for(lambda a=access_key, v=value: cloud.check_mq_secret(a, v), 60,
                 what=f"{access_key}'s secret key updated")

    bed.kubectl("delete", "vpnusers,mqusers", "--all", "-n", NS, "--timeout=120s")
    assert cloud_users(cloud, "log-given") == cloud_users(cloud, "log-made") == []
    assert cloud_mq(cloud, "log_given_mq") == cloud_mq(cloud, "log_made_mq") == []
    bed.kubectl("delete", "huaweicloudaccount", "iam-login", "--timeout=60s")

    assert cloud.stats()["calls"]["issue_token"].get("201"), "the IAM account got a token"
    assert TOKEN_SHAPE.fullmatch(issued_token(cloud))
    fingerprint_key = read_secret(bed, "default", "hwcloud-access-fingerprint-key")["key"]
    kubeconfig = yaml.safe_load(bed.kubeconfig.read_text())
    used = {
        "the API server token": kubeconfig["users"][0]["user"]["token"],
        "the AK's secret key": info.secret_key,
        "the IAM password": info.iam_password,
        "the fingerprint key": fingerprint_key,
        "the given VPN password": "Given-Vpn-Pass-71",
        "the given MQ secret key": "Given-Mq-Key-72!",
        "the generated VPN password": generated[0],
        "the generated MQ secret key": generated[1],
        **{f"the rotated {key} of {name}": value for name, (key, value) in rotated.items()},
    }
    operator_log, emulator_log = verbose_operator.log(), cloud.log_text()
    assert "Merge-patching the status with" in operator_log, "-v shows kopf's debug lines"
    for name, log in (("operator", operator_log), ("emulator", emulator_log)):
        for what, value in used.items():
            assert value not in log, f"{what} is in the {name}'s log"
        token = TOKEN_SHAPE.search(log)
        assert token is None, f"an IAM token is in the {name}'s log at offset {token.start()}"
