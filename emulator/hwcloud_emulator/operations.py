"""Names of the emulated operations and the service each belongs to.

The names key the call statistics (``GET /_emulator/stats``) and the fault settings
``drop_operations`` and ``deny_operations``; the router registers each route under one of them.
"""

from __future__ import annotations

VPN = "vpn"
DMS = "dms"
IAM = "iam"

OPERATIONS: dict[str, str] = {
    # VPN servers
    "list_vpn_servers": VPN,
    "show_vpn_server": VPN,
    # VPN user groups
    "create_group": VPN,
    "list_groups": VPN,
    "show_group": VPN,
    "update_group": VPN,
    "delete_group": VPN,
    "list_group_users": VPN,
    "add_group_users": VPN,
    "remove_group_users": VPN,
    # VPN users
    "create_user": VPN,
    "list_users": VPN,
    "show_user": VPN,
    "update_user": VPN,
    "delete_user": VPN,
    "batch_create_users": VPN,
    "batch_delete_users": VPN,
    "reset_password": VPN,
    "change_password": VPN,
    # DMS for RocketMQ users
    "create_mq_user": DMS,
    "list_mq_users": DMS,
    "show_mq_user": DMS,
    "update_mq_user": DMS,
    "delete_mq_user": DMS,
    # IAM
    "issue_token": IAM,
    "list_auth_projects": IAM,
}

# Calls that change state (subject to busy_rate and, if listed, to drops).
WRITE_OPERATIONS = frozenset(
    {
        "create_group",
        "update_group",
        "delete_group",
        "add_group_users",
        "remove_group_users",
        "create_user",
        "update_user",
        "delete_user",
        "batch_create_users",
        "batch_delete_users",
        "reset_password",
        "change_password",
        "create_mq_user",
        "update_mq_user",
        "delete_mq_user",
    }
)

# Calls an IAM policy can deny: every VPN and DMS call (token issue authenticates the caller,
# and the caller's own projects are its to see: neither is subject to policies).
POLICY_OPERATIONS = frozenset(op for op, service in OPERATIONS.items() if service != IAM)

UNKNOWN = "unknown"  # a request that matched no route


def service_of(operation: str) -> str:
    """The service an operation belongs to (``vpn`` for unknown routes under /v5, etc.)."""
    return OPERATIONS.get(operation, VPN)
