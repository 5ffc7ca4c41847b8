"""AK/SK signature verification: the published vector, agreement with huaweicloudsdkcore's
Signer, and 401s for every kind of tampering (raw httpx requests against the emulator)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.contract.helpers import send, signed, vpn_base

from hwcloud_emulator import signing

VECTOR_SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"


def test_published_vector() -> None:
    headers = {
        "content-type": "application/json",
        "host": "service.region.example.com",
        "x-sdk-date": "20191115T033655Z",
    }
    canonical = signing.canonical_request(
        "GET",
        "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
        "limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
        headers,
        ("content-type", "host", "x-sdk-date"),
        b"",
    )
    assert (
        hashlib.sha256(canonical.encode()).hexdigest()
        == "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    )
    to_sign = signing.string_to_sign(canonical, "20191115T033655Z")
    assert (
        signing.signature(VECTOR_SK, to_sign)
        == "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#", exclude_categories=("Cs",)),
    min_size=1,
    max_size=12,
)
_value = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=12
)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    segments=st.lists(_segment, min_size=1, max_size=4),
    trailing=st.booleans(),
    query=st.lists(st.tuples(st.from_regex(r"[a-z_]{1,6}", fullmatch=True), _value), max_size=4),
    body=st.binary(max_size=64),
    extra=st.dictionaries(
        st.from_regex(r"X-[A-Za-z]{1,8}", fullmatch=True),
        st.from_regex(r"[ -~]{0,16}", fullmatch=True),
        max_size=3,
    ),
)
def test_verification_agrees_with_the_sdk_signer(method, segments, trailing, query, body, extra):
    path = "/" + "/".join(quote(s, safe="") for s in segments) + ("/" if trailing else "")
    now = datetime.now(UTC)
    headers = {"Content-Type": "application/json", **extra}
    request = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:8930",
        resource_path=path,
        query_params=list(query),
        header_params=headers,
        body=body,
    )
    Signer(BasicCredentials("AKTEST", "SKTEST", "p")).sign(request)
    sent_path, _, sent_query = request.uri.partition("?")
    lowered = {k.lower(): v for k, v in request.header_params.items()}
    access_key = signing.verify(
        method=method,
        raw_path=sent_path,
        raw_query=sent_query,
        headers=lowered,
        body=body,
        secret_for={"AKTEST": "SKTEST"}.get,
        now=now,
        skew_limit=900,
    )
    assert access_key == "AKTEST"


def _users_url(emu):
    return vpn_base(emu) + "/users"


def test_correct_signature_passes(emulator) -> None:
    url, headers, body = signed(emulator, "GET", _users_url(emulator), query=[("limit", 2)])
    assert send(url, headers, body).status_code == 200


def _assert_401(response, code="APIGW.0301") -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error_code"] == code
    assert "error_msg" in response.json()


def test_tampered_path(emulator) -> None:
    url, headers, body = signed(emulator, "GET", _users_url(emulator))
    _assert_401(send(url.replace("/users", "/groups"), headers, body))


def test_tampered_query(emulator) -> None:
    url, headers, body = signed(emulator, "GET", _users_url(emulator), query=[("limit", 2)])
    _assert_401(send(url.replace("limit=2", "limit=3"), headers, body))
    _assert_401(send(url + "&marker=x", headers, body))


def test_tampered_header(emulator) -> None:
    url, headers, body = signed(emulator, "GET", _users_url(emulator), headers={"X-Custom": "one"})
    _assert_401(send(url, {**headers, "X-Custom": "two"}, body))
    dropped = {k: v for k, v in headers.items() if k != "X-Custom"}
    _assert_401(send(url, dropped, body))


def test_tampered_body(emulator) -> None:
    payload = json.dumps({"user_group": {"name": "tamper-a"}}).encode()
    url, headers, body = signed(emulator, "POST", vpn_base(emulator) + "/groups", body=payload)
    _assert_401(send(url, headers, body.replace(b"tamper-a", b"tamper-b"), "POST"))
    # the same request untouched is accepted
    assert send(url, headers, body, "POST").status_code == 201


def test_unsigned_payload_is_honoured(emulator) -> None:
    payload = b"name=x"
    url, headers, body = signed(
        emulator,
        "POST",
        vpn_base(emulator) + "/users/batch-delete",
        body=payload,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    response = send(url, headers, body, "POST")
    assert response.status_code == 400  # authenticated; the body is then refused as not JSON
    assert response.json()["code"] == "VPN.0001"


def test_wrong_secret_key_and_unknown_access_key(emulator) -> None:
    url, headers, body = signed(emulator, "GET", _users_url(emulator), sk="not-the-secret")
    _assert_401(send(url, headers, body))
    url, headers, body = signed(emulator, "GET", _users_url(emulator), ak="HWUNKNOWNAK000000000")
    _assert_401(send(url, headers, body))


def test_stale_and_future_dates(emulator) -> None:
    for delta in (timedelta(minutes=16), -timedelta(minutes=16)):
        date = (datetime.now(UTC) - delta).strftime("%Y%m%dT%H%M%SZ")
        url, headers, body = signed(emulator, "GET", _users_url(emulator), sdk_date=date)
        _assert_401(send(url, headers, body))
    date = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y%m%dT%H%M%SZ")
    url, headers, body = signed(emulator, "GET", _users_url(emulator), sdk_date=date)
    assert send(url, headers, body).status_code == 200


def test_missing_or_malformed_authorization(emulator) -> None:
    url = emulator.url + _users_url(emulator)
    _assert_401(send(url, {}, b""))
    _assert_401(send(url, {"Authorization": "Bearer x"}, b""))
    signed_url, headers, body = signed(emulator, "GET", _users_url(emulator))
    no_date = {k: v for k, v in headers.items() if k != "X-Sdk-Date"}
    _assert_401(send(signed_url, no_date, body))


def test_unknown_project_is_refused(emulator) -> None:
    path = _users_url(emulator).replace(emulator.config.project_id, "f" * 32)
    url, headers, body = signed(emulator, "GET", path, headers={"X-Project-Id": "f" * 32})
    response = send(url, headers, body)
    assert response.status_code == 403
    assert response.json()["error_code"] == "APIGW.0302"


def test_unknown_route_is_apigw_404(emulator) -> None:
    url, headers, body = signed(emulator, "GET", f"/v5/{emulator.config.project_id}/nothing")
    response = send(url, headers, body)
    assert response.status_code == 404
    assert response.json()["error_code"] == "APIGW.0101"
