"""Command line: ``hwcloud-emulator [options]`` or ``python -m hwcloud_emulator``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from hwcloud_emulator.config import ConfigError, dump_yaml, load_config
from hwcloud_emulator.core import Emulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8930


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwcloud-emulator",
        description=(
            "Local Huawei Cloud emulator (P2C VPN v5 users/groups, DMS for RocketMQ v2 users, "
            "IAM tokens) on plain HTTP. See docs/emulator.md."
        ),
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to bind, 0 = any (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="YAML config file (any subset of the keys)"
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective config as YAML and exit (secrets masked)",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="with --print-config: print secret keys and passwords unmasked",
    )
    parser.add_argument("--state-file", metavar="FILE", help="state file (overrides the config)")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the fault injection's random numbers"
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        if args.state_file:
            config = config.model_copy(update={"state_file": args.state_file})
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        sys.stdout.write(dump_yaml(config, show_secrets=args.show_secrets))
        return 0
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from hwcloud_emulator.persistence import StateFileError
    from hwcloud_emulator.server import serve

    emulator = Emulator(config, seed=args.seed)
    try:
        asyncio.run(serve(emulator, args.host, args.port, config.state_file))
    except StateFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
