"""IAM tokens: issue (password, hw_ak_sk, AK/SK-signed), use via X-Auth-Token, expiry; the
projects a caller reaches (GET /v3/auth/projects) as the official IAM SDK reads them."""

from __future__ import annotations

import json
import time

import httpx
from huaweicloudsdkiam.v3 import (
    AuthProjectResult,
    KeystoneListAuthProjectsRequest,
    KeystoneListAuthProjectsResponse,
)
from tests.contract.helpers import iam_client, sdk_error, send, signed, vpn_base


def _password_body(emu, password=None, scope=None):
    c = emu.config
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": c.iam_user,
                        "password": password or c.iam_password,
                        "domain": {"name": c.iam_domain},
                    }
                },
            },
            "scope": scope or {"project": {"name": c.region}},
        }
    }


def _issue(emu, body) -> httpx.Response:
    return httpx.post(emu.url + "/v3/auth/tokens", json=body, timeout=10)


def test_password_token_issue_and_use(emulator) -> None:
    response = _issue(emulator, _password_body(emulator))
    assert response.status_code == 201
    token = response.headers["X-Subject-Token"]
    body = response.json()["token"]
    assert body["project"]["id"] == emulator.config.project_id
    assert body["project"]["name"] == emulator.config.region
    assert body["user"]["name"] == emulator.config.iam_user
    assert body["expires_at"].endswith("Z") and body["methods"] == ["password"]
    assert token not in response.text  # the token is only in the header

    users = emulator.url + vpn_base(emulator) + "/users"
    listed = httpx.get(users, headers={"X-Auth-Token": token}, timeout=10)
    assert listed.status_code == 200
    assert "users" in listed.json()
    c = emulator.config
    mq = f"{emulator.url}/v2/{c.project_id}/instances/{c.instance_id}/users"
    assert httpx.get(mq, headers={"X-Auth-Token": token}, timeout=10).status_code == 200


def test_project_scope_by_id(emulator) -> None:
    scope = {"project": {"id": emulator.config.project_id}}
    assert _issue(emulator, _password_body(emulator, scope=scope)).status_code == 201
    bad = _issue(emulator, _password_body(emulator, scope={"project": {"id": "0" * 32}}))
    assert bad.status_code == 400 and bad.json()["error_code"] == "IAM.0001"


def test_wrong_password_and_bad_bodies(emulator) -> None:
    wrong = _issue(emulator, _password_body(emulator, password="Wrong-Pass-123"))
    assert wrong.status_code == 401
    assert wrong.json()["error_code"] == "IAM.0002"
    assert "X-Subject-Token" not in wrong.headers
    no_scope = _password_body(emulator)
    del no_scope["auth"]["scope"]
    assert _issue(emulator, no_scope).status_code == 400
    assert _issue(emulator, {"nothing": 1}).status_code == 400


def test_hw_ak_sk_method(emulator) -> None:
    c = emulator.config
    body = {
        "auth": {
            "identity": {
                "methods": ["hw_ak_sk"],
                "hw_ak_sk": {"access": {"key": c.access_key}, "secret": {"key": c.secret_key}},
            },
            "scope": {"project": {"name": c.region}},
        }
    }
    assert _issue(emulator, body).status_code == 201
    body["auth"]["identity"]["hw_ak_sk"]["secret"]["key"] = "wrong"
    assert _issue(emulator, body).status_code == 401


def test_aksk_signed_token_request(emulator) -> None:
    payload = json.dumps(
        {
            "auth": {
                "identity": {"methods": ["hw_ak_sk"]},
                "scope": {"project": {"id": emulator.config.project_id}},
            }
        }
    ).encode()
    url, headers, body = signed(emulator, "POST", "/v3/auth/tokens", body=payload)
    response = send(url, headers, body, "POST")
    assert response.status_code == 201
    assert response.headers["X-Subject-Token"]
    url, headers, body = signed(emulator, "POST", "/v3/auth/tokens", body=payload, sk="bad")
    assert send(url, headers, body, "POST").status_code == 401


def test_unknown_and_expired_tokens(fresh_emulator) -> None:
    emu = fresh_emulator()
    users = emu.url + vpn_base(emu) + "/users"
    unknown = httpx.get(users, headers={"X-Auth-Token": "MIIEnotatoken"}, timeout=10)
    assert unknown.status_code == 401 and unknown.json()["error_code"] == "APIGW.0301"
    token = _issue(emu, _password_body(emu)).headers["X-Subject-Token"]
    assert httpx.get(users, headers={"X-Auth-Token": token}, timeout=10).status_code == 200
    assert emu.expire_tokens()["expired"] >= 1
    expired = httpx.get(users, headers={"X-Auth-Token": token}, timeout=10)
    assert expired.status_code == 401
    assert expired.json()["error_code"] == "APIGW.0307"
    fresh = _issue(emu, _password_body(emu)).headers["X-Subject-Token"]
    assert httpx.get(users, headers={"X-Auth-Token": fresh}, timeout=10).status_code == 200


def test_token_ttl(fresh_emulator) -> None:
    emu = fresh_emulator(token_ttl=0.3)
    users = emu.url + vpn_base(emu) + "/users"
    response = _issue(emu, _password_body(emu))
    token = response.headers["X-Subject-Token"]
    assert httpx.get(users, headers={"X-Auth-Token": token}, timeout=10).status_code == 200
    time.sleep(0.4)
    assert httpx.get(users, headers={"X-Auth-Token": token}, timeout=10).status_code == 401
    emu.set_config(token_ttl=86400)
    token = _issue(emu, _password_body(emu)).headers["X-Subject-Token"]
    time.sleep(0.4)
    assert httpx.get(users, headers={"X-Auth-Token": token}, timeout=10).status_code == 200


def _aksk_domain_id(emu) -> str:
    """The domain of the emulator's AK/SK, as IAM's token answer names it."""
    c = emu.config
    body = {"auth": {"identity": {"methods": ["hw_ak_sk"], "hw_ak_sk": {
        "access": {"key": c.access_key}, "secret": {"key": c.secret_key}}},
        "scope": {"project": {"id": c.project_id}}}}
    return _issue(emu, body).json()["token"]["user"]["domain"]["id"]


def test_sdk_lists_the_projects_an_aksk_reaches(emulator) -> None:
    domain_id = _aksk_domain_id(emulator)
    answer = iam_client(emulator, domain_id).keystone_list_auth_projects(
        KeystoneListAuthProjectsRequest())
    assert [(p.id, p.name, p.domain_id, p.parent_id, p.enabled, p.is_domain)
            for p in answer.projects] == [
        (emulator.config.project_id, emulator.config.region, domain_id, domain_id, True, False)]
    assert answer.links._self == emulator.url + "/v3/auth/projects"  # the SDK's name
    assert answer.projects[0].links._self.endswith(f"/v3/projects/{emulator.config.project_id}")


def test_sdk_listing_projects_with_a_wrong_secret_key_is_refused(emulator) -> None:
    client = iam_client(emulator, _aksk_domain_id(emulator), sk="Not-The-Secret-Key")
    refused = sdk_error(lambda: client.keystone_list_auth_projects(
        KeystoneListAuthProjectsRequest()))
    assert (refused.status_code, refused.error_code) == (401, "APIGW.0301")
    unsigned = httpx.get(emulator.url + "/v3/auth/projects", timeout=10)
    assert unsigned.status_code == 401 and unsigned.json()["error_code"] == "APIGW.0301"


def test_a_token_lists_the_projects_of_its_users_domain(emulator) -> None:
    issued = _issue(emulator, _password_body(emulator))
    token, user = issued.headers["X-Subject-Token"], issued.json()["token"]["user"]
    listed = httpx.get(emulator.url + "/v3/auth/projects", headers={"X-Auth-Token": token},
                       timeout=10)
    assert listed.status_code == 200
    assert [(p["id"], p["domain_id"]) for p in listed.json()["projects"]] == [
        (emulator.config.project_id, user["domain"]["id"])]
    # Every field of the SDK's models, and no other (the SDK would ignore a missing one).
    assert set(listed.json()) == set(KeystoneListAuthProjectsResponse.attribute_map.values())
    assert set(listed.json()["projects"][0]) == set(AuthProjectResult.attribute_map.values())


def test_listing_projects_gets_the_injected_faults_and_is_counted(fresh_emulator) -> None:
    emu = fresh_emulator(faults={"fail_next": 1})
    url, headers, body = signed(emu, "GET", "/v3/auth/projects")
    failed = send(url, headers, body)
    assert failed.status_code == 503 and failed.json()["error_code"] == "APIGW.0202"
    url, headers, body = signed(emu, "GET", "/v3/auth/projects")  # signed afresh
    assert send(url, headers, body).status_code == 200
    assert emu.stats()["calls"]["list_auth_projects"] == {"503": 1, "200": 1}
