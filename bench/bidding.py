"""The bidding benchmark: a deadline burst of sealed bids, then the opening of all of them.

One run starts fresh infrastructure under .cache/bench-bidding (the project's
Kafka node, the embedded store nx-27017) and the bidding service as a process;
the harness plays registration (it publishes EntityRegistered/ExpertRegistered
on the registration topic and signs tokens with a key whose set it serves), so
only bidding is measured. Then:

1. burst: one tender whose deadline falls right after the burst; ``--bids``
   sealed bids (AES-256-GCM, sealed before the phase) offered at ``--rate`` per
   second in an open loop, i.e. thousands of bids in the tender's final minute.
   Per bid: latency from when it was due; accepted per second; bidding's CPU per
   accepted bid (/proc); bidding's peak memory;
2. reveal: every bidder reveals its key in the decryption window (20号令),
   ``--clients`` concurrent clients; reveals per second and CPU per reveal;
3. opening: when the window closes, the opening record of every bid
   (statuses, prices, related bidders, fingerprints for credit, deposits, the
   committee draw) is written and published; the opening time runs from the
   window's end to BidsOpened on Kafka, and bidding's CPU in it;
4. Kafka's own ProducerPerformance on the same broker (the yardstick).

It prints a table, writes JSON to bench/results/ and stops everything it
started, also on error, Ctrl-C or SIGTERM. See bench/README.md.

    .venv/bin/python bench/bidding.py --bids 10000 --rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import signal
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pipeline import (  # noqa: E402
    PARTITIONS,
    Proc,
    bare_modes,
    bench_main,
    collector_paused,
    config,
    cpu_s,
    fresh_infra,
    mem_mb,
    service_argv,
    store_counters,
    store_use,
    summary_ms,
    yardstick,
)
from contracts.base import dump  # noqa: E402
from contracts.categories import Category  # noqa: E402
from contracts.envelope import Envelope  # noqa: E402
from contracts.registration import (  # noqa: E402
    EntityRegistered,
    EntitySnapshot,
    ExpertRegistered,
    ExpertSnapshot,
)
from contracts.topics import Stage, topic_name  # noqa: E402
from ggzy.dev.kafka import KafkaNode, free_port  # noqa: E402
from ggzy.dev.store import StoreNode  # noqa: E402
from ggzy.runtime.auth import Principal, Role, TokenIssuer  # noqa: E402
from ggzy.runtime.settings import Settings  # noqa: E402
from ggzy.testing.data import new_uscc  # noqa: E402
from ggzy.testing.processes import service_env  # noqa: E402
from services.bidding.domain import sealed  # noqa: E402

WORK = ROOT / ".cache" / "bench-bidding"
RESULTS = ROOT / "bench" / "results"
DEMO_RULES = ROOT / "deploy" / "rules-demo.yaml"
A01, E01 = "A01", "E01"
TARGETS = {"cpu_us_per_bid": 300.0, "p99_ms": 100.0, "opening_s": 2.0, "rss_mb": 300.0}
Doc = dict[str, Any]


@dataclass
class Bidder:
    uscc: str
    token: str
    key: bytes
    body: bytes  # the sealed bid upload, serialized before the burst
    status: int = 0
    due: float = 0.0
    done: float = 0.0
    error: str = ""


# --------------------------------------------------------------------------- set-up


def rules_file(window_s: int) -> Path:
    """The demo rules (periods in seconds) with a decryption window long enough to reveal."""
    rules = yaml.safe_load(DEMO_RULES.read_text("utf-8"))
    for name in ("construction", "procurement"):
        rules[name]["documents_to_deadline"]["value"] = 1
        rules[name]["sale_period"]["value"] = 1
        rules[name]["decryption_window"].update(value=window_s, unit="seconds")
    path = WORK / "rules.yaml"
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), "utf-8")
    return path


async def serve_jwks(issuer: TokenIssuer) -> tuple[web.AppRunner, str]:
    """The harness plays registration's key set endpoint."""
    app = web.Application()

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response(issuer.jwks())

    app.router.add_get("/.well-known/jwks.json", jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/.well-known/jwks.json"


def _entity(uscc: str, kinds: list[str], n: int) -> EntityRegistered:
    snap = EntitySnapshot(uscc=uscc, name=f"投标人{n}建设有限公司", kinds=kinds,
                          legal_representative="张三",
                          legal_representative_ref=hashlib.sha256(uscc.encode()).hexdigest(),
                          region_code="440300")
    return EntityRegistered(entity=snap, entity_version=1, registered_at=datetime.now(UTC))


def _expert(n: int, specialty: str) -> ExpertRegistered:
    expert_id = f"EXP-{n:012X}"
    snap = ExpertSnapshot(expert_id=expert_id, name=f"专家{n}", specialties=[specialty],
                          id_ref=hashlib.sha256(expert_id.encode()).hexdigest(),
                          region_code="440300")
    return ExpertRegistered(expert=snap, expert_version=1)


async def play_registration(bootstrap: str, events: list[Any]) -> None:
    """Publish registration's events, as registration's relay would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    topic = topic_name(Stage.REGISTRATION)
    try:
        for e in events:
            env = Envelope.new(type=e.type_name(), source="/ggzy/registration",
                               subject=e.aggregate_id())
            await producer.send(topic, json.dumps(dump(e)).encode(),
                                key=e.aggregate_id().encode(),
                                headers=[(k, v.encode()) for k, v in env.headers().items()])
        await producer.flush()
    finally:
        await producer.stop()


def tender_body(tenderee: str, deadline: datetime) -> tuple[Doc, str]:
    now = datetime.now(UTC)
    project = "2026" + uuid.uuid4().hex[:13].upper()
    body = {
        "project_code": project, "tender_no": 1, "project_name": "基准测试工程",
        "category": "construction", "region_code": "440300", "tenderee_uscc": tenderee,
        "evaluation": "lowest_evaluated_price", "state_funded": True, "price_weight": 30,
        "sections": [{"name": "施工1标段", "estimated_price_fen": 10_000_000_00,
                      "deposit_fen": 20_000_00}],
        "issued_at": now.isoformat(), "sale_start": now.isoformat(),
        "sale_end": (now + timedelta(seconds=1)).isoformat(),
        "bid_deadline": deadline.isoformat(), "expert_mix": {A01: 4, E01: 1}}
    return body, project


def make_bidders(issuer: TokenIssuer, count: int) -> list[Bidder]:
    """Bidders with their tokens (the harness plays registration's token issuer)."""
    out = []
    for n in range(count):
        uscc = new_uscc()
        token = issuer.issue(Principal(f"bidder-{n}", frozenset({Role.BIDDER}), uscc=uscc),
                             ttl_s=3600)
        out.append(Bidder(uscc, token, b"", b""))
    return out


def seal_bids(bidders: list[Bidder], tender_id: str, section: str) -> list[Bidder]:
    """Every bidder's sealed bid for one section, prepared before the phase (bidder side)."""
    out = []
    for n, b in enumerate(bidders):
        key = sealed.new_key()
        bid = sealed.seal({"price_fen": 9_000_000_00 - n * 100, "schedule_days": 300}, key,
                          tender_id=tender_id, section_code=section, bidder_uscc=b.uscc)
        body = {"ciphertext": base64.b64encode(bid.ciphertext).decode(),
                "nonce": base64.b64encode(bid.nonce).decode(), "digest": bid.digest,
                "fingerprint": {"file_digest": uuid.uuid4().hex, "upload_ip": f"10.{n}"},
                "deposit": {"payer_account": f"6222{n:012d}", "amount_fen": 20_000_00}}
        out.append(Bidder(b.uscc, b.token, key, json.dumps(body).encode()))
    return out


class OpeningWatch:
    """Watches the bidding topic from its end for one tender's BidsOpened: when it arrives."""

    def __init__(self, bootstrap: str, topic: str, tender_id: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                         max_partition_fetch_bytes=16 * 1024 * 1024)
        self.parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.tender_id = tender_id
        self.seen_at: float | None = None
        self.size = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign(self.parts)
        await self.consumer.seek_to_end(*self.parts)
        for tp in self.parts:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self.seen_at is None:
            batch = await self.consumer.getmany(timeout_ms=50)
            for records in batch.values():
                for r in records:
                    kind = dict(r.headers).get("ce_type", b"").decode()
                    if r.key == self.tender_id.encode() and kind.endswith(".BidsOpened.v1"):
                        self.seen_at, self.size = time.time(), len(r.value or b"")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


# --------------------------------------------------------------------------- phases


async def projected(mongo_url: str, count: int, within: float) -> None:
    """Wait until bidding's entity projection holds every bidder (read before the burst)."""
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo_url)
    try:
        coll = client["ggzy_bidding"]["entity_projection"]

        async def done() -> bool:
            return await coll.count_documents({}) >= count
        await until(done, within, interval=1.0)
    finally:
        await client.close()


async def call(session: aiohttp.ClientSession, method: str, url: str, token: str,
               body: bytes | Doc | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body else None
    async with session.request(method, url, data=data, headers=headers) as resp:
        return resp.status, await resp.json()


async def until(check: Any, within: float, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(interval)
    raise TimeoutError(f"condition not met within {within}s")


async def burst(session: aiohttp.ClientSession, url: str, bidders: list[Bidder],
                rate: float) -> float:
    """Offer bid i at begin + i/rate (open loop); return the phase's start."""
    begin = time.time() + 0.2

    async def one(b: Bidder, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.time()))
        b.due = due
        try:
            b.status, out = await call(session, "PUT", url, b.token, b.body)
            if b.status != 201:
                b.error = f"http_{b.status}_{out.get('error', {}).get('code')}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            b.error = type(exc).__name__
        b.done = time.time()

    await asyncio.gather(*(one(b, begin + i / rate) for i, b in enumerate(bidders)))
    return begin


async def reveal(session: aiohttp.ClientSession, url: str, bidders: list[Bidder],
                 clients: int) -> list[float]:
    """Every accepted bidder reveals its content key; latencies in seconds."""
    queue = [b for b in bidders if b.status == 201]
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            b = queue.pop()
            t0 = time.time()
            status, body = await call(session, "POST", url, b.token,
                                      {"key": base64.b64encode(b.key).decode()})
            if status != 200:
                raise RuntimeError(f"reveal refused: {status} {body}")
            latencies.append(time.time() - t0)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies


@dataclass
class Rig:
    session: aiohttp.ClientSession
    bidding: Proc
    store: StoreNode
    kafka: KafkaNode
    t_token: str
    tenderee: str
    profiled: bool = False

    async def publish(self, deadline: datetime) -> tuple[str, str]:
        body, _ = tender_body(self.tenderee, deadline)

        async def published() -> Any:
            status, out = await call(self.session, "POST", f"{self.bidding.url}/v1/tenders",
                                     self.t_token, body)
            return out if status == 201 else None
        out = await until(published, 60)
        return out["id"], out["sections"][0]

    async def status(self, tender_id: str, section: str) -> str:
        _, t = await call(self.session, "GET", f"{self.bidding.url}/v1/tenders/{tender_id}",
                          self.t_token)
        return str(t["sections_status"][section])

    def bid_url(self, tender_id: str, section: str) -> str:
        return f"{self.bidding.url}/v1/tenders/{tender_id}/sections/{section}/bid"


async def measure_burst(rig: Rig, bidders: list[Bidder], rate: float) -> Doc:
    """Phase 1: the bids offered at ``rate`` in the tender's final seconds."""
    pid, store_pid = rig.bidding.pid, rig.store.pid
    deadline = datetime.now(UTC) + timedelta(seconds=len(bidders) / rate + 8)
    tender_id, section = await rig.publish(deadline)
    load = seal_bids(bidders, tender_id, section)
    idle_mb = mem_mb(pid, "VmRSS")
    cpu0 = cpu_s(pid), cpu_s(store_pid)
    counted = {"bidding": rig.bidding.url}
    trips0 = await asyncio.to_thread(store_counters, counted)
    if rig.profiled:  # the profile (bench/cpu_profile.py) covers the burst only
        os.kill(pid, signal.SIGUSR1)
    with collector_paused():  # the harness's own full passes would delay bids and answers
        begin = await burst(rig.session, rig.bid_url(tender_id, section), load, rate)
    if rig.profiled:
        os.kill(pid, signal.SIGUSR2)
    cpu1 = cpu_s(pid), cpu_s(store_pid)
    figures = burst_figures(load, begin, cpu0, cpu1, "bidding_cpu_us_per_bid")
    trips = store_use(trips0, await asyncio.to_thread(store_counters, counted),
                      figures["accepted"])
    return {
        **figures, "rate": rate,
        # group-committed round trips and the operations they carried, per accepted bid
        "store_use_per_bid": trips.get("bidding", {}),
        "bidding_rss_idle_mb": idle_mb, "bidding_rss_peak_mb": mem_mb(pid, "VmHWM"),
        "last_answer_before_deadline_s": round(
            deadline.timestamp() - max(b.done for b in load), 2)}


def burst_figures(load: list[Bidder], begin: float, cpu0: tuple[float, float],
                  cpu1: tuple[float, float], cpu_key: str) -> Doc:
    """A burst's answers and the CPU (the service's under ``cpu_key``, then the store's)
    per accepted bid, from the (service, store) CPU seconds before and after it."""
    ok = [b for b in load if b.status == 201]
    per_bid = max(len(ok), 1)
    return {"offered": len(load), "accepted": len(ok), "errors": _errors(load),
            "accepted_per_s": round(len(ok) / max(max(b.done for b in load) - begin, 1e-9), 1),
            "latency_ms": summary_ms([b.done - b.due for b in ok]),
            cpu_key: round((cpu1[0] - cpu0[0]) / per_bid * 1e6, 1),
            "store_cpu_us_per_bid": round((cpu1[1] - cpu0[1]) / per_bid * 1e6, 1)}


async def load_bids(rig: Rig, url: str, bids: list[Bidder], clients: int) -> None:
    """Submit every sealed bid with ``clients`` concurrent clients (no deadline pressure)."""
    queue = list(bids)

    async def worker() -> None:
        while queue:
            b = queue.pop()
            b.status, out = await call(rig.session, "PUT", url, b.token, b.body)
            if b.status != 201:
                raise RuntimeError(f"bid refused while loading: {b.status} {out}")
    await asyncio.gather(*(worker() for _ in range(clients)))


async def measure_opening(rig: Rig, bidders: list[Bidder], args: argparse.Namespace,
                          accept_rate: float) -> tuple[Doc, Doc]:
    """Phases 2-3: a tender loaded with every bid, the key reveals, then the opening."""
    pid = rig.bidding.pid
    load_s = len(bidders) / max(accept_rate * 0.7, 1.0) + 15
    deadline = datetime.now(UTC) + timedelta(seconds=load_s)
    tender_id, section = await rig.publish(deadline)
    bids = seal_bids(bidders, tender_id, section)
    url = rig.bid_url(tender_id, section)
    await load_bids(rig, url, bids, args.clients)
    watch = OpeningWatch(rig.kafka.bootstrap,
                         topic_name(Stage.BIDDING, Category.CONSTRUCTION), tender_id)
    await watch.start()
    try:
        await until(lambda: _is(rig, tender_id, section, "decrypting"),
                    deadline.timestamp() - time.time() + 120)
        window_end = deadline.timestamp() + args.window_s  # decryption_end(): deadline + window
        c0 = cpu_s(pid)
        latencies = await reveal(rig.session, f"{url}/key", bids, args.clients)
        reveal_fig = {"reveals": len(latencies), "latency_ms": summary_ms(latencies),
                      "bidding_cpu_us_per_reveal": round(
                          (cpu_s(pid) - c0) / max(len(latencies), 1) * 1e6, 1),
                      "done_before_window_end_s": round(window_end - time.time(), 2)}
        await asyncio.sleep(max(0.0, window_end - time.time()))  # the opening starts here
        c0 = cpu_s(pid)

        async def opened() -> bool:
            return watch.seen_at is not None
        await until(opened, max(window_end - time.time(), 0) + 300)
        assert watch.seen_at is not None
        return reveal_fig, {"bids": len(bids), "opening_s": round(watch.seen_at - window_end, 3),
                            "opening_record_bytes": watch.size,
                            "bidding_cpu_s": round(cpu_s(pid) - c0, 3),
                            "bidding_rss_peak_mb": mem_mb(pid, "VmHWM")}
    finally:
        await watch.stop()


async def _is(rig: Rig, tender_id: str, section: str, wanted: str) -> bool:
    return await rig.status(tender_id, section) == wanted


async def measure(args: argparse.Namespace, kafka: KafkaNode, store: StoreNode,
                  bidding: Proc, issuer: TokenIssuer, tenderee: str) -> Doc:
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        t_token = issuer.issue(Principal("tenderee", frozenset({Role.TENDEREE}), uscc=tenderee))
        rig = Rig(session, bidding, store, kafka, t_token, tenderee,
                  profiled=args.profile == "cprofile")
        bidders = make_bidders(issuer, max(args.bids, args.open_bids))
        t0 = time.monotonic()
        await play_registration(kafka.bootstrap, [_entity(b.uscc, ["bidder"], n)
                                                  for n, b in enumerate(bidders)])
        await projected(store.url, len(bidders) + 1, args.prepare_s)
        prepared_s = round(time.monotonic() - t0, 1)
        # On a platform bidders register days before they bid: an entity projected just
        # before a section's first bid is read again at its opening (the bid's snapshot
        # of it may be older), one projected earlier is not.
        await asyncio.sleep(args.settle_s)
        burst_fig: Doc = {}
        if args.bids:  # --bids 0: the opening alone, its tender loaded at --rate
            burst_fig = await measure_burst(rig, bidders[:args.bids], args.rate)
            print(f"burst: {json.dumps(burst_fig)}", file=sys.stderr, flush=True)
        reveal_fig, opening_fig = await measure_opening(
            rig, bidders[:args.open_bids], args, burst_fig.get("accepted_per_s", args.rate)) \
            if args.open_bids else ({}, {})  # --open-bids 0: the burst alone
    out = {"prepared_s": prepared_s, "burst": burst_fig, "reveal": reveal_fig,
           "opening": opening_fig}
    if args.kafka_records:
        perf = await yardstick(kafka, args.kafka_records, 512)
        out.update(kafka_producer_performance=perf, accepted_bids_to_kafka_ratio=round(
            burst_fig["accepted_per_s"] / perf["records_per_sec"], 5))
    return out


def _errors(bidders: list[Bidder]) -> dict[str, int]:
    out: dict[str, int] = {}
    for b in bidders:
        if b.status != 201:
            label = b.error or f"http_{b.status}"
            out[label] = out.get(label, 0) + 1
    return out


# --------------------------------------------------------------------------- run


async def run_async(args: argparse.Namespace, kafka: KafkaNode, store: StoreNode,
                    stack: ExitStack) -> Doc:
    issuer = TokenIssuer(Ed25519PrivateKey.generate(), "bench")
    runner, jwks_url = await serve_jwks(issuer)
    try:
        settings = Settings(kafka_bootstrap=kafka.bootstrap, mongo_url=store.url,
                            partitions=PARTITIONS, log_level=args.log_level,
                            rules_file=str(rules_file(args.window_s)),
                            ).for_service("bidding").model_copy(update={"http_port": free_port()})
        env = service_env(settings, jwks_url=jwks_url)
        argv = service_argv("ggzy", "bidding", "none", WORK / "x.prof")
        if args.profile == "cprofile":  # timed by CPU, not wall time, in the burst only
            argv[1:1] = [str(ROOT / "bench" / "cpu_profile.py"), str(WORK / "bidding.prof")]
            env["GGZY_PROFILE_ON_SIGNAL"] = "1"
        bidding = Proc("bidding", argv, env, settings.http_port, WORK / "bidding.log")
        stack.callback(bidding.stop)
        await asyncio.to_thread(bidding.start)
        tenderee = new_uscc()
        experts = [_expert(n, A01) for n in range(6)] + [_expert(10 + n, E01) for n in range(2)]
        await play_registration(kafka.bootstrap, [_entity(tenderee, ["tenderee"], 0), *experts])
        figures = await measure(args, kafka, store, bidding, issuer, tenderee)
        await asyncio.to_thread(bidding.stop)
        floors = {mode: await measure_bare_burst(args, stack, kafka, store, issuer, jwks_url,
                                                 mode) for mode in bare_modes(args)}
        if floors and figures["burst"]:
            mine = figures["burst"]["bidding_cpu_us_per_bid"]
            for floor in floors.values():
                floor["bidding_to_floor_cpu_ratio"] = round(
                    mine / max(floor["cpu_us_per_bid"], 1e-9), 2)
        return {**figures, **({"floor": floors} if floors else {})}
    finally:
        await runner.cleanup()


async def measure_bare_burst(args: argparse.Namespace, stack: ExitStack, kafka: KafkaNode,
                             store: StoreNode, issuer: TokenIssuer, jwks_url: str,
                             mode: str) -> Doc:
    """The burst's floor (bench/bare.py's ``bid``, bidding stopped): the same number of
    fresh bidders' sealed bids, each with its first token, at the same offered rate."""
    port = free_port()
    env = {**os.environ, "BARE_ROLE": "bid", "BARE_PORT": str(port), "BARE_JWKS": jwks_url,
           "BARE_BOOTSTRAP": kafka.bootstrap, "BARE_MONGO": store.url, "BARE_WRITES": mode,
           "BARE_TOPIC": f"bench.bare-bids.{mode}.v1", "BARE_PARTITIONS": str(PARTITIONS),
           "BARE_DATABASE": f"ggzy_bare_bids_{mode}"}
    proc = Proc(f"bare-bid-{mode}", [sys.executable, "-m", "bench.bare"], env, port,
                WORK / f"bare-bid-{mode}.log")
    stack.callback(proc.stop)
    await asyncio.to_thread(proc.start)
    try:
        timeout = aiohttp.ClientTimeout(total=120)
        connector = aiohttp.TCPConnector(limit=args.connections)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            url = f"{proc.url}/v1/tenders/BARE/sections/001/bid"
            warm = seal_bids(make_bidders(issuer, 200), "BARE", "001")
            await burst(session, url, warm, 100.0)
            if _errors(warm):
                raise RuntimeError(f"bare warm-up failed: {_errors(warm)}")
            load = seal_bids(make_bidders(issuer, args.bids), "BARE", "001")
            cpu0 = cpu_s(proc.pid), cpu_s(store.pid)
            with collector_paused():
                begin = await burst(session, url, load, args.rate)
            cpu1 = cpu_s(proc.pid), cpu_s(store.pid)
        return {**burst_figures(load, begin, cpu0, cpu1, "cpu_us_per_bid"),
                "rss_peak_mb": mem_mb(proc.pid, "VmHWM")}
    finally:
        await asyncio.to_thread(proc.stop)


def run(args: argparse.Namespace) -> Doc:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    settings = config(args)
    with fresh_infra(WORK) as (stack, kafka, store):
        figures = asyncio.run(run_async(args, kafka, store, stack))
    return {"stamp": stamp, "config": settings, **figures}


def table(r: Doc) -> list[tuple[str, str, str]]:
    b, v, o = r["burst"], r["reveal"], r["opening"]
    rows = _burst_rows(r, b) if b else []
    if v:
        rows += _opening_rows(v, o)
    for mode, f in r.get("floor", {}).items():
        lat = f["latency_ms"]
        rows += [
            (f"FLOOR ({mode}): bare libraries", f"{f['accepted']} / {f['offered']} accepted, "
             f"errors {f['errors']}, {f['accepted_per_s']}/s", "same load"),
            ("  floor CPU per accepted bid", f"{f['cpu_us_per_bid']} µs (store "
             f"{f['store_cpu_us_per_bid']} µs)", f"<= {TARGETS['cpu_us_per_bid']:g} µs "
             + _met(f["cpu_us_per_bid"] <= TARGETS["cpu_us_per_bid"])),
            ("  floor submission p50/p99/max",
             f"{lat.get('p50')} / {lat.get('p99')} / {lat.get('max')} ms", ""),
            ("  bidding / floor (CPU per bid)", f"{f.get('bidding_to_floor_cpu_ratio', '-')}",
             "ratio")]
    if "kafka_producer_performance" in r:
        rows += [
            ("Kafka ProducerPerformance",
             f"{r['kafka_producer_performance']['records_per_sec']:,.0f} rec/s", "yardstick"),
            ("accepted bids / Kafka", f"{r['accepted_bids_to_kafka_ratio']}", "ratio")]
    return rows


def _burst_rows(r: Doc, b: Doc) -> list[tuple[str, str, str]]:
    lat = b["latency_ms"]
    return [
        ("burst: bids offered / accepted", f"{b['offered']} / {b['accepted']} at {b['rate']}/s"
         f", errors {b['errors']}", "0 errors"),
        ("accepted bids per second", f"{b['accepted_per_s']}", f"{r['config']['rate']}/s"),
        ("submission p50/p99/max", f"{lat.get('p50')} / {lat.get('p99')} / {lat.get('max')} ms",
         f"p99 < {TARGETS['p99_ms']:g} ms " + _met(lat.get("p99", 1e9) < TARGETS["p99_ms"])),
        ("bidding CPU per accepted bid", f"{b['bidding_cpu_us_per_bid']} µs",
         f"<= {TARGETS['cpu_us_per_bid']:g} µs "
         + _met(b["bidding_cpu_us_per_bid"] <= TARGETS["cpu_us_per_bid"])),
        ("store (nx-27017) CPU per bid", f"{b['store_cpu_us_per_bid']} µs", "apart"),
        ("bidding RSS idle / peak (burst)", f"{b['bidding_rss_idle_mb']} / "
         f"{b['bidding_rss_peak_mb']} MB", f"< {TARGETS['rss_mb']:g} MB "
         + _met(b["bidding_rss_peak_mb"] < TARGETS["rss_mb"]))]


def _opening_rows(v: Doc, o: Doc) -> list[tuple[str, str, str]]:
    return [
        ("key reveals", f"{v['reveals']}, p99 {v['latency_ms'].get('p99')} ms, "
         f"{v['bidding_cpu_us_per_reveal']} µs CPU each", "in the window"),
        ("opening of all bids", f"{o['opening_s']} s ({o['bids']} bids, bidding CPU "
         f"{o['bidding_cpu_s']} s)", f"< {TARGETS['opening_s']:g} s "
         + _met(o["opening_s"] < TARGETS["opening_s"])),
        ("bidding RSS peak (run)", f"{o['bidding_rss_peak_mb']} MB", "")]


def _met(ok: bool) -> str:
    return "(met)" if ok else "(NOT met)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--bids", type=int, default=10_000, help="bids in the burst")
    p.add_argument("--open-bids", type=int, default=10_000,
                   help="bids in the opened tender (0: the burst alone)")
    p.add_argument("--rate", type=float, default=500.0, help="offered bids/s")
    p.add_argument("--clients", type=int, default=32, help="concurrent key reveals")
    p.add_argument("--connections", type=int, default=256, help="HTTP connection pool size")
    p.add_argument("--window-s", type=int, default=120, help="decryption window, s")
    p.add_argument("--prepare-s", type=float, default=300.0,
                   help="at most this long for bidding's projection to learn the bidders")
    p.add_argument("--settle-s", type=float, default=15.0,
                   help="wait between the bidders' registration and the first bids, s")
    p.add_argument("--kafka-records", type=int, default=200_000,
                   help="records of Kafka's yardstick (0: none)")
    p.add_argument("--profile", choices=("none", "cprofile"), default="none",
                   help="cProfile bidding by CPU time in the burst (bench/cpu_profile.py;"
                        f" to {WORK.relative_to(ROOT)}/bidding.prof)")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument("--bare", default="one,many",
                   help="the burst's floor after the rest, bidding stopped (bench/bare.py: "
                        "one = insert_one per bid, many = group commit; empty: none)")
    return p.parse_args(argv)


def print_report(report: Doc) -> None:
    rows = table(report)
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<60}  {target}")


def main() -> int:
    return bench_main("bidding", parse_args, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
