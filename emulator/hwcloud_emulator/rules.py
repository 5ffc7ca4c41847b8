"""The cloud's input rules (listed in docs/emulator.md), as pure functions.

Each ``check_*`` returns ``None`` when the value is acceptable, else a short reason that the
services put into their error message (or a batch row's ``cause``).
"""

from __future__ import annotations

import ipaddress
import re

VPN_SPECIALS = "`~!@#$%^&*()-_=+\\|[{}];:'\",<.>/? "  # the VPN set includes the space
MQ_SPECIALS = "`~!@#$%^&*()-_=+\\|[{}];:'\",<.>/?"

_GROUP_NAME = re.compile(r"^[\w-]{1,64}$")
_USER_NAME = re.compile(r"^[A-Za-z0-9._-]{4,32}$")
_ACCESS_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{6,63}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# RocketMQ ACL permissions: a topic's or a consumer group's perm, and default_topic_perm.
ACL_PERMS = ("PUB", "SUB", "PUB|SUB", "DENY")
DEFAULT_GROUP_PERMS = ("SUB", "DENY")  # default_group_perm only: narrower than a group's perm


def _classes(value: str, specials: str) -> tuple[int, bool]:
    """(number of character classes used, whether every character is allowed)."""
    upper = lower = digit = special = False
    for ch in value:
        if "A" <= ch <= "Z":
            upper = True
        elif "a" <= ch <= "z":
            lower = True
        elif "0" <= ch <= "9":
            digit = True
        elif ch in specials:
            special = True
        else:
            return 0, False
    return upper + lower + digit + special, True


def check_group_name(name: object) -> str | None:
    if not isinstance(name, str) or not _GROUP_NAME.match(name):
        return "group name must be 1 to 64 letters, digits, underscores or hyphens"
    return None


def check_description(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return "description must be a string"
    if len(value) > 64:
        return "description must be at most 64 characters"
    return None


def check_user_name(name: object) -> str | None:
    if not isinstance(name, str) or not _USER_NAME.match(name):
        return "user name must be 4 to 32 letters, digits, periods, underscores or hyphens"
    return None


def check_vpn_password(password: object, user_name: str) -> str | None:
    if not isinstance(password, str):
        return "password is required"
    if not 8 <= len(password) <= 32:
        return "password length must be 8 to 32 characters"
    classes, allowed = _classes(password, VPN_SPECIALS)
    if not allowed:
        return "password contains a character that is not allowed"
    if classes < 2:
        return (
            "password must contain at least two of: uppercase letters, lowercase letters, "
            "digits, special characters"
        )
    if password == user_name or password == user_name[::-1]:
        return "password must not be the user name or the user name reversed"
    return None


def check_static_ip(value: object, client_cidr: str) -> str | None:
    """``disable`` or a usable host address of the server's client CIDR.

    Not allowed: the network address, the gateway (first host) and the broadcast address.
    """
    if value == "disable":
        return None
    if not isinstance(value, str):
        return "static_ip must be an IPv4 address or 'disable'"
    try:
        ip = ipaddress.IPv4Address(value)
    except ValueError:
        return "static_ip must be an IPv4 address or 'disable'"
    net = ipaddress.IPv4Network(client_cidr)
    if ip not in net:
        return f"static_ip {value} is not in the client CIDR {client_cidr}"
    if ip in (net.network_address, net.network_address + 1, net.broadcast_address):
        return f"static_ip {value} is the network, gateway or broadcast address of {client_cidr}"
    return None


def check_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(_UUID.match(value))


def check_mq_access_key(value: object) -> str | None:
    if not isinstance(value, str) or not _ACCESS_KEY.match(value):
        return (
            "access_key must be 7 to 64 characters, start with a letter and contain only "
            "letters, digits, hyphens and underscores"
        )
    return None


def check_mq_secret_key(value: object, access_key: str) -> str | None:
    if not isinstance(value, str):
        return "secret_key is required"
    if not 8 <= len(value) <= 32:
        return "secret_key length must be 8 to 32 characters"
    classes, allowed = _classes(value, MQ_SPECIALS)
    if not allowed:
        return "secret_key contains a character that is not allowed"
    if classes < 3:
        return (
            "secret_key must contain at least three of: uppercase letters, lowercase letters, "
            "digits, special characters"
        )
    if value == access_key or value == access_key[::-1]:
        return "secret_key must not be the access key or the access key reversed"
    return None


def check_white_remote_address(value: object) -> str | None:
    """Empty, or comma-separated IPv4 addresses / CIDR blocks."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "white_remote_address must be a string"
    for part in value.split(","):
        part = part.strip()
        try:
            ipaddress.IPv4Network(part, strict=False)
        except ValueError:
            return f"white_remote_address entry {part!r} is not an IPv4 address or CIDR block"
    return None


def check_perms(value: object, what: str) -> str | None:
    """A ``topic_perms`` or ``group_perms`` list: ``[{name, perm}]``, names unique."""
    if value is None:
        return None
    if not isinstance(value, list):
        return f"{what} must be a list"
    seen = set()
    for item in value:
        if not isinstance(item, dict) or set(item) - {"name", "perm"}:
            return f"{what} entries must be objects with name and perm"
        name, perm = item.get("name"), item.get("perm")
        if not isinstance(name, str) or not 1 <= len(name) <= 64:
            return f"{what} entry name must be 1 to 64 characters"
        if name in seen:
            return f"{what} names {name!r} twice"
        seen.add(name)
        if perm not in ACL_PERMS:
            return f"{what} perm of {name!r} must be one of {', '.join(ACL_PERMS)}"
    return None
