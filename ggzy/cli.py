"""The ``ggzy`` command: serve a service, run the local platform, export contracts,
verify audit trails, list and replay dead letters."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ggzy.runtime import logs
from ggzy.runtime.service import Parts, Runtime, run
from ggzy.runtime.settings import DEFAULT_PORTS, Settings

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


def _get_json(url: str, token: str) -> tuple[dict[str, Any] | None, str]:
    """GET ``url`` with the bearer ``token``: the JSON body, or None and why not."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}
                                     if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return dict(json.load(resp)), ""
    except urllib.error.HTTPError as exc:
        error = json.loads(exc.read() or b"{}").get("error", {})
        return None, (f"{url}: HTTP {exc.code} {error.get('code', '')}: "
                      f"{error.get('message', exc.reason)}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"{url}: {exc}"


def cmd_audit(args: argparse.Namespace) -> int:
    """Fetch a tender's or a sale's audit trail and re-compute its chain here, trusting
    nothing the service says about it; with --head, the chain must still contain a head
    saved earlier (a rewritten history fails even if re-hashed throughout). For a tender,
    each section's bid operations are then checked here against the root its close wrote
    into the chain (20号令)."""
    import os

    from services.bidding.domain import audit

    kind = "tenders" if args.kind == "tender" else "auctions"
    base = f"{args.url.rstrip('/')}/v1/{kind}/{args.id}"
    token = args.token or os.environ.get("GGZY_TOKEN", "")
    body, why = _get_json(base + "/audit", token)
    if body is None:
        print(f"ggzy audit: {why}", file=sys.stderr)
        return 2
    entries = body.get("entries") or []
    head = entries[-1]["hash"] if entries else audit.GENESIS
    print(f"{args.kind} {args.id}: {len(entries)} entries, head {head}")
    broken = audit.verify(entries)
    if broken is not None:
        print(f"BROKEN at entry {broken}: it does not follow from the entries before it")
        return 1
    if args.head and args.head not in {e.get("hash") for e in entries}:
        print(f"BROKEN: the head saved earlier ({args.head}) is no longer in the chain")
        return 1
    if body.get("broken_at") is not None:
        print(f"the service reports the chain broken at {body['broken_at']}; it verifies here")
        return 1
    print("intact: every entry follows from the one before it"
          + (", and the chain extends the saved head" if args.head else ""))
    closes = [e for e in entries if e.get("action") == "close"] if kind == "tenders" else []
    for code, sealed in sorted(((closes[0].get("data") or {}).get("sealed") or {}).items()
                               if closes else []):
        if "operations" not in sealed:
            continue  # closed before bids' operations were chained
        ops, why = _get_json(f"{base}/sections/{code}/operations", token)
        if ops is None:
            print(f"ggzy audit: {why}", file=sys.stderr)
            return 2
        bids = [{**b, "_id": b["bid_id"], "ops": b["operations"]} for b in ops.get("bids") or []]
        report = audit.operations_report(bids, sealed["operations"], ops.get("leaves"))
        total = sum(len(b["operations"]) for b in report["bids"])
        if not report["matches"]:
            bad = [b["bid_id"] for b in report["bids"]
                   if not (b["intact"] and b["explained"])]
            print(f"BROKEN: section {code}'s bid operations do not match the close's root "
                  f"(leaves match root: {report['leaves_match_root']}, unaccounted leaves: "
                  f"{report['unaccounted_leaves']}, bids: {bad})")
            return 1
        print(f"section {code}: {len(bids)} bids, {total} operations, as the close fixed them")
    return 0


def cmd_deadletters(args: argparse.Namespace) -> int:
    """List a consumer group's dead letters, or replay them to its retry topic."""
    from aiokafka.errors import KafkaError

    from ggzy.runtime import deadletters

    settings = Settings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    prefix = settings.topic_prefix if args.prefix is None else args.prefix
    try:
        found = asyncio.run(deadletters.letters(bootstrap, args.group, prefix))
        if args.action == "list":
            print("\n".join(deadletters.describe(found)))
            return 0
        if not (args.offset or args.reason or args.all):
            print("ggzy deadletters replay: name what to replay: --offset P:O (repeatable), "
                  "--reason CODE or --all", file=sys.stderr)
            return 2
        chosen = deadletters.select(found, refs=args.offset, reason=args.reason,
                                    again=args.again)
        sent = asyncio.run(deadletters.replay(bootstrap, found, chosen))
    except (ValueError, OSError, TimeoutError) as exc:
        print(f"ggzy deadletters: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(f"ggzy deadletters: {bootstrap}: {exc}", file=sys.stderr)
        return 2
    print(f"replayed {sent} dead letter(s) to {found.retry}"
          + ("" if sent or args.again else " (those replayed before need --again)"))
    return 0


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
    a = sub.add_parser("audit", help="verify a tender's or a sale's audit trail end to end")
    a.add_argument("action", choices=["verify"])
    a.add_argument("kind", choices=["tender", "auction"])
    a.add_argument("id", help="the tender project code or the sale's id")
    a.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_PORTS['bidding']}",
                   help="bidding's base URL "
                   "(default: the local platform's)")
    a.add_argument("--token", default="", help="a supervisor's or operator's token (default: "
                   "$GGZY_TOKEN)")
    a.add_argument("--head", default="", help="a head hash saved earlier that the chain "
                   "must still contain")
    a.set_defaults(func=cmd_audit)
    q = sub.add_parser("deadletters", help="list a consumer group's dead letters, or replay "
                       "them once their cause is fixed")
    q.add_argument("action", choices=["list", "replay"])
    q.add_argument("group", help="the consumer group, without the deployment's prefix "
                   "(e.g. announcement.bidding)")
    q.add_argument("--offset", action="append", default=[], metavar="P:O",
                   help="replay this dead letter (partition:offset, as listed); repeatable")
    q.add_argument("--reason", default="", help="replay the dead letters of this reason")
    q.add_argument("--all", action="store_true", help="replay every dead letter")
    q.add_argument("--again", action="store_true",
                   help="also replay letters replayed before")
    q.add_argument("--bootstrap", default="", help="Kafka (default: $GGZY_KAFKA_BOOTSTRAP)")
    q.add_argument("--prefix", default=None, help="topic prefix (default: $GGZY_TOPIC_PREFIX)")
    q.set_defaults(func=cmd_deadletters)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ggzy`` command."""
    args = parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
