"""The SDK-HMAC-SHA256 signer: the published test vector, and equality with the
official SDK's Signer on generated requests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwcloud_access.cloud import signer
from hwcloud_access.cloud.auth import sign_request

VECTOR_SK = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
VECTOR_PATH = "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
VECTOR_QUERY = [("limit", "2"), ("marker", "13551d6b-755d-4757-b956-536f674975c0")]
VECTOR_HEADERS = {
    "Content-Type": "application/json",
    "Host": "service.region.example.com",
    "X-Sdk-Date": "20191115T033655Z",
}


def test_published_vector_canonical_request_and_signature():
    signed = signer.sign(
        method="GET", path=VECTOR_PATH, query=VECTOR_QUERY, headers=VECTOR_HEADERS, body=b"",
        access_key="AK", secret_key=VECTOR_SK,
    )
    assert signed.signed_headers == ["content-type", "host", "x-sdk-date"]
    digest = hashlib.sha256(signed.canonical_request.encode()).hexdigest()
    assert digest == "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    assert signed.signature == "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    assert signed.authorization == (
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


def test_published_vector_through_httpx_request():
    request = httpx.Request(
        "GET", "https://service.region.example.com" + VECTOR_PATH,
        params=VECTOR_QUERY, headers={"Content-Type": "application/json"},
    )
    # only the three headers of the vector are signed; others are left out
    moment = datetime(2019, 11, 15, 3, 36, 55, tzinfo=UTC)
    signed = sign_request(request, access_key="AK", secret_key=VECTOR_SK, moment=moment)
    assert signed.signature == "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    assert request.headers["X-Sdk-Date"] == "20191115T033655Z"
    assert request.headers["Authorization"].endswith(signed.signature)


def test_canonical_uri_always_ends_with_slash_and_encodes_segments():
    assert signer.canonical_uri("/v5/p/users") == "/v5/p/users/"
    assert signer.canonical_uri("/v5/p/users/") == "/v5/p/users/"
    assert signer.canonical_uri("/a%20b/c d/é") == "/a%20b/c%20d/%C3%A9/"
    assert signer.canonical_uri("") == "/"


def test_canonical_query_sorted_and_encoded():
    assert signer.canonical_query([("b", "2"), ("a", "x y"), ("a", "1")]) == "a=1&a=x%20y&b=2"
    assert signer.canonical_query([]) == ""


def test_non_json_body_is_unsigned_payload():
    def signed(content_type: str) -> tuple[httpx.Request, signer.Signed]:
        request = httpx.Request("POST", "http://h/", content=b"body",
                                headers={"Content-Type": content_type})
        return request, sign_request(request, access_key="AK", secret_key="SK",
                                     moment=datetime(2020, 1, 1, tzinfo=UTC))

    request, text = signed("text/plain")
    assert request.headers["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"
    assert text.canonical_request.endswith("\nUNSIGNED-PAYLOAD")
    request, json = signed("application/json;charset=UTF-8")
    assert "X-Sdk-Content-Sha256" not in request.headers
    assert json.canonical_request.endswith("\n" + hashlib.sha256(b"body").hexdigest())


def with_payload_marker(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus the unsigned-payload marker where the SDK's signer adds it."""
    if signer.needs_unsigned_payload(headers):
        return {**headers, signer.HEADER_CONTENT_SHA256: signer.UNSIGNED_PAYLOAD}
    return headers


def test_sign_request_rewrites_query_canonically_and_keeps_secrets_out():
    request = httpx.Request("GET", "http://127.0.0.1:9999/v5/p/x",
                            params=[("b", "1"), ("a", "é z")])
    sign_request(request, access_key="AK", secret_key="SECRET-SK", project_id="proj",
                 moment=datetime(2020, 1, 1, tzinfo=UTC))
    assert request.url.query == b"a=%C3%A9%20z&b=1"
    assert request.headers["X-Project-Id"] == "proj"
    assert "x-project-id" in request.headers["Authorization"]
    assert "SECRET-SK" not in request.headers["Authorization"]


# ---- property: our Authorization == the official SDK's ------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
_segment = st.one_of(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789-_.~", min_size=1, max_size=10),
    _text.filter(lambda s: s not in ("", ".", "..")),
)
_header_name = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12
).map(lambda s: "X-" + s)
_header_value = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20
) | st.text(alphabet=" \tabcéü€日本", max_size=8)
_dates = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))


@st.composite
def requests(draw):
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]))
    segments = draw(st.lists(_segment, min_size=0, max_size=5))
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    if draw(st.booleans()):
        path += "/"
    keys = draw(st.lists(_text.filter(bool), max_size=3))
    query = [(k, v) for k in keys for v in draw(st.lists(_text, min_size=1, max_size=2))]
    names = draw(st.lists(_header_name, max_size=4, unique_by=str.lower))
    headers = {name: draw(_header_value) for name in names}
    headers["Host"] = draw(st.sampled_from(["vpn.cn-north-4.myhuaweicloud.com",
                                            "127.0.0.1:8443", "h"]))
    headers["X-Sdk-Date"] = draw(_dates).strftime("%Y%m%dT%H%M%SZ")
    if draw(st.booleans()):
        headers["X-Project-Id"] = draw(st.text(alphabet="0123456789abcdef", min_size=32,
                                                max_size=32))
    body = b""
    content_type = draw(st.sampled_from([None, "application/json", "application/json;charset=UTF-8",
                                         "text/plain", "application/octet-stream"]))
    if content_type:
        headers["Content-Type"] = content_type
        body = draw(st.one_of(st.just(b""), _text.map(str.encode), st.binary(max_size=40)))
    return method, path, query, headers, body


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=4,
                           max_size=20), st.text(min_size=1, max_size=40))
def test_authorization_equals_official_sdk_signer(req, ak, sk):
    method, path, query, headers, body = req
    sdk_request = SdkRequest(
        method=method, schema="https", host=headers["Host"], resource_path=path,
        query_params=list(query), header_params=dict(headers), body=body,
    )
    Signer(BasicCredentials(ak=ak, sk=sk)).sign(sdk_request)
    expected = sdk_request.header_params["Authorization"]

    ours = signer.sign(
        method=method, path=path, query=query, headers=with_payload_marker(headers),
        body=body, access_key=ak, secret_key=sk,
    )
    assert ours.authorization == expected
    # and the query the SDK sends is the canonical one we send
    sent_query = sdk_request.uri.partition("?")[2]
    assert sent_query == signer.canonical_query(query)


@pytest.mark.parametrize("path", ["/v5/p/a b/ü", "/v5/p/%2F/x", "/", "/v2/p/instances/i/users/"])
def test_paths_that_need_encoding_match_sdk(path):
    headers = {"Host": "h", "X-Sdk-Date": "20240101T000000Z"}
    sdk_request = SdkRequest(method="GET", schema="https", host="h", resource_path=path,
                             query_params=[], header_params=dict(headers), body="")
    Signer(BasicCredentials(ak="AK", sk="SK")).sign(sdk_request)
    ours = signer.sign(method="GET", path=path, query=[], headers=headers, body=b"",
                       access_key="AK", secret_key="SK")
    assert ours.authorization == sdk_request.header_params["Authorization"]
