"""The log filter: every credential-like name in every form, through real log records."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import kopf
import pytest

from hwcloud_access import logredact
from hwcloud_access.cli import configure_logging
from hwcloud_access.logredact import MASK, RedactingFilter, redact

SECRET = "S3cr3t+Value/xyz="  # base64-like: /, + and = must not end a value early

NAMES = [
    "X-Auth-Token",
    "X-Subject-Token",
    "X-Security-Token",
    "Authorization",
    "password",
    "new_password",
    "old_password",
    "secret_key",
    "secretKey",
    "sk",
    "token",
    "iamPassword",
    "HW_SECRET_KEY",
    "signature",
]

FORMS = {
    "header": lambda name: f"{name}: {SECRET}",
    "keyword": lambda name: f"Account({name}={SECRET!r}, region='cn-north-4')",
    "bare keyword": lambda name: f"{name}={SECRET} limit=10",
    "query": lambda name: f"GET /v3/x?{name}={SECRET}&limit=10",
    "json": lambda name: json.dumps({name: SECRET, "other": "kept"}),
    "repr": lambda name: repr({name: SECRET, "other": "kept"}),
    "bytes repr": lambda name: repr({name.encode(): SECRET.encode(), b"other": b"kept"}),
    "header tuples": lambda name: repr([(b"Host", b"kept"), (name.encode(), SECRET.encode())]),
    "json in json": lambda name: json.dumps({"body": json.dumps({name: SECRET}),
                                             "other": "kept"}),
    "json in repr": lambda name: repr({"body": json.dumps({name: SECRET}),
                                       "other": "kept"}),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", NAMES)
def test_every_name_in_every_form(name: str, form: str) -> None:
    text = FORMS[form](name)
    assert SECRET in text
    out = redact(text)
    assert "S3cr3t" not in out and "xyz" not in out, out
    assert name in out and MASK in out
    if "other" in text:
        assert "kept" in out


def test_the_mask_keeps_the_quotes() -> None:
    assert redact("{'password': 'x'}") == "{'password': '***'}"
    assert redact('{"password": "x"}') == '{"password": "***"}'
    assert redact("[(b'X-Subject-Token', b'MIIEabc')]") == "[(b'X-Subject-Token', b'***')]"
    assert redact("X-Auth-Token: MIIEabc") == "X-Auth-Token: ***"


def test_quotes_and_escapes_inside_a_value() -> None:
    for value in ["it's", 'say "hi"', "back\\slash", "both ' and \""]:
        text = repr({"password": value + "S3cr3t", "user": "kept"})
        assert "S3cr3t" not in redact(text) and "kept" in redact(text), text


def test_authorization_schemes() -> None:
    assert "abc.def" not in redact("Authorization: Bearer abc.def")
    signed = ("Authorization: SDK-HMAC-SHA256 Access=HWAK1, SignedHeaders=host;x-sdk-date, "
              "Signature=0f1e2d3c")
    assert "0f1e2d3c" not in redact(signed)


def test_mappings_of_secrets() -> None:
    body = {"auth": {"identity": {"methods": ["hw_ak_sk"], "hw_ak_sk": {
        "access": {"key": "HWAK1"}, "secret": {"key": SECRET}}}}}
    for text in (json.dumps(body), repr(body)):
        out = redact(text)
        assert SECRET not in out and "HWAK1" in out and "hw_ak_sk" in out
    k8s_secret = {"kind": "Secret", "metadata": {"name": "bob-pw"},
                  "data": {"pw": "c2VjcmV0", "user": "Ym9i"}, "stringData": {"pw": SECRET}}
    out = redact(repr(k8s_secret))
    assert "c2VjcmV0" not in out and "Ym9i" not in out and SECRET not in out
    assert "'pw'" in out and "bob-pw" in out


@pytest.mark.parametrize("text", [
    "{'credentialsSecret': 'alice-vpn-credentials', 'id': 'u1'}",
    "{'passwordSecretRef': {'name': 'bob-pw', 'key': 'password'}}",
    "{'secretKeySecretRef': {'name': 'mq-key', 'key': 'secretKey'}}",
    '{"password_set": true, "password_version": 2, "access_key": "svc_orders"}',
    "disk=5 task=3 ask: yes",
    "IAM token fetched for user operator (valid 86400 s)",
    "credentials found in Secret ns/iam",
])
def test_what_is_not_a_credential_stays(text: str) -> None:
    assert redact(text) == text


@pytest.fixture
def caught() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger with a handler writing to a buffer, the filter installed on the handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    parent = logging.getLogger("logredact-test")
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    logredact.install(parent)
    yield parent, stream
    parent.removeHandler(handler)


def test_arguments_are_formatted_then_masked(caught) -> None:
    logger, stream = caught
    logger.debug("body: %s", {"password": SECRET})
    logger.debug("password=%s for %s", SECRET, "alice")
    logger.debug("response headers %r", [(b"X-Subject-Token", SECRET.encode())])
    logger.debug("reset %(user)s with new_password=%(pw)s", {"user": "alice", "pw": SECRET})
    logger.debug(f"Merge-patching the resource with: {{'token': {SECRET!r}}}")
    out = stream.getvalue()
    assert SECRET not in out and out.count(MASK) == 5, out
    assert "alice" in out


def test_any_logger_below_the_handler(caught) -> None:
    _, stream = caught
    logging.getLogger("logredact-test.kopf.objects").debug("X-Auth-Token: %s", SECRET)
    assert SECRET not in stream.getvalue() and "X-Auth-Token: ***" in stream.getvalue()


def test_tracebacks_stack_and_extra_attributes(caught) -> None:
    logger, stream = caught
    handler = logger.handlers[-1]
    handler.setFormatter(logging.Formatter("%(message)s %(password)s"))
    try:
        raise RuntimeError(f"IAM answered {{'password': '{SECRET}'}}")
    except RuntimeError:
        logger.exception("call failed", extra={"password": SECRET})
    logger.debug("where: secret_key=%s", SECRET, stack_info=True, extra={"password": "x"})
    out = stream.getvalue()
    assert SECRET not in out, out
    assert "RuntimeError: IAM answered {'password': '***'}" in out
    assert "Stack (most recent call last)" in out


def test_the_json_format_gets_the_masked_traceback(caught) -> None:
    logger, stream = caught
    logger.handlers[-1].setFormatter(kopf._core.actions.loggers.make_formatter(
        kopf.LogFormat.JSON))
    try:
        raise ValueError(f"token={SECRET}")
    except ValueError:
        logger.exception("failed")
    line = json.loads(stream.getvalue())
    assert "ValueError: token=***" in line["exc_info"]
    assert SECRET not in stream.getvalue()


def test_arguments_that_do_not_fit_the_message_are_not_shown(caught) -> None:
    logger, stream = caught
    logger.debug("password=%s %s", SECRET)
    out = stream.getvalue()
    assert SECRET not in out and "(1 argument(s) that do not fit it)" in out
    assert "--- Logging error ---" not in out


def test_install_is_idempotent() -> None:
    logger = logging.getLogger("logredact-test-idempotent")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        logredact.install(logger)
        logredact.install(logger)
        assert [type(f) for f in handler.filters] == [RedactingFilter]
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def root_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "asyncio")},
             logging.getLogger("asyncio").handlers[:], logging.getLogger("asyncio").propagate)
    yield
    handlers, level, levels, asyncio_handlers, asyncio_propagate = saved
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)
    logging.getLogger("asyncio").handlers[:] = asyncio_handlers
    logging.getLogger("asyncio").propagate = asyncio_propagate


def test_run_at_verbose_has_no_wire_logging_and_masks(root_logging, capsys) -> None:
    configure_logging(verbose=True, log_format="plain")
    assert logging.getLogger().level == logging.DEBUG
    assert all(any(isinstance(f, RedactingFilter) for f in h.filters)
               for h in logging.getLogger().handlers)
    logging.getLogger("httpcore.http11").debug(
        "receive_response_headers.complete return_value=%r",
        (b"HTTP/1.1", 201, b"Created", [(b"X-Subject-Token", SECRET.encode())]))
    logging.getLogger("httpx").info("HTTP Request: POST http://iam/v3/auth/tokens")
    logging.getLogger("kopf.objects").debug("Creation is in progress: %r",
                                            {"spec": {"password": SECRET}})
    err = capsys.readouterr().err
    assert "receive_response_headers" not in err and "HTTP Request" not in err
    assert "Creation is in progress: {'spec': {'password': '***'}}" in err
    assert SECRET not in err
