"""No credential in any log line, at any level, whatever logger emits it.

``install()`` puts a ``RedactingFilter`` on every handler of the root logger (``hwcloud-access
run`` does, after kopf configured logging). A handler's filter sees every record that reaches
it, from any logger: the operator's own, kopf's (which logs object bodies and patches at
debug level), the kubernetes client's, httpx/httpcore's. The filter formats the record's
message with its arguments and masks the value of every credential-like name in it:

- names: the HTTP headers ``X-Auth-Token``, ``X-Subject-Token``, ``X-Security-Token`` and
  ``Authorization``; any field or header name ending in ``password``, ``passwd``, ``token``,
  ``secret_key``/``secretKey``/``secret-key``, ``authorization`` or ``signature``
  (``new_password``, ``iamPassword``, ``HW_SECRET_KEY`` ...); ``sk`` and ``secret`` as whole
  names;
- forms: ``name: value`` and ``name=value`` (headers, query strings, keyword arguments),
  JSON ``"name": "value"``, Python reprs ``'name': 'value'`` and ``(b'name', b'value')`` (the
  header lists httpcore logs), JSON inside a repr (``\\"name\\": \\"value\\"``);
- mappings held by ``secret``, ``data`` or ``stringData`` (IAM's ``"secret": {"key": ...}``, a
  Kubernetes Secret's content): every value in them.

Traceback text and extra record attributes with a credential-like name are masked too. The
masked value keeps its quotes: ``'password': '***'``. A value that is not next to its name
cannot be recognised; the code never logs one.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# The end of a name whose value is a credential: a name ending in one of these suffixes,
# "sk" as a whole word (hw_sk, not disk) or "secret" alone (not credentialsSecret, which names
# a Secret). Matching from the end keeps the scan cheap: no match starts inside a word.
_SUFFIX = r"(?:password|passwd|token|secret[_-]?key|authorization|signature)(?![\w-])"
_WORD = r"(?:(?<![\w-])|(?<=[_-]))sk(?![\w-])|(?<![\w-])secret(?![\w-])"
_NAME_END = rf"(?:{_SUFFIX}|{_WORD})"
_CONTAINER = r"(?<![\w-])(?:secret|data|stringdata)(?![\w-])"
_CLOSING_QUOTE = r"(?:\\?[\"'])?"
_VALUE = (
    r"b?'(?:[^'\\]|\\.)*'"  # 'value', b'value'
    r'|b?"(?:[^"\\]|\\.)*"'  # "value", b"value"
    r'|\\"(?:[^"\\]|\\[^"])*\\"'  # \"value\" (JSON inside a repr)
    r"|(?:(?:bearer|basic|token|sdk-hmac-sha256)\s+)?[^\s,;&'\"(){}\[\]<>]+"  # bare
)

# name: value, name=value, "name": "value", 'name': 'value', \"name\": \"value\"
_PAIR = re.compile(
    rf"(?P<key>{_NAME_END}{_CLOSING_QUOTE})(?P<sep>\s*[:=]\s*)(?P<value>{_VALUE})",
    re.IGNORECASE,
)
# (b'name', b'value'): the header lists httpcore logs
_TUPLE = re.compile(
    rf"(?P<key>\(\s*b?(?P<q>[\"'])[\w-]*?{_NAME_END}(?P=q))(?P<sep>\s*,\s*)(?P<value>{_VALUE})",
    re.IGNORECASE,
)
# secret: {...}, 'data': {...}: every value of the (flat) mapping
_MAPPING = re.compile(
    rf"(?P<key>{_CONTAINER}{_CLOSING_QUOTE})(?P<sep>\s*[:=]\s*)(?P<value>\{{[^{{}}]*\}})",
    re.IGNORECASE,
)
_MAPPING_ITEM = re.compile(
    rf"(?P<key>b?\\?[\"'][^\"'\\]*\\?[\"'])(?P<sep>\s*:\s*)(?P<value>{_VALUE})"
)
_NAME_ONLY = re.compile(rf"[\w-]*?{_NAME_END}", re.IGNORECASE)
_OPENING_QUOTE = re.compile(r"b?\\?[\"']")

# The attributes every LogRecord has; anything else came in through ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _masked(value: str) -> str:
    quote = _OPENING_QUOTE.match(value)
    if quote is None:
        return MASK
    opening = quote.group()
    return f"{opening}{MASK}{opening.lstrip('b')}"


def _mask_value(match: re.Match[str]) -> str:
    return f"{match['key']}{match['sep']}{_masked(match['value'])}"


def _mask_mapping(match: re.Match[str]) -> str:
    return f"{match['key']}{match['sep']}{_MAPPING_ITEM.sub(_mask_value, match['value'])}"


def redact(text: str) -> str:
    """``text`` with the value of every credential-like name masked."""
    text = _MAPPING.sub(_mask_mapping, text)
    text = _TUPLE.sub(_mask_value, text)
    return _PAIR.sub(_mask_value, text)


class RedactingFilter(logging.Filter):
    """Masks credentials in a record's message, arguments, traceback and extra attributes.

    The message is formatted with its arguments first (a name in the message and its value
    in the arguments are then seen together), so the record leaves with ``args == ()``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - the handler would print msg and args as they are
            message = f"{record.msg} ({len(record.args or ())} argument(s) that do not fit it)"
        record.msg, record.args = redact(message), ()
        if record.exc_info:
            # Formatters render exc_text when there is no exc_info (the JSON one too).
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = text, None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name in set(vars(record)) - _RECORD_ATTRIBUTES:
            if _NAME_ONLY.fullmatch(name):
                setattr(record, name, MASK)
        return True


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Put one RedactingFilter on every handler of ``logger`` (the root logger by default)."""
    target = logger or logging.getLogger()
    redacting = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
    return redacting
