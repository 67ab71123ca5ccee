"""Notify's delivery benchmark: webhook, e-mail and inbox rates, and a backlog drain.

One run starts fresh infrastructure under .cache/bench/notify (the project's Kafka
node and the embedded store nx-27017), notify as its own process (``ggzy serve
notify``), and in this harness a key set (JWKS) and token issuer, a webhook
receiver (aiohttp) and an SMTP server (aiosmtpd), all on 127.0.0.1. Then:

1. webhook + inbox: ``--events`` CreditChanged events spread over ``--recipients``
   entities with a webhook: rate at the receiver, inbox rate from /metrics;
2. e-mail: ``--emails`` events for entities with an address: rate at the SMTP server;
3. backlog: the receiver answers 503 while ``--backlog`` webhook notifications queue
   up (the breaker holds them; attempts are not spent while it is open), then it
   recovers: the time until every one was received once.

CPU of the notify process and of the store is read from /proc per phase and given
per delivery, apart, with the store round trips and operations notify counted (its
/metrics) and its lane claims, per delivery. No figure is asserted. See
bench/README.md.

    .venv/bin/python bench/notify.py --events 2000 --emails 300 --backlog 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.pipeline import (  # noqa: E402
    WORK,
    Proc,
    bench_main,
    config,
    cpu_snapshot,
    fresh_infra,
)
from contracts.credit import CreditChanged, SubjectKind  # noqa: E402
from contracts.envelope import Envelope  # noqa: E402
from contracts.topics import Stage, topic_name  # noqa: E402
from ggzy.dev.kafka import KafkaNode, free_port  # noqa: E402
from ggzy.dev.store import StoreNode  # noqa: E402
from ggzy.runtime.auth import Principal, Role, TokenIssuer  # noqa: E402
from ggzy.runtime.settings import Settings  # noqa: E402
from ggzy.testing.data import new_uscc  # noqa: E402
from ggzy.testing.processes import service_env  # noqa: E402

HERE = WORK / "notify"
Doc = dict[str, Any]


class Sinks:
    """The local receivers: a webhook endpoint and an SMTP server, with arrival times."""

    def __init__(self) -> None:
        self.down = False
        self.hook_times: list[float] = []
        self.hook_ids: set[str] = set()
        self.duplicates = 0
        self.mail_times: list[float] = []
        self.smtp_port, self.web_port = free_port(), free_port()
        self.smtp = Controller(self, hostname="127.0.0.1", port=self.smtp_port)

    async def hook(self, request: web.Request) -> web.Response:
        await request.read()
        if self.down:
            return web.Response(status=503)
        nid = request.headers["X-Ggzy-Notification-Id"]
        self.duplicates += nid in self.hook_ids
        self.hook_ids.add(nid)
        self.hook_times.append(time.monotonic())
        return web.Response(status=204)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mail_times.append(time.monotonic())
        return "250 OK"


def jwks_app(issuer: TokenIssuer, sinks: Sinks) -> web.Application:
    app = web.Application()
    jwks = issuer.jwks()

    async def keys(_: web.Request) -> web.Response:
        return web.json_response(jwks)

    app.router.add_get("/.well-known/jwks.json", keys)
    app.router.add_post("/hook", sinks.hook)
    return app


def start_notify(stack: ExitStack, kafka: KafkaNode, store: StoreNode, sinks: Sinks,
                 args: argparse.Namespace) -> Proc:
    settings = Settings(kafka_bootstrap=kafka.bootstrap, mongo_url=store.url, partitions=3,
                        log_level="WARNING", topic_prefix="bench").for_service("notify")
    settings = settings.model_copy(update={"http_port": free_port()})
    env = service_env(settings, jwks_url=f"http://127.0.0.1:{sinks.web_port}/.well-known/"
                                         "jwks.json",
                      notify_smtp_host="127.0.0.1", notify_smtp_port=sinks.smtp_port,
                      notify_workers=args.workers, notify_max_attempts=1000,
                      notify_breaker_cooldown_ms=1000, notify_backoff_max_ms=2000,
                      notify_window=args.window,
                      notify_webhook_allow_private=True)  # the receiver is on 127.0.0.1
    argv = [sys.executable, "-m", "ggzy", "serve", "notify"]
    if args.profile == "cprofile":  # timed by CPU, not wall time
        argv[1:1] = [str(ROOT / "bench" / "cpu_profile.py"), str(HERE / "notify.prof")]
    proc = Proc("notify", argv, env,
                settings.http_port, HERE / "notify.log")
    stack.callback(proc.stop)
    return proc.start()


class Rig:
    """The harness's clients: HTTP as recipients, Kafka as the credit stage."""

    def __init__(self, notify: Proc, issuer: TokenIssuer, http: aiohttp.ClientSession,
                 producer: AIOKafkaProducer) -> None:
        self.notify, self.issuer, self.http, self.producer = notify, issuer, http, producer
        self.topic = topic_name(Stage.CREDIT, prefix="bench")

    async def recipients(self, n: int, channel: str, body: Callable[[str], Doc]) -> list[str]:
        usccs = [new_uscc() for _ in range(n)]
        for uscc in usccs:
            token = self.issuer.issue(Principal(uscc, frozenset({Role.BIDDER}), uscc=uscc))
            async with self.http.put(f"{self.notify.url}/v1/me/{channel}", json=body(uscc),
                                     headers={"Authorization": f"Bearer {token}"}) as resp:
                assert resp.status == 200, await resp.text()
        return usccs

    async def publish(self, usccs: list[str], events: int) -> None:
        for i in range(events):
            uscc = usccs[i % len(usccs)]
            event = CreditChanged(subject_kind=SubjectKind.ENTITY, subject_id=uscc,
                                  reason="bench", score=i % 1000, level="B",
                                  changed_at=datetime.now(UTC))
            env = Envelope.new(type=event.type_name(), source="/ggzy/credit", subject=uscc)
            await self.producer.send(self.topic, json.dumps(event.model_dump(mode="json"))
                                     .encode(), key=uscc.encode(),
                                     headers=[(k, v.encode()) for k, v in env.headers().items()])
        await self.producer.flush()

    async def inbox_delivered(self) -> float:
        return (await self.counters()).get('ggzy_notify_deliveries_total{channel="inbox"}', 0.0)

    async def counters(self) -> dict[str, float]:
        """Notify's counters from /metrics, by name and labels."""
        async with self.http.get(f"{self.notify.url}/metrics") as resp:
            text = await resp.text()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith(("ggzy_notify_deliveries_total", "ggzy_store_",
                                "ggzy_notify_claim_reads_total",
                                "ggzy_notify_lanes_claimed_total")):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out


def store_use(before: dict[str, float], after: dict[str, float], deliveries: float) -> Doc:
    """Group-committed store round trips and the operations they carried, per delivery
    (the service's other operations, such as claims' reads, are not counted here)."""
    out: Doc = {}
    for kind in ("read", "write"):
        for what, metric in (("round_trips", "ggzy_store_round_trips_total"),
                             ("operations", "ggzy_store_operations_total")):
            key = f'{metric}{{kind="{kind}"}}'
            out[f"{kind}_{what}"] = round((after.get(key, 0) - before.get(key, 0))
                                          / max(1.0, deliveries), 2)
    for what in ("claim_reads", "lanes_claimed"):
        key = f"ggzy_notify_{what}_total"
        out[what] = round((after.get(key, 0) - before.get(key, 0)) / max(1.0, deliveries), 2)
    return out


async def until(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def rate(times: list[float], start: float) -> float:
    return round(len(times) / max(1e-9, (max(times) - start)), 1) if times else 0.0


async def phase(rig: Rig, pids: dict[str, int], name: str, usccs: list[str], n: int,
                arrived: Callable[[], int], within: float) -> Doc:
    counted = await rig.counters()
    before, start, inbox0 = cpu_snapshot(pids), time.monotonic(), await rig.inbox_delivered()
    await rig.publish(usccs, n)
    done = await until(lambda: arrived() >= n, within)
    elapsed = time.monotonic() - start
    after, inbox = cpu_snapshot(pids), await rig.inbox_delivered() - inbox0
    deliveries = arrived() + inbox
    use = store_use(counted, await rig.counters(), deliveries)
    cpu = {k: round((after[k] - before[k]) / max(1.0, deliveries) * 1e6, 1) for k in after}
    return {"phase": name, "notifications": n, "arrived": arrived(), "complete": done,
            "seconds": round(elapsed, 2), "per_s": round(arrived() / elapsed, 1),
            "inbox_delivered": inbox, "inbox_per_s": round(inbox / elapsed, 1),
            "cpu_us_per_delivery": cpu, "store_per_delivery": use}


async def measure(args: argparse.Namespace, notify: Proc, store: StoreNode, sinks: Sinks,
                  issuer: TokenIssuer, kafka: KafkaNode) -> Doc:
    pids = {"notify": notify.pid, "store": store.pid, "kafka": kafka.pid,
            "harness": os.getpid()}  # the receivers and the load, in this process
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        async with aiohttp.ClientSession() as http:
            rig = Rig(notify, issuer, http, producer)
            hook = f"http://127.0.0.1:{sinks.web_port}/hook"
            hooked = await rig.recipients(args.recipients, "webhook",
                                          lambda u: {"url": hook, "secret": "bench-secret-0000"})
            mailed = await rig.recipients(max(1, args.recipients // 4), "email",
                                          lambda u: {"address": f"{u.lower()}@example.cn"})
            web_phase = await phase(rig, pids, "webhook", hooked, args.events,
                                    lambda: len(sinks.hook_times), args.within)
            mail_phase = await phase(rig, pids, "email", mailed, args.emails,
                                     lambda: len(sinks.mail_times), args.within)
            backlog = await drain(rig, pids, sinks, hooked, args)
    finally:
        await producer.stop()
    return {"phases": [web_phase, mail_phase], "backlog": backlog,
            "duplicates_at_receiver": sinks.duplicates}


async def drain(rig: Rig, pids: dict[str, int], sinks: Sinks, usccs: list[str],
                args: argparse.Namespace) -> Doc:
    """Queue a backlog while the receiver is down, then time its recovery."""
    sinks.down, base = True, len(sinks.hook_times)
    before_queued = await until_queued(rig, 0, 0)  # in the store queue before (lanes in trouble)
    started = time.monotonic()
    await rig.publish(usccs, args.backlog)
    queued = await until_queued(rig, before_queued + args.backlog, args.within) - before_queued
    queue_s = time.monotonic() - started
    counted = await rig.counters()
    before, recovered = cpu_snapshot(pids), time.monotonic()
    sinks.down = False
    done = await until(lambda: len(sinks.hook_times) - base >= args.backlog, args.within)
    after, got = cpu_snapshot(pids), len(sinks.hook_times) - base
    use = store_use(counted, await rig.counters(), got)
    drain_s = time.monotonic() - recovered
    return {"backlog": args.backlog, "queued_before_recovery": queued, "queue_seconds":
            round(queue_s, 1), "drained": done, "received": got,
            "drain_seconds": round(drain_s, 2), "drain_per_s": round(got / drain_s, 1),
            "cpu_us_per_delivery": {k: round((after[k] - before[k]) / max(1, got) * 1e6, 1)
                                    for k in after}, "store_per_delivery": use}


async def until_queued(rig: Rig, total: int, within: float) -> int:
    """Webhook deliveries taken into the store queue so far (the receiver is down: every
    lane's first failure and all after it go there): the sum of its webhook lanes'
    numbers. Waits until ``total`` or ``within`` seconds."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[Doc] = AsyncMongoClient(rig.notify.env["GGZY_MONGO_URL"])
    lanes = client[rig.notify.env["GGZY_DATABASE"]]["lanes"]
    deadline, queued = time.monotonic() + within, 0
    try:
        while True:
            docs = await lanes.find({"channel": "webhook"}, {"next_seq": 1}).to_list(None)
            queued = sum(int(d.get("next_seq", 0)) for d in docs)
            if queued >= total or time.monotonic() >= deadline:
                break
            await asyncio.sleep(1.0)
    finally:
        await client.close()
    return queued


def run(args: argparse.Namespace) -> Doc:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    sinks = Sinks()
    issuer = TokenIssuer(Ed25519PrivateKey.generate(), "bench")
    with fresh_infra(HERE) as (stack, kafka, store):
        sinks.smtp.start()
        stack.callback(sinks.smtp.stop)
        figures = asyncio.run(serve_and_measure(stack, args, kafka, store, sinks, issuer))
    return {"stamp": stamp, "config": config(args), **figures}


async def serve_and_measure(stack: ExitStack, args: argparse.Namespace, kafka: KafkaNode,
                            store: StoreNode, sinks: Sinks, issuer: TokenIssuer) -> Doc:
    runner = web.AppRunner(jwks_app(issuer, sinks), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sinks.web_port).start()
    try:
        notify = await asyncio.to_thread(start_notify, stack, kafka, store, sinks, args)
        return await measure(args, notify, store, sinks, issuer, kafka)
    finally:
        await runner.cleanup()


def print_report(r: Doc) -> None:
    rows = [("figure", "measured")]
    for p in r["phases"]:
        rows.append((f"{p['phase']} deliveries/s", f"{p['per_s']} ({p['arrived']}/"
                     f"{p['notifications']} in {p['seconds']} s)"))
        rows.append(("  inbox alongside /s", f"{p['inbox_per_s']}"))
        rows.append(("  CPU µs/delivery notify | store", f"{p['cpu_us_per_delivery']['notify']}"
                     f" | {p['cpu_us_per_delivery']['store']}"))
        rows.append(("  CPU µs/delivery kafka | harness | machine", _rest(p)))
        rows.append(("  store round trips (ops) /delivery", _use(p["store_per_delivery"])))
    b = r["backlog"]
    rows.append(("backlog queued while down", f"{b['queued_before_recovery']} in "
                 f"{b['queue_seconds']} s"))
    rows.append(("backlog drained after recovery", f"{b['drain_seconds']} s "
                 f"({b['received']}/{b['backlog']}, {b['drain_per_s']}/s)"))
    rows.append(("  CPU µs/delivery notify | store", f"{b['cpu_us_per_delivery']['notify']} | "
                 f"{b['cpu_us_per_delivery']['store']}"))
    rows.append(("  store round trips (ops) /delivery", _use(b["store_per_delivery"])))
    rows.append(("duplicates at the receiver", str(r["duplicates_at_receiver"])))
    width = max(len(a) for a, _ in rows)
    for a, b2 in rows:
        print(f"{a.ljust(width)}  {b2}")


def _rest(p: Doc) -> str:
    c = p["cpu_us_per_delivery"]
    return f"{c['kafka']} | {c['harness']} | {c['machine']} (the machine's busy time)"


def _use(u: Doc) -> str:
    return (f"reads {u['read_round_trips']} ({u['read_operations']}), "
            f"writes {u['write_round_trips']} ({u['write_operations']}); lane claim reads "
            f"{u['claim_reads']}, lanes claimed {u['lanes_claimed']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--recipients", type=int, default=200, help="entities with a webhook")
    p.add_argument("--events", type=int, default=2000, help="webhook phase notifications")
    p.add_argument("--emails", type=int, default=300, help="e-mail phase notifications")
    p.add_argument("--backlog", type=int, default=10_000, help="webhook backlog to drain")
    p.add_argument("--workers", type=int, default=64, help="GGZY_NOTIFY_WORKERS")
    p.add_argument("--window", type=int, default=16, help="GGZY_NOTIFY_WINDOW")
    p.add_argument("--within", type=float, default=900, help="max wait per phase, s")
    p.add_argument("--profile", choices=("none", "cprofile"), default="none",
                   help="cProfile notify by CPU time over the whole run (bench/cpu_profile.py; "
                   "written to .cache/bench/notify/notify.prof at its exit)")
    return p.parse_args(argv)



def main() -> int:
    return bench_main("notify", parse_args, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
