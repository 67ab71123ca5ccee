"""Benchmark of the runtime's pipeline: HTTP command -> outbox -> Kafka -> idempotent consumer.

One run starts fresh infrastructure under .cache/bench (the project's Kafka
node and the embedded store), registration and bidding as processes (bidding
is the downstream consumer: its entity projection applies each EntityRegistered
once), offers a steady rate of POST /v1/entities for a bounded time, and reports:
throughput, HTTP and end-to-end latency percentiles (end to end = request start
until the harness's own consumer sees the event on the topic), time for the
consumer to apply everything, CPU time per event of each process (services
apart from the store and the broker), idle and peak memory, and Kafka's own
ProducerPerformance on the same broker, as a ratio. It stops by itself.

    .venv/bin/python bench/pipeline.py --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts.topics import Stage, topic_name  # noqa: E402
from ggzy.dev.kafka import KafkaNode, ensure_jars, producer_performance  # noqa: E402
from ggzy.dev.store import StoreNode  # noqa: E402
from ggzy.runtime.settings import Settings  # noqa: E402
from ggzy.testing.data import entity_registration, new_uscc  # noqa: E402
from ggzy.testing.processes import ServiceProcess, service_env  # noqa: E402
from ggzy.testing.services import free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
OPERATOR = ("op", "operator-password-1")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mem_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def watch(bootstrap: str, topic: str, seen: dict[str, float], stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                group_id=f"bench-{time.time_ns()}")
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for msgs in batch.values():
                for m in msgs:
                    seen.setdefault(m.key.decode(), now)
    finally:
        await consumer.stop()


async def offer(url: str, token: str, rate: float, seconds: float) -> tuple[
        dict[str, float], list[float], int]:
    """Open loop: one request every 1/rate s, whatever the answers do."""
    sent: dict[str, float] = {}
    http_ms: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {token}"}
    conn = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def one(uscc: str) -> None:
            nonlocal errors
            start = time.perf_counter()
            sent[uscc] = start
            async with s.post(f"{url}/v1/entities", json=entity_registration(uscc),
                              headers=headers) as resp:
                await resp.read()
                errors += resp.status != 201
            http_ms.append((time.perf_counter() - start) * 1000)

        tasks = []
        begin = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(new_uscc())))
        await asyncio.gather(*tasks)
    return sent, http_ms, errors


async def closed_loop(url: str, token: str, clients: int, seconds: float) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    end = time.perf_counter() + seconds
    async with aiohttp.ClientSession() as s:
        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < end:
                async with s.post(f"{url}/v1/entities", json=entity_registration(new_uscc()),
                                  headers=headers) as resp:
                    await resp.read()
                    done += resp.status == 201
        await asyncio.gather(*(worker() for _ in range(clients)))
    return done / seconds


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = ROOT / ".cache" / "bench"
    shutil.rmtree(work, ignore_errors=True)
    with ExitStack() as stack:
        kafka = KafkaNode.start(ROOT, work / "kafka")
        stack.callback(kafka.stop)
        store = StoreNode.start(work / "store")
        stack.callback(store.stop)
        base = Settings(kafka_bootstrap=kafka.bootstrap, mongo_url=store.url, partitions=3)
        reg = base.for_service("registration").model_copy(update={"http_port": free_port()})
        bid = base.for_service("bidding").model_copy(update={"http_port": free_port()})
        jwks = f"http://127.0.0.1:{reg.http_port}/.well-known/jwks.json"
        procs = {}
        for name, st in (("registration", reg), ("bidding", bid)):
            env = service_env(st, jwks_url=jwks, bootstrap_operator=":".join(OPERATOR),
                              log_level="WARNING")
            procs[name] = ServiceProcess(name, env, work / f"{name}.log", st.http_port).start()
            stack.callback(procs[name].stop)
        return await measure(args, kafka, store, procs, reg)
    raise AssertionError("unreachable")


async def measure(args: argparse.Namespace, kafka: KafkaNode, store: StoreNode,
                  procs: dict[str, ServiceProcess], reg: Settings) -> dict[str, Any]:
    url = procs["registration"].url
    async with aiohttp.ClientSession() as s, s.post(f"{url}/v1/tokens", json={
            "username": OPERATOR[0], "password": OPERATOR[1]}) as resp:
        token = (await resp.json())["access_token"]
    await asyncio.sleep(3)  # consumer groups settle
    pids = {n: p.proc.pid for n, p in procs.items() if p.proc}
    pids.update(store=store.pid, kafka=kafka.pid)
    idle = {n: round(mem_mb(pid, "VmRSS"), 1) for n, pid in pids.items()}
    cpu0 = {n: cpu_s(pid) for n, pid in pids.items()}
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch(kafka.bootstrap, topic_name(Stage.REGISTRATION), seen,
                                        stop))
    await asyncio.sleep(2)
    begin = time.perf_counter()
    sent, http_ms, errors = await offer(url, token, args.rate, args.seconds)
    offered_s = time.perf_counter() - begin
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(store.url)
    projection = mongo["ggzy_bidding"]["entity_projection"]
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline and (  # noqa: ASYNC110 (polls another process)
            await projection.count_documents({}) < len(sent) - errors or
            len(set(sent) & set(seen)) < len(sent) - errors):
        await asyncio.sleep(0.2)
    applied_s = time.perf_counter() - begin
    stop.set()
    await watcher
    cpu1 = {n: cpu_s(pid) for n, pid in pids.items()}
    n_ok = len(sent) - errors
    e2e = [(seen[k] - t) * 1000 for k, t in sent.items() if k in seen]
    per_event_us = {n: round((cpu1[n] - cpu0[n]) / max(n_ok, 1) * 1e6, 1) for n in pids}
    peak = {n: round(mem_mb(pid, "VmHWM"), 1) for n, pid in pids.items()}
    ceiling = await closed_loop(url, token, args.clients, args.closed_seconds)
    libs = ensure_jars(ROOT)
    yardstick = producer_performance(libs, kafka.bootstrap, "bench-yardstick", 200_000, 512)
    await mongo.close()
    return {
        "offered_rate": args.rate, "seconds": args.seconds, "events": n_ok, "errors": errors,
        "throughput_per_s": round(n_ok / offered_s, 1),
        "all_applied_after_s": round(applied_s, 2),
        "http_ms": {p: round(pct(http_ms, p), 2) for p in (50, 95, 99)},
        "end_to_end_ms": {p: round(pct(e2e, p), 2) for p in (50, 95, 99)},
        "end_to_end_mean_ms": round(statistics.fmean(e2e), 2) if e2e else None,
        "cpu_us_per_event": per_event_us,
        "service_cpu_us_per_event": round(per_event_us["registration"]
                                          + per_event_us["bidding"], 1),
        "rss_idle_mb": idle, "rss_peak_mb": peak,
        "closed_loop_ceiling_per_s": round(ceiling, 1),
        "kafka_producer_performance": yardstick,
        "pipeline_to_kafka_ratio": round(n_ok / offered_s / yardstick["records_per_sec"], 5),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--closed-seconds", type=float, default=10)
    result = asyncio.run(main(parser.parse_args()))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / f"pipeline-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written to {path.relative_to(ROOT)}")
