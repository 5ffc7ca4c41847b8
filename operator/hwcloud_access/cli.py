"""`hwcloud-access`: run the operator, the emulator, print the CRDs, or run the demo."""

from __future__ import annotations

import argparse
import sys


def _crds(args: argparse.Namespace) -> int:
    from . import crds

    if args.write:
        for path in crds.write_all(args.write):
            print(f"wrote {path}", file=sys.stderr)
    else:
        sys.stdout.write(crds.render_all())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import main as demo_main

    return demo_main([])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwcloud-access", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    crds_cmd = sub.add_parser("crds", help="print the CRDs generated from the API models")
    crds_cmd.add_argument("--write", type=_path, metavar="DIR",
                          help="write one file per CRD into DIR instead of printing")
    crds_cmd.set_defaults(func=_crds)

    demo_cmd = sub.add_parser("demo", help="run the whole product locally (make demo)")
    demo_cmd.set_defaults(func=_demo)

    sub.add_parser("emulator", help="run the local Huawei Cloud emulator (see --help)",
                   add_help=False)
    return parser


def _path(value: str):
    from pathlib import Path

    return Path(value)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["emulator"]:
        from .emulator.main import main as emulator_main

        return emulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
