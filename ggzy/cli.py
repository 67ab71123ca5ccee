"""The ``ggzy`` command: serve a service, run the local platform, export contracts."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

from ggzy.runtime import logs
from ggzy.runtime.service import Parts, Runtime, run
from ggzy.runtime.settings import Settings

SERVICES = {
    "registration": "services.registration.main",
    "bidding": "services.bidding.main",
    "announcement": "services.announcement.main",
    "credit": "services.credit.main",
    "notify": "services.notify.main",
}
ROOT = Path(__file__).resolve().parent.parent


def service_builder(name: str) -> Callable[[Runtime], Parts]:
    """The ``build`` function of a service by name."""
    if name not in SERVICES:
        raise SystemExit(f"ggzy: unknown service {name!r}; known: {', '.join(SERVICES)}")
    module = importlib.import_module(SERVICES[name])
    build: Callable[[Runtime], Parts] = module.build
    return build


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings().for_service(args.service)
    logs.configure(settings.log_level)
    run(settings, service_builder(args.service))
    return 0


def cmd_contracts(args: argparse.Namespace) -> int:
    from contracts import export

    if args.action == "export":
        for path in export.export():
            print(path.relative_to(ROOT))
        return 0
    problems = export.check()
    for problem in problems:
        print(f"breaking: {problem}", file=sys.stderr)
    print("contracts compatible" if not problems else f"{len(problems)} breaking change(s)")
    return 1 if problems else 0


def cmd_dev(args: argparse.Namespace) -> int:
    from ggzy.dev.stack import down, status, up

    if args.action == "up":
        up(ROOT, args.services or list(SERVICES))
    elif args.action == "down":
        down(ROOT)
    else:
        status(ROOT)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ggzy.dev.demo import run

    code: int = asyncio.run(run(ROOT))
    return code


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ggzy`` command."""
    p = argparse.ArgumentParser(prog="ggzy", description="ggzy public resource trading platform")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run one service (settings from GGZY_* variables)")
    s.add_argument("service", choices=sorted(SERVICES))
    s.set_defaults(func=cmd_serve)
    c = sub.add_parser("contracts", help="export the contracts or check compatibility")
    c.add_argument("action", choices=["export", "check"])
    c.set_defaults(func=cmd_contracts)
    d = sub.add_parser("dev", help="the local platform: Kafka, the embedded store, services")
    d.add_argument("action", choices=["up", "down", "status"])
    d.add_argument("services", nargs="*", help="services to start (default: all)")
    d.set_defaults(func=cmd_dev)
    m = sub.add_parser("demo", help="drive a short demo against the running platform")
    m.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ggzy`` command."""
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
