"""Credit-event throughput through the real credit service (target <= 200 µs CPU/event).

One run starts fresh infrastructure under .cache/bench-credit (the project's Kafka
node and the embedded store nx-27017), registration (only for its key set) and
``ggzy serve credit`` as processes, then publishes bidding's events on the
construction bidding topic as bidding would (CloudEvents headers, key = tender id):

1. warm-up: 200 events, not counted;
2. new accounts: N events, half ContractOverdue (法46) and half BidsOpened with a
   revoked line (20号令, 条例35), each against a fresh credit code: an account is
   opened, the record added, CreditChanged queued and relayed;
3. existing accounts: N more events against the same codes (one more record each).

Progress is read from Kafka (one CreditChanged per applied event), not from the
store being measured. Per phase: time until every event is applied and its
CreditChanged published, events/s, and CPU µs per event of credit, the store and
Kafka from /proc. Bounded (--drain-seconds); no timed assertions. It reuses
bench/pipeline.py's process and /proc helpers.

    .venv/bin/python bench/credit_events.py --events 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import profiling  # noqa: E402
from bench.pipeline import (  # noqa: E402
    OPERATOR,
    TARGET_CPU_US,
    Proc,
    bench_main,
    config,
    cpu_per_event_us,
    cpu_snapshot,
    fresh_infra,
    mem_mb,
    service_argv,
    store_counters,
    store_use,
)
from contracts.bidding import BidderLine, BidsOpened, ContractOverdue  # noqa: E402
from contracts.categories import Category  # noqa: E402
from contracts.envelope import Envelope  # noqa: E402
from contracts.topics import Stage, topic_name  # noqa: E402
from ggzy.dev.kafka import KafkaNode, free_port  # noqa: E402
from ggzy.dev.store import StoreNode  # noqa: E402
from ggzy.runtime.settings import Settings  # noqa: E402
from ggzy.testing.data import new_uscc  # noqa: E402
from ggzy.testing.processes import service_env  # noqa: E402

WORK = ROOT / ".cache" / "bench-credit"
WARMUP = 200
Doc = dict[str, Any]


def start_services(stack: ExitStack, kafka: KafkaNode, store: StoreNode,
                   args: argparse.Namespace) -> dict[str, Proc]:
    base = Settings(kafka_bootstrap=kafka.bootstrap, mongo_url=store.url, partitions=3,
                    log_level=args.log_level)
    reg = base.for_service("registration").model_copy(update={"http_port": free_port()})
    jwks = f"http://127.0.0.1:{reg.http_port}/.well-known/jwks.json"
    procs: dict[str, Proc] = {}
    for settings in (reg, base.for_service("credit").model_copy(
            update={"http_port": free_port(), "jwks_url": jwks})):
        name = settings.service
        env = service_env(settings, bootstrap_operator=":".join(OPERATOR))
        argv = service_argv("ggzy", name, "none", WORK / "x.prof")
        if args.profile == "cprofile" and name == "credit":  # timed by CPU, not wall time
            argv[1:1] = [str(ROOT / "bench" / "cpu_profile.py"), str(WORK / "credit.prof")]
        procs[name] = Proc(name, argv, env, settings.http_port, WORK / f"{name}.log")
        stack.callback(procs[name].stop)
        procs[name].start()
    return procs


def events(subjects: list[str]) -> list[tuple[str, bytes, dict[str, str]]]:
    """One bidding event per subject: even ones ContractOverdue, odd ones BidsOpened."""
    out = []
    now = datetime.now(UTC)
    for n, uscc in enumerate(subjects):
        project = f"{now:%m%d}{uuid.uuid4().hex[:13].upper()}"
        tid, sec = project + "001", project + "001001"
        event: ContractOverdue | BidsOpened
        if n % 2 == 0:
            event = ContractOverdue(tender_id=tid, section_code=sec, winner_uscc=uscc, due=now)
        else:
            event = BidsOpened(tender_id=tid, section_code=sec, opened_at=now, lines=[
                BidderLine(bid_id=f"{tid}:{sec}:{uscc}", bidder_uscc=uscc, bidder_name="乙公司",
                           price_fen=None, status="revoked")])
        env = Envelope.new(type=event.type_name(), source="/ggzy/bidding", subject=tid,
                           category=Category.CONSTRUCTION)
        out.append((tid, json.dumps(event.model_dump(mode="json")).encode(), env.headers()))
    return out


class Tap:
    """Counts CreditChanged on credit's topic (one per applied event)."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.changed = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        topic = topic_name(Stage.CREDIT)
        parts: set[int] = set()
        for _ in range(50):  # the topic's metadata may not be loaded yet
            parts = self.consumer.partitions_for_topic(topic) or set()
            if parts:
                break
            await self.consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
        self.consumer.assign([TopicPartition(topic, p) for p in parts])
        await self.consumer.seek_to_beginning()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                self.changed += sum(1 for m in msgs if any(
                    k == "ce_type" and v.endswith(b"CreditChanged.v1") for k, v in m.headers))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


async def phase(producer: AIOKafkaProducer, tap: Tap, pids: dict[str, int],
                load: list[tuple[str, bytes, dict[str, str]]], drain_s: float,
                url: str, py_spy: str | None = None, name: str = "", rate: float = 0) -> Doc:
    target = tap.changed + len(load)
    counters0 = await asyncio.to_thread(store_counters, {"credit": url})
    spy = _spy(py_spy, pids["credit"], WORK / f"credit-{name}.txt") if py_spy else None
    topic = topic_name(Stage.BIDDING, Category.CONSTRUCTION)
    cpu0, began = cpu_snapshot(pids), time.monotonic()
    for n, (key, value, headers) in enumerate(load):
        if rate:  # open loop: event n is due at n / rate
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        await producer.send(topic, value, key=key.encode(),
                            headers=[(k, v.encode()) for k, v in headers.items()])
    await producer.flush()
    published = time.monotonic() - began
    for _ in range(int(drain_s * 5)):
        if tap.changed >= target:
            break
        await asyncio.sleep(0.2)
    elapsed = time.monotonic() - began
    cpu = cpu_per_event_us(cpu0, cpu_snapshot(pids), len(load))
    use = store_use(counters0, await asyncio.to_thread(store_counters, {"credit": url}),
                    len(load))["credit"]
    profile = _spy_summary(spy) if spy else {}
    return {**profile, "events": len(load), "applied": len(load) - max(0, target - tap.changed),
            "published_after_s": round(published, 2), "all_applied_after_s": round(elapsed, 2),
            "events_per_s": round(len(load) / elapsed, 1), "cpu_us_per_event": cpu,
            "credit_cpu_us_per_event": cpu["credit"], "store_use_per_event": use}


def _spy(py_spy: str, pid: int, output: Path) -> profiling.Recording:
    """py-spy on credit until the phase ends (SIGINT makes it write what it sampled)."""
    return profiling.record(py_spy, "credit", pid, 600, output)


def _spy_summary(spy: profiling.Recording) -> Doc:
    spy.proc.send_signal(signal.SIGINT)
    return {"py_spy": profiling.summarize(spy.wait(), top=25)}


async def measure(args: argparse.Namespace, kafka: KafkaNode, store: StoreNode,
                  procs: dict[str, Proc]) -> Doc:
    pids = {"credit": procs["credit"].pid, "store": store.pid, "kafka": kafka.pid}
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all", linger_ms=5)
    tap = Tap(kafka.bootstrap)
    url = procs["credit"].url
    await producer.start()
    try:
        await tap.start()
        warm = await phase(producer, tap, pids, events([new_uscc() for _ in range(WARMUP)]),
                           args.drain_seconds, url)
        if warm["applied"] < WARMUP:
            raise RuntimeError(f"warm-up not applied: {warm}")
        subjects = [new_uscc() for _ in range(args.events)]
        fresh = await phase(producer, tap, pids, events(subjects), args.drain_seconds, url,
                            args.py_spy, "new", args.rate)
        again = await phase(producer, tap, pids, events(subjects), args.drain_seconds, url,
                            args.py_spy, "existing", args.rate)
        return {"new_accounts": fresh, "existing_accounts": again,
                "credit_rss_mb": mem_mb(pids["credit"], "VmHWM")}
    finally:
        await tap.stop()
        await producer.stop()


def run(args: argparse.Namespace) -> Doc:
    """Start the infrastructure and services, measure, stop everything (whatever happens)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with fresh_infra(WORK) as (stack, kafka, store):
        procs = start_services(stack, kafka, store, args)
        figures = asyncio.run(measure(args, kafka, store, procs))
    return {"stamp": stamp, "config": config(args), **figures}


def print_report(r: Doc) -> None:
    print(f"{'phase':<18} {'events':>7} {'applied':>8} {'after s':>8} {'ev/s':>7} "
          f"{'credit µs':>10} {'store µs':>9} {'kafka µs':>9} {'store ops':>9} {'trips':>6}")
    for name in ("new_accounts", "existing_accounts"):
        p = r[name]
        cpu, use = p["cpu_us_per_event"], p["store_use_per_event"]
        ops = use.get("read_operations", 0) + use.get("write_operations", 0)
        trips = use.get("read_round_trips", 0) + use.get("write_round_trips", 0)
        print(f"{name:<18} {p['events']:>7} {p['applied']:>8} {p['all_applied_after_s']:>8} "
              f"{p['events_per_s']:>7} {cpu['credit']:>10} {cpu['store']:>9} {cpu['kafka']:>9} "
              f"{ops:>9.2f} {trips:>6.3f}")
    worst = max(r[n]["credit_cpu_us_per_event"] for n in ("new_accounts", "existing_accounts"))
    met = "met" if worst <= TARGET_CPU_US else "NOT met"
    print(f"\ncredit CPU per event (worst phase): {worst} µs; target <= {TARGET_CPU_US} µs "
          f"({met}); credit peak RSS {r['credit_rss_mb']} MB")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--events", type=int, default=2000, help="events per measured phase")
    p.add_argument("--rate", type=float, default=0,
                   help="publish the measured events at this rate per second (default: at once)")
    p.add_argument("--drain-seconds", type=float, default=300, help="max wait per phase")
    p.add_argument("--profile", choices=("none", "cprofile"), default="none",
                   help="cProfile credit by CPU time over the whole run (bench/cpu_profile.py; "
                        "written to .cache/bench-credit/credit.prof; inflates its figures)")
    p.add_argument("--py-spy", metavar="PATH", default=None,
                   help="sample credit with this py-spy during each measured phase")
    p.add_argument("--log-level", default="WARNING", help="GGZY_LOG_LEVEL of the services")
    return p.parse_args(argv)


def main() -> int:
    return bench_main("credit-events", parse_args, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
