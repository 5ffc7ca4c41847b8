"""Local Huawei Cloud emulator: P2C VPN v5 users/groups, DMS for RocketMQ v2 users, IAM tokens.

It serves the services' API as docs/emulator.md describes it, over plain HTTP on loopback,
so that the official SDKs, the operator's own client, the e2e tests and the benchmark can
run without a cloud account. It shares no code with ``hwcloud_access.cloud``.
"""
