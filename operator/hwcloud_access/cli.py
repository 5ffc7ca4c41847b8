"""`hwcloud-access`: run the operator, print the CRDs, or run the demo."""

from __future__ import annotations

import argparse
import sys


def _crds(args: argparse.Namespace) -> int:
    from . import crds

    for directory in args.write or []:
        for path in crds.write_all(directory):
            print(f"wrote {path}", file=sys.stderr)
    if not args.write:
        sys.stdout.write(crds.render_all())
    return 0


def configure_logging(verbose: bool, log_format: str) -> None:
    """kopf's logging, without HTTP wire logging and with every credential masked.

    httpx and httpcore stay at WARNING even with -v: httpcore logs each request's and
    answer's headers at debug level (the IAM token in X-Subject-Token and X-Auth-Token, the
    AK/SK signature), httpx one line per request. The filter masks what other loggers say.
    kopf's per-object lines ("Handler 'reconcile' succeeded.", two per pass of every
    object) only with -v: without it, that logger says what failed.
    """
    import logging

    import kopf

    from . import logredact

    kopf.configure(verbose=verbose, log_format=kopf.LogFormat[log_format.upper()])
    for name in ("httpx", "httpcore", *(() if verbose else ("kopf.objects",))):
        logging.getLogger(name).setLevel(logging.WARNING)
    logredact.install()


def _run(args: argparse.Namespace) -> int:
    import kopf

    from . import metrics
    from .runtime import operator_settings

    configure_logging(verbose=args.verbose, log_format=args.log_format)  # before anything logs
    try:
        settings = operator_settings(
            namespaces=args.namespace or [], resync_interval=args.resync_interval,
            state_namespace=args.state_namespace,
            default_account_namespaces=args.default_account_namespaces)
    except ValueError as error:
        print(f"hwcloud-access run: {error}", file=sys.stderr)
        return 2
    if args.metrics_port:
        metrics.serve(args.metrics_port)
    from . import handlers, peering  # noqa: F401 - registers the handlers with kopf

    membership = peering.join(args.peering, args.priority, args.namespace or [])
    kopf.run(
        clusterwide=not args.namespace,
        namespaces=args.namespace or [],
        liveness_endpoint=args.liveness,
        **membership.kopf_options,
        memo=kopf.Memo(settings=settings, acting=membership.acting),
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import main as demo_main

    return demo_main(["--keep"] if args.keep else [])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwcloud-access", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    crds_cmd = sub.add_parser("crds", help="print the CRDs generated from the API models")
    crds_cmd.add_argument("--write", type=_path, metavar="DIR", action="append",
                          help="write one file per CRD into DIR instead of printing "
                          "(repeatable)")
    crds_cmd.set_defaults(func=_crds)

    run_cmd = sub.add_parser("run", help="run the operator (kopf underneath)")
    scope = run_cmd.add_mutually_exclusive_group()
    scope.add_argument("-A", "--all-namespaces", action="store_true",
                       help="watch every namespace (the default)")
    scope.add_argument("-n", "--namespace", action="append", metavar="NS",
                       help="watch this namespace (repeatable; kopf globs allowed)")
    run_cmd.add_argument("--liveness", metavar="URL",
                         help="serve kopf's liveness probe, e.g. http://0.0.0.0:8080/healthz")
    run_cmd.add_argument("--metrics-port", type=int, metavar="N",
                         help="serve Prometheus metrics on this port")
    run_cmd.add_argument("--resync-interval", type=float, metavar="SECONDS",
                         help="drift sweep period per VPN server / RocketMQ instance "
                         "(default 300)")
    run_cmd.add_argument("--peering", metavar="NAME",
                         help="kopf peering object for one active replica (default: standalone)")
    run_cmd.add_argument("--priority", type=int, metavar="N",
                         help="kopf peering priority: the highest live one acts, the others "
                         "stand by (default: the earliest started is the highest)")
    run_cmd.add_argument("--state-namespace", metavar="NS",
                         help="namespace of the operator's own Secret (default: "
                         "$HWCLOUD_STATE_NAMESPACE, else $POD_NAMESPACE, else default)")
    run_cmd.add_argument("--default-account-namespaces", type=_allowed_namespaces,
                         metavar="SELECTOR",
                         help="namespaces whose resources may use the default account (HW_*): "
                         "All (the default) or a label selector, e.g. "
                         "'kubernetes.io/metadata.name in (apps,tools)' or 'tenant=platform'")
    run_cmd.add_argument("--log-format", choices=("plain", "full", "json"), default="full")
    run_cmd.add_argument("-v", "--verbose", action="store_true",
                         help="kopf's per-object lines and its debug logging")
    run_cmd.set_defaults(func=_run)

    demo_cmd = sub.add_parser("demo", help="run the whole product locally (make demo)")
    demo_cmd.add_argument("--keep", action="store_true", help="keep everything running")
    demo_cmd.set_defaults(func=_demo)
    return parser


def _allowed_namespaces(value: str) -> str:
    from .reconcile.tenancy import parse_allowed_namespaces

    try:
        parse_allowed_namespaces(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def _path(value: str):
    from pathlib import Path

    return Path(value)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
