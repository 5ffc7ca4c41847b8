"""The one error table: codes and statuses to typed, retryable or terminal errors."""

from __future__ import annotations

import json

import httpx
import pytest

from hwcloud_access.cloud import errors as e


def body(**fields):
    return json.dumps(fields).encode()


@pytest.mark.parametrize(
    ("status", "payload", "cls", "retryable", "congestion"),
    [
        (400, body(code="VPN.0001", message="invalid"), e.InvalidRequestError, False, False),
        (500, body(code="VPN.0002", message="oops"), e.ServerError, True, False),
        (403, body(code="VPN.0003", message="denied"), e.AccessDeniedError, False, False),
        (404, body(code="VPN.0004", message="nope"), e.NotFoundError, False, False),
        (400, body(code="VPN.0030", message="The system is busy, please try later."),
         e.BusyError, True, True),
        (400, body(code="VPN.0031", message="repeated"), e.BusyError, True, False),
        (404, body(error_code="DMS.00404022", error_msg="instance"), e.InstanceNotFoundError,
         False, False),
        (400, body(error_code="DMS.00400026", error_msg="status"), e.BusyError, True, True),
        (400, body(error_code="DMS.00500972", error_msg="user"), e.NotFoundError, False, False),
        (401, body(error_code="APIGW.0301", error_msg="Incorrect IAM authentication"),
         e.AuthError, False, False),
        (401, body(error_code="APIGW.0101", error_msg="other"), e.AuthError, False, False),
        (429, body(error_code="APIGW.0308", error_msg="throttled"), e.ThrottledError, True, True),
        (429, b"", e.ThrottledError, True, True),
        (503, body(error_code="APIGW.0202", error_msg="backend unavailable"),
         e.ServerError, True, False),
        (502, body(error_code="APIGW.0201", error_msg="bad gateway"), e.ServerError, True,
         False),
        (403, body(error_code="APIGW.0302", error_msg="not authorized"), e.AccessDeniedError,
         False, False),
        (404, body(error_code="APIGW.0101", error_msg="no such API"), e.InvalidRequestError,
         False, False),
        (401, body(error_code="APIGW.0307", error_msg="token must be updated"), e.AuthError,
         False, False),
        (400, body(error_code="DMS.00400973", error_msg="The user already exists: x"),
         e.ConflictError, False, False),
        (500, body(error_code="DMS.00500000", error_msg="internal"), e.ServerError, True,
         False),
        (502, b"<html>bad gateway</html>", e.ServerError, True, False),
        (503, body(code="X.1", message="x"), e.ServerError, True, False),
        (403, b"forbidden", e.AccessDeniedError, False, False),
        # a 404 without the service's not-found code is no proof of absence
        (404, b"", e.InvalidRequestError, False, False),
        (404, b"<html>Not Found</html>", e.InvalidRequestError, False, False),
        (400, body(code="VPN.0001", message="the new password must differ from the last 5 "
                   "passwords"), e.PasswordReusedError, False, False),
        (409, body(code="X", message="conflict"), e.ConflictError, False, False),
        (418, b"teapot", e.InvalidRequestError, False, False),
        (400, body(code="VPN.0001", message="The user name already exists."),
         e.ConflictError, False, False),
        (400, body(code="VPN.0001", message="Quota exceeded for users"),
         e.QuotaExceededError, False, False),
        (400, body(errorCode="DMS.00400026", errorMsg="camel"), e.BusyError, True, True),
        (401, body(error={"code": 401, "message": "The request you have made requires "
                                                  "authentication.", "title": "Unauthorized"}),
         e.AuthError, False, False),
    ],
)
def test_table(status, payload, cls, retryable, congestion):
    err = e.classify(status, payload, operation="op")
    assert type(err) is cls
    assert err.retryable is retryable
    assert err.congestion is congestion
    assert err.status == status
    assert err.operation == "op"


def test_busy_message_and_code_are_kept():
    err = e.classify(400, body(code="VPN.0030", message="The system is busy, please try later."))
    assert err.code == "VPN.0030"
    assert err.message == "The system is busy, please try later."
    assert "VPN.0030" in str(err) and "HTTP 400" in str(err)


def test_parse_error_body_shapes():
    assert e.parse_error_body(body(code="VPN.0004", message="m")) == ("VPN.0004", "m")
    assert e.parse_error_body(body(error_code="DMS.1", error_msg="m")) == ("DMS.1", "m")
    assert e.parse_error_body(body(errorCode="C", errorMsg="m")) == ("C", "m")
    assert e.parse_error_body(body(error={"code": "C", "message": "m"})) == ("C", "m")
    assert e.parse_error_body(b"not json") == (None, "not json")
    assert e.parse_error_body(b"[1]") == (None, "[1]")
    assert e.parse_error_body(None) == (None, "")


def test_retry_after_header_is_read_for_retryable_only():
    throttled = e.classify(429, b"", headers=httpx.Headers({"Retry-After": "2"}))
    assert throttled.retry_after == 2.0
    denied = e.classify(403, b"", headers=httpx.Headers({"Retry-After": "2"}))
    assert denied.retry_after is None


def test_request_id_and_long_messages():
    err = e.classify(500, body(code="VPN.0002", message="x" * 5000),
                     headers=httpx.Headers({"X-Request-Id": "rid"}))
    assert err.request_id == "rid"
    assert len(err.message) <= 500


def test_transport_error_is_retryable_and_says_it_may_have_been_applied():
    err = e.transport_error(httpx.ReadTimeout("timed out"), operation="vpn.create_user")
    assert isinstance(err, e.TransportError)
    assert err.retryable
    assert "may have been applied" in str(err)


def test_subclass_relations_callers_rely_on():
    assert issubclass(e.ThrottledError, e.BusyError)
    # no request was sent: not the cloud's busy answer, but the caller may requeue
    assert not issubclass(e.LimiterTimeoutError, e.BusyError)
    # a conflict is the cloud's state, not a bad request (an update's is retried)
    assert not issubclass(e.ConflictError, e.InvalidRequestError)
    assert e.AlreadyExistsError is e.ConflictError
    assert not issubclass(e.InstanceNotFoundError, e.NotFoundError)
    for cls in (e.NotFoundError, e.InvalidRequestError, e.AccessDeniedError, e.AuthError,
                e.QuotaExceededError, e.InstanceNotFoundError, e.ConflictError):
        assert cls("x").retryable is False
    for cls in (e.BusyError, e.ThrottledError, e.ServerError, e.TransportError,
                e.LimiterTimeoutError):
        assert cls("x").retryable is True
