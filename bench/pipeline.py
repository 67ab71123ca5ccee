"""The foundation benchmark: HTTP command -> outbox -> Kafka -> idempotent consumer.

One run starts fresh infrastructure under .cache/bench (the project's Kafka
node and the embedded store nx-27017), registration and bench/projection.py
(the platform's idempotent-consumer pattern, bare) as processes, then:

1. open loop: POST /v1/entities at a steady offered rate for a bounded time,
   fresh valid codes; per request the HTTP latency and the end-to-end latency
   (request due -> the harness's own Kafka consumer sees the key), then the
   time until the projection holds every entity; CPU per event of each process
   from /proc, idle and peak memory;
2. closed loop: N clients back to back for a few seconds (the ceiling);
3. Kafka's own ProducerPerformance on the same broker (the yardstick).

It prints a table, writes the figures as JSON to bench/results/ and stops
everything it started, also on error, Ctrl-C or SIGTERM. See bench/README.md.

    .venv/bin/python bench/pipeline.py --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import profiling  # noqa: E402
from bench.projection import GROUP  # noqa: E402
from contracts.topics import Stage, topic_name  # noqa: E402
from ggzy.dev.kafka import KafkaNode, ensure_jars, free_port, producer_performance  # noqa: E402
from ggzy.dev.store import StoreNode  # noqa: E402
from ggzy.runtime.settings import Settings  # noqa: E402
from ggzy.testing.data import entity_registration, new_uscc  # noqa: E402
from ggzy.testing.processes import service_env  # noqa: E402

WORK = ROOT / ".cache" / "bench"
RESULTS = ROOT / "bench" / "results"
OPERATOR = ("bench-operator", "bench-operator-password-1")
TICK = os.sysconf("SC_CLK_TCK")
PARTITIONS = 3
WARMUP = 200
TARGET_CPU_US = 200.0
TARGET_IDLE_MB = 150.0
Doc = dict[str, Any]


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """A service process in its own session (Ctrl-C reaches only the harness)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.popen.pid

    def start(self, timeout: float = 90.0) -> Proc:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            if _ready(f"{self.url}/readyz"):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in {timeout}s:\n{self.tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (graceful shutdown), SIGKILL after ``timeout``."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def service_argv(module: str, service: str, profile: str, out: Path) -> list[str]:
    """``python [-m cProfile -o out] -m <module> [serve <service>]``."""
    wrap = ["-m", "cProfile", "-o", str(out)] if profile == "cprofile" else []
    tail = ["serve", service] if module == "ggzy" else []
    return [sys.executable, *wrap, "-m", module, *tail]


def start_services(stack: ExitStack, kafka: KafkaNode, store: StoreNode,
                   args: argparse.Namespace, stamp: str) -> dict[str, Proc]:
    base = Settings(kafka_bootstrap=kafka.bootstrap, mongo_url=store.url,
                    partitions=PARTITIONS, log_level=args.log_level)
    procs: dict[str, Proc] = {}
    for name, module in (("registration", "ggzy"), ("projection", "bench.projection")):
        settings = base.for_service(name).model_copy(update={"http_port": free_port()})
        env = service_env(settings, bootstrap_operator=":".join(OPERATOR))
        argv = service_argv(module, name, args.profile, RESULTS / f"{stamp}-{name}.prof")
        procs[name] = Proc(name, argv, env, settings.http_port, WORK / f"{name}.log")
        stack.callback(procs[name].stop)
        procs[name].start()
    return procs


# --------------------------------------------------------------------------- /proc


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def mem_mb(pid: int, key: str) -> float:
    """A memory figure of /proc/<pid>/status (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent not idle (all cores, /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / TICK  # minus idle and iowait


def cpu_snapshot(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_s(pid) for name, pid in pids.items()} | {"machine": machine_busy_s()}


def cpu_per_event_us(before: dict[str, float], after: dict[str, float],
                     events: int) -> dict[str, float]:
    """CPU µs per event of each process, of the machine, and of everything else
    ("other": processes not started by the benchmark, kernel threads)."""
    per = {n: round((after[n] - before[n]) / max(events, 1) * 1e6, 1) for n in before}
    ours = sum(v for n, v in per.items() if n != "machine")
    return per | {"other": round(per["machine"] - ours, 1)}


# --------------------------------------------------------------------------- statistics


def pct(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary_ms(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99/max of durations given in seconds, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    if not ms:
        return {}
    return {"p50": round(pct(ms, 50), 1), "p95": round(pct(ms, 95), 1),
            "p99": round(pct(ms, 99), 1), "max": round(max(ms), 1), "n": len(ms)}


# --------------------------------------------------------------------------- load


@dataclass
class Sample:
    """One request: when it was due, sent and answered (wall clock, s), and how."""

    uscc: str
    due: float
    sent: float = 0.0
    done: float = 0.0
    status: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 201


@dataclass
class Client:
    """The load generator's HTTP side."""

    session: aiohttp.ClientSession
    url: str
    headers: dict[str, str] = field(default_factory=dict)

    async def post(self, body: bytes, sample: Sample) -> None:
        sample.sent = time.time()
        try:
            async with self.session.post(f"{self.url}/v1/entities", data=body,
                                         headers=self.headers) as resp:
                await resp.read()
                sample.status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            sample.error = type(exc).__name__
        sample.done = time.time()


def bodies(count: int) -> list[tuple[str, bytes]]:
    """``count`` registrations with fresh, distinct, valid codes, serialized up front."""
    codes: dict[str, None] = {}
    while len(codes) < count:
        codes[new_uscc()] = None
    return [(c, json.dumps(entity_registration(c), ensure_ascii=False).encode()) for c in codes]


async def open_loop(client: Client, load: list[tuple[str, bytes]], rate: float) -> list[Sample]:
    """Send request i at begin + i/rate whatever the answers do; latency counts from then."""
    begin = time.time() + 0.1
    samples = [Sample(uscc, begin + i / rate) for i, (uscc, _) in enumerate(load)]
    tasks: list[asyncio.Task[None]] = []
    i = 0
    while i < len(samples):
        now = time.time()
        while i < len(samples) and samples[i].due <= now:
            tasks.append(asyncio.create_task(client.post(load[i][1], samples[i])))
            i += 1
        if i < len(samples):
            await asyncio.sleep(max(0.0, samples[i].due - time.time()))
    await asyncio.gather(*tasks)
    return samples


@contextmanager
def collector_paused() -> Iterator[None]:
    """The harness's own cyclic garbage collector off for a timed phase.

    The load generator holds the phase's prepared requests and thousands of tasks in
    flight; its full collections (100-260 ms each, measured with ``gc.callbacks``)
    stopped its event loop, so requests went out late and answers were stamped late,
    and that pause counted in the services' latency. What was prepared is frozen out of
    the collector, which is off during the phase (its garbage waits: a bounded phase,
    ~10,000 requests) and back on after it."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def closed_loop(client: Client, clients: int, seconds: float) -> list[Sample]:
    """``clients`` workers, each sending its next request when the last one is answered."""
    end = time.time() + seconds
    samples: list[Sample] = []

    async def worker() -> None:
        while time.time() < end:
            uscc, body = bodies(1)[0]
            sample = Sample(uscc, time.time())
            samples.append(sample)
            await client.post(body, sample)

    await asyncio.gather(*(worker() for _ in range(clients)))
    return samples


def errors_of(samples: Iterable[Sample]) -> dict[str, int]:
    return dict(Counter(s.error or f"http_{s.status}" for s in samples if not s.ok))


# --------------------------------------------------------------------------- observation


class Tap:
    """The harness's own Kafka consumer: when each key first shows up on the topic.

    Assigned to every partition at the end offsets before the load starts (no
    consumer group, no rebalance); records (seen wall time, record CreateTime),
    the CreateTime being when the relay handed the record to its producer."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.seen: dict[str, tuple[float, float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.admin.start()
        await self.consumer.start()
        self.consumer.assign(self.parts)
        await self.consumer.seek_to_end(*self.parts)
        for tp in self.parts:  # resolve the positions now, not at the first fetch
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def group_caught_up(self, group: str) -> bool:
        """True when ``group`` has committed up to the end of every partition: the
        runtime commits after processing, so every record on the topic is applied."""
        ends = await self.consumer.end_offsets(self.parts)
        committed = await self.admin.list_consumer_group_offsets(group, partitions=self.parts)
        return all(tp in committed and committed[tp].offset >= end for tp, end in ends.items())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=50, max_records=2000)
            now = time.time()
            for records in batch.values():
                for r in records:
                    if r.key is not None:
                        self.seen.setdefault(r.key.decode(), (now, r.timestamp / 1000))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()
        await self.admin.close()


async def applied_at(seen_coll: AsyncCollection[Doc], keys: list[str]) -> dict[str, float]:
    """When the projection's handler applied each of ``keys`` (epoch s)."""
    wanted = set(keys)
    docs = await seen_coll.find({}, {"applied_at": 1}).to_list(None)
    return {d["_id"]: int(d["applied_at"]) / 1000 for d in docs if d["_id"] in wanted}


# --------------------------------------------------------------------------- phases


@dataclass
class Rig:
    """Everything a phase needs."""

    client: Client
    tap: Tap
    seen: AsyncCollection[Doc]
    pids: dict[str, int]
    drain_s: float
    urls: dict[str, str]  # of the services, for /metrics
    group: str = GROUP  # the consumer group whose commits say what is applied

    async def wait_applied(self, keys: list[str]) -> bool:
        """Poll (5/s) until the tap saw every key and the projection's group has
        committed past all of them, or ``drain_s`` passed. Progress is read from
        Kafka, not the store: a count on nx-27017 scans the collection (~9 ms per
        1000 documents) and would load the store being measured."""
        deadline = time.time() + self.drain_s
        while time.time() < deadline:
            if all(k in self.tap.seen for k in keys) and await self.tap.group_caught_up(self.group):
                return True
            await asyncio.sleep(0.2)
        return False


async def warm_up(rig: Rig) -> None:
    """A few hundred registrations first: connections, consumer group, caches."""
    load = bodies(WARMUP)
    samples = await open_loop(rig.client, load, 100.0)
    if errors_of(samples) or not await rig.wait_applied([u for u, _ in load]):
        raise RuntimeError(f"warm-up failed: {errors_of(samples)}")


def store_counters(urls: dict[str, str]) -> dict[str, float]:
    """The services' group-commit counters from /metrics: ``<service> <metric>{kind}``."""
    out: dict[str, float] = {}
    for service, url in urls.items():
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        for line in text.splitlines():
            if line.startswith(("ggzy_store_round_trips_total", "ggzy_store_operations_total")):
                name, _, value = line.rpartition(" ")
                out[f"{service} {name}"] = float(value)
    return out


def store_use(before: dict[str, float], after: dict[str, float], events: int) -> Doc:
    """Per event and service: the store round trips of group commit and the single-document
    operations they carried, by kind (their ratio is the mean batch)."""
    out: Doc = {}
    for key in sorted(after):
        service, name = key.split(" ", 1)
        metric, kind = name.split("{kind=")
        what = "round_trips" if "round_trips" in metric else "operations"
        label = kind.strip('"}')
        out.setdefault(service, {})[f"{label}_{what}"] = round(
            (after[key] - before.get(key, 0.0)) / max(1, events), 3)
    return out


async def measure_open(rig: Rig, rate: float, seconds: float,
                       recordings: list[profiling.Recording]) -> Doc:
    load = bodies(round(rate * seconds))
    counters0 = await asyncio.to_thread(store_counters, rig.urls)
    cpu0 = cpu_snapshot(rig.pids)
    with collector_paused():
        samples = await open_loop(rig.client, load, rate)
    ok = [s for s in samples if s.ok]
    keys = [s.uscc for s in ok]
    drained = await rig.wait_applied(keys)
    cpu1 = cpu_snapshot(rig.pids)
    for recording in recordings:
        await asyncio.to_thread(recording.wait)
    counters1 = await asyncio.to_thread(store_counters, rig.urls)
    applied = await applied_at(rig.seen, keys)
    report = open_report(samples, rig.tap, applied, drained, cpu_per_event_us(cpu0, cpu1, len(ok)))
    return {**report, "store_use_per_event": store_use(counters0, counters1, len(ok))}


def open_report(samples: list[Sample], tap: Tap, applied: dict[str, float], drained: bool,
                cpu_us: dict[str, float]) -> Doc:
    ok = [s for s in samples if s.ok]
    begin = samples[0].due
    last_applied = max(applied.values(), default=begin)
    seen = [(s, tap.seen[s.uscc]) for s in ok if s.uscc in tap.seen]
    return {
        "offered": len(samples), "ok": len(ok), "errors": errors_of(samples),
        "drained": drained, "applied": len(applied),
        "throughput_per_s": round(len(applied) / max(last_applied - begin, 1e-9), 1),
        "accepted_per_s": round(len(ok) / max(max(s.done for s in samples) - begin, 1e-9), 1),
        "all_applied_after_s": round(last_applied - begin, 2),
        "dispatch_lag_ms": summary_ms(s.sent - s.due for s in samples),
        "http_ms": summary_ms(s.done - s.due for s in ok),
        "end_to_end_ms": summary_ms(t[0] - s.due for s, t in seen),
        "stages_ms": {
            "request_to_relay_send": summary_ms(t[1] - s.due for s, t in seen),
            "request_to_harness_consumer": summary_ms(t[0] - s.due for s, t in seen),
            "request_to_projection_apply": summary_ms(
                applied[s.uscc] - s.due for s in ok if s.uscc in applied),
        },
        "cpu_us_per_event": cpu_us,
        "service_cpu_us_per_event": round(cpu_us["registration"] + cpu_us["projection"], 1),
    }


async def measure_closed(rig: Rig, clients: int, seconds: float) -> Doc:
    cpu0 = cpu_snapshot(rig.pids)
    began = time.time()
    samples = await closed_loop(rig.client, clients, seconds)
    answered = time.time() - began
    keys = [s.uscc for s in samples if s.ok]
    drained = await rig.wait_applied(keys)
    cpu = cpu_per_event_us(cpu0, cpu_snapshot(rig.pids), len(keys))
    return {"clients": clients, "seconds": seconds, "ok": len(keys),
            "errors": errors_of(samples), "ceiling_per_s": round(len(keys) / answered, 1),
            "drained": drained, "drained_after_s": round(time.time() - began, 2),
            "http_ms": summary_ms(s.done - s.sent for s in samples if s.ok),
            "cpu_us_per_event": cpu,
            "service_cpu_us_per_event": round(cpu["registration"] + cpu["projection"], 1)}


async def yardstick(kafka: KafkaNode, records: int, size: int) -> Doc:
    """Kafka's ProducerPerformance (acks=all) on the same broker, with its CPU per record."""
    libs = ensure_jars(ROOT)
    cpu0 = cpu_s(kafka.pid)
    perf = await asyncio.to_thread(producer_performance, libs, kafka.bootstrap,
                                   "bench-yardstick", records, size, partitions=PARTITIONS)
    broker_us = (cpu_s(kafka.pid) - cpu0) / records * 1e6
    return {**perf, "record_size": size, "broker_cpu_us_per_record": round(broker_us, 1)}


async def token(session: aiohttp.ClientSession, url: str) -> str:
    body = {"username": OPERATOR[0], "password": OPERATOR[1]}
    async with session.post(f"{url}/v1/tokens", json=body) as resp:
        resp.raise_for_status()
        data: Doc = await resp.json()
        return str(data["access_token"])


# --------------------------------------------------------------------------- run


async def measure(args: argparse.Namespace, kafka: KafkaNode, store: StoreNode,
                  procs: dict[str, Proc], stamp: str) -> Doc:
    pids = {n: p.pid for n, p in procs.items()} | {"store": store.pid, "kafka": kafka.pid,
                                                   "harness": os.getpid()}
    async with harness(args, kafka, store, topic_name(Stage.REGISTRATION)) as (
            session, tap, mongo):
        url = procs["registration"].url
        client = Client(session, url, {"Authorization": f"Bearer {await token(session, url)}",
                                       "Content-Type": "application/json"})
        rig = Rig(client, tap, mongo["ggzy_projection"]["seen"], pids, args.drain_seconds,
                  {n: p.url for n, p in procs.items()})
        return await phases(args, rig, kafka, stamp)


@asynccontextmanager
async def harness(args: argparse.Namespace, kafka: KafkaNode, store: StoreNode, topic: str
                  ) -> AsyncIterator[tuple[aiohttp.ClientSession, Tap, AsyncMongoClient[Doc]]]:
    """The load generator's HTTP session, its tap on ``topic`` (started) and a store
    client, closed whatever happens."""
    tap = Tap(kafka.bootstrap, topic)
    mongo: AsyncMongoClient[Doc] = AsyncMongoClient(store.url)
    timeout = aiohttp.ClientTimeout(total=args.request_timeout)
    connector = aiohttp.TCPConnector(limit=args.connections)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            await tap.start()
            try:
                yield session, tap, mongo
            finally:
                await tap.stop()
    finally:
        await mongo.close()


async def phases(args: argparse.Namespace, rig: Rig, kafka: KafkaNode, stamp: str) -> Doc:
    await warm_up(rig)
    await asyncio.sleep(2)
    idle = {n: mem_mb(pid, "VmRSS") for n, pid in rig.pids.items()}
    recordings = start_py_spy(args, rig.pids, stamp)
    opened = await measure_open(rig, args.rate, args.seconds, recordings)
    peak = {n: mem_mb(pid, "VmHWM") for n, pid in rig.pids.items()}
    closed = await measure_closed(rig, args.clients, args.closed_seconds)
    kafka_perf = await yardstick(kafka, args.kafka_records, args.kafka_record_size)
    return {
        "open_loop": opened, "closed_loop": closed, "kafka_producer_performance": kafka_perf,
        "pipeline_to_kafka_ratio": round(
            opened["throughput_per_s"] / kafka_perf["records_per_sec"], 5),
        "rss_idle_mb": idle, "rss_peak_open_loop_mb": peak,
        "rss_peak_run_mb": {n: mem_mb(pid, "VmHWM") for n, pid in rig.pids.items()},
        "profiles": {r.service: profiling.summarize(r.output)
                     for r in recordings if r.output.exists()},
    }


def start_py_spy(args: argparse.Namespace, pids: dict[str, int],
                 stamp: str) -> list[profiling.Recording]:
    """Sample both services and the store (a Python process too) during the open loop."""
    if args.profile != "py-spy":
        return []
    py_spy = args.py_spy or shutil.which("py-spy")
    if not py_spy:
        raise SystemExit("--profile py-spy: py-spy not found (pass --py-spy PATH)")
    return [profiling.record(py_spy, n, pids[n], args.seconds, RESULTS / f"{stamp}-{n}.txt")
            for n in ("registration", "projection", "store")]


@contextmanager
def fresh_infra(work: Path) -> Iterator[tuple[ExitStack, KafkaNode, StoreNode]]:
    """A Kafka node and an embedded store under ``work`` (wiped first), and the stack
    that stops them and whatever else is pushed on it, whatever happens."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with ExitStack() as stack:
        kafka = KafkaNode.start(ROOT, work / "kafka")
        stack.callback(kafka.stop)
        store = StoreNode.start(work / "store")
        stack.callback(store.stop)
        yield stack, kafka, store


def run(args: argparse.Namespace) -> Doc:
    """Start the infrastructure and services, measure, stop everything (whatever happens);
    then, on the same broker and store, the floor (``--bare``) with the services stopped."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    settings = config(args)
    with fresh_infra(WORK) as (stack, kafka, store):
        procs = start_services(stack, kafka, store, args, stamp)
        figures = asyncio.run(measure(args, kafka, store, procs, stamp))
        for proc in procs.values():
            proc.stop()
        floors = {mode: asyncio.run(measure_bare(args, stack, kafka, store, mode))
                  for mode in bare_modes(args)}
    return {"stamp": stamp, "config": settings, **figures,
            **({"floor": floor_report(figures, floors)} if floors else {})}


# --------------------------------------------------------------------------- the floor


def bare_modes(args: argparse.Namespace) -> list[str]:
    modes = [m for m in args.bare.split(",") if m]
    if unknown := set(modes) - {"one", "many"}:
        raise SystemExit(f"--bare: unknown mode(s) {sorted(unknown)} (one, many)")
    return modes


def start_bare(stack: ExitStack, kafka: KafkaNode, store: StoreNode,
               mode: str) -> tuple[dict[str, Proc], str]:
    """bench/bare.py's command and consumer for one mode, on a topic and database of its
    own; stopped by ``stack`` whatever happens (and at the end of the mode)."""
    topic = f"bench.bare.{mode}.v1"
    procs: dict[str, Proc] = {}
    for role in ("command", "consumer"):
        port = free_port()
        env = {**os.environ, "BARE_ROLE": role, "BARE_PORT": str(port),
               "BARE_BOOTSTRAP": kafka.bootstrap, "BARE_MONGO": store.url, "BARE_TOPIC": topic,
               "BARE_WRITES": mode, "BARE_PARTITIONS": str(PARTITIONS),
               "BARE_DATABASE": f"ggzy_bare_{mode}", "BARE_GROUP": f"bench.bare.{mode}"}
        procs[role] = Proc(f"bare-{mode}-{role}", [sys.executable, "-m", "bench.bare"], env,
                           port, WORK / f"bare-{mode}-{role}.log")
        stack.callback(procs[role].stop)
        procs[role].start()
    return procs, topic


async def measure_bare(args: argparse.Namespace, stack: ExitStack, kafka: KafkaNode,
                       store: StoreNode, mode: str) -> Doc:
    """The floor's warm-up and open loop, measured as the platform's (same load, rate,
    harness): its command in the place of registration, its consumer of the projection."""
    procs, topic = start_bare(stack, kafka, store, mode)
    pids = {"registration": procs["command"].pid, "projection": procs["consumer"].pid,
            "store": store.pid, "kafka": kafka.pid, "harness": os.getpid()}
    try:
        async with harness(args, kafka, store, topic) as (session, tap, mongo):
            client = Client(session, procs["command"].url, {"Content-Type": "application/json"})
            rig = Rig(client, tap, mongo[f"ggzy_bare_{mode}"]["seen"], pids,
                      args.drain_seconds, {}, group=f"bench.bare.{mode}")
            await warm_up(rig)
            await asyncio.sleep(2)
            idle = {n: mem_mb(pid, "VmRSS") for n, pid in pids.items()}
            opened = await measure_open(rig, args.rate, args.seconds, [])
            closed = await measure_closed(rig, args.clients, args.closed_seconds)
            return {**opened, "rss_idle_mb": idle, "closed_loop": closed}
    finally:
        for proc in procs.values():
            proc.stop()


def floor_report(figures: Doc, floors: dict[str, Doc]) -> Doc:
    """Each floor's figures, and the platform's service CPU per event as a multiple of it."""
    platform_us = figures["open_loop"]["service_cpu_us_per_event"]
    ceiling_us = figures["closed_loop"]["service_cpu_us_per_event"]
    return {mode: {**floor, "platform_to_floor_cpu_ratio": round(
        platform_us / max(floor["service_cpu_us_per_event"], 1e-9), 2),
        "closed_loop_platform_to_floor_cpu_ratio": round(
            ceiling_us / max(floor["closed_loop"]["service_cpu_us_per_event"], 1e-9), 2)}
        for mode, floor in floors.items()}


def config(args: argparse.Namespace) -> Doc:
    return {**vars(args), "cpus": os.cpu_count(), "python": platform.python_version(),
            "machine": platform.platform(), "loadavg_at_start": os.getloadavg()}


# --------------------------------------------------------------------------- report


def _lat(d: Doc) -> str:
    return f"{d.get('p50', '-')} / {d.get('p95', '-')} / {d.get('p99', '-')} ms" if d else "-"


def table(r: Doc) -> list[tuple[str, str, str]]:
    o, c, k = r["open_loop"], r["closed_loop"], r["kafka_producer_performance"]
    cpu, idle, peak = o["cpu_us_per_event"], r["rss_idle_mb"], r["rss_peak_run_mb"]
    svc_cpu = o["service_cpu_us_per_event"]
    cfg = r["config"]
    return [
        ("offered (open loop)", f"{cfg['rate']:g}/s x {cfg['seconds']:g} s = {o['offered']}", ""),
        ("accepted (HTTP 201)", f"{o['ok']} ({o['accepted_per_s']}/s), errors {o['errors']}",
         "0 errors"),
        ("throughput end to end", f"{o['throughput_per_s']} events/s", f"{cfg['rate']:g}/s"),
        ("projection has all N after", f"{o['all_applied_after_s']} s ({o['applied']} docs)",
         f"{cfg['seconds']:g} s"),
        ("load generator lag p99", f"{o['dispatch_lag_ms'].get('p99')} ms", "~0"),
        ("HTTP p50/p95/p99", _lat(o["http_ms"]), ""),
        ("end to end p50/p95/p99", _lat(o["end_to_end_ms"]), ""),
        ("  request -> relay send", _lat(o["stages_ms"]["request_to_relay_send"]), ""),
        ("  request -> projection", _lat(o["stages_ms"]["request_to_projection_apply"]), ""),
        ("CPU/event registration", f"{cpu['registration']} µs", ""),
        ("CPU/event projection", f"{cpu['projection']} µs", ""),
        ("service CPU/event (sum)", f"{svc_cpu} µs", _met(svc_cpu <= TARGET_CPU_US, "<= 200 µs")),
        *_store_use_rows(o.get("store_use_per_event", {})),
        ("CPU/event store nx-27017", f"{cpu['store']} µs", "apart"),
        ("CPU/event Kafka broker", f"{cpu['kafka']} µs", "apart"),
        ("CPU/event load generator", f"{cpu['harness']} µs", "apart"),
        ("CPU/event whole machine", f"{cpu['machine']} µs (other processes: {cpu['other']} µs)",
         "other ~0"),
        *_memory_rows(idle, peak),
        ("closed loop CEILING", f"{c['ceiling_per_s']}/s ({c['clients']} clients, "
         f"{c['seconds']:g} s), HTTP {_lat(c['http_ms'])}", "ceiling"),
        ("  closed loop: consumer drained", f"after {c['drained_after_s']} s, "
         f"service CPU/event {c['service_cpu_us_per_event']} µs", ""),
        ("Kafka ProducerPerformance", f"{k['records_per_sec']:,.0f} rec/s "
         f"({k['records']:.0f} x {k['record_size']} B, acks=all, p99 {k['p99_ms']:g} ms)",
         "yardstick"),
        ("  broker CPU/record there", f"{k['broker_cpu_us_per_record']} µs", ""),
        ("pipeline / Kafka", f"{r['pipeline_to_kafka_ratio']}", ""),
        *_floor_rows(r.get("floor", {})),
    ]


def _floor_rows(floors: Doc) -> list[tuple[str, str, str]]:
    rows = []
    for mode, f in floors.items():
        cpu, c = f["cpu_us_per_event"], f["closed_loop"]
        rows += [
            (f"FLOOR ({mode}): bare libraries", f"{f['ok']} accepted, errors {f['errors']}, "
             f"{f['throughput_per_s']} events/s", "same load"),
            ("  floor CPU/event command + consumer", f"{cpu['registration']} + "
             f"{cpu['projection']} = {f['service_cpu_us_per_event']} µs",
             _met(f["service_cpu_us_per_event"] <= TARGET_CPU_US, "<= 200 µs")),
            ("  floor HTTP p50/p95/p99", _lat(f["http_ms"]), ""),
            ("  floor store / Kafka CPU/event", f"{cpu['store']} / {cpu['kafka']} µs "
             f"(other {cpu['other']} µs)", "apart"),
            ("  platform / floor (service CPU)", f"{f['platform_to_floor_cpu_ratio']}", ""),
            ("  floor closed loop CEILING", f"{c['ceiling_per_s']}/s, service CPU/event "
             f"{c['service_cpu_us_per_event']} µs (platform / floor "
             f"{f['closed_loop_platform_to_floor_cpu_ratio']})", "ceiling"),
        ]
    return rows


def _store_use_rows(use: Doc) -> list[tuple[str, str, str]]:
    return [(f"  {service} store trips/event", ", ".join(
        f"{kind} {u.get(f'{kind}_round_trips', 0)} ({u.get(f'{kind}_operations', 0)} ops)"
        for kind in ("write", "read")), "") for service, u in use.items()]


def _memory_rows(idle: Doc, peak: Doc) -> list[tuple[str, str, str]]:
    rows = []
    for name in ("registration", "projection", "store", "kafka"):
        target = _met(idle[name] < TARGET_IDLE_MB, "< 150 MB") if name in (
            "registration", "projection") else "apart"
        rows.append((f"RSS {name} idle / peak", f"{idle[name]} / {peak[name]} MB", target))
    return rows


def _met(ok: bool, target: str) -> str:
    return f"{target} ({'met' if ok else 'NOT met'})"


def print_report(r: Doc) -> None:
    rows = [("figure", "measured", "target"), *table(r)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for service, prof in r.get("profiles", {}).items():
        print(f"\npy-spy {service} ({prof['samples']} samples), self time by package %: "
              f"{prof['self_by_package_pct']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--rate", type=float, default=500, help="offered requests/s (open loop)")
    p.add_argument("--seconds", type=float, default=20, help="open-loop duration")
    p.add_argument("--clients", type=int, default=32, help="closed-loop concurrent clients")
    p.add_argument("--closed-seconds", type=float, default=10, help="closed-loop duration")
    p.add_argument("--connections", type=int, default=256, help="HTTP connection pool size")
    p.add_argument("--request-timeout", type=float, default=30, help="per request, s")
    p.add_argument("--drain-seconds", type=float, default=120, help="max wait for the consumer")
    p.add_argument("--kafka-records", type=int, default=200_000)
    p.add_argument("--kafka-record-size", type=int, default=512)
    p.add_argument("--log-level", default="INFO", help="GGZY_LOG_LEVEL of the services")
    p.add_argument("--profile", choices=("none", "py-spy", "cprofile"), default="none",
                   help="profile the services (py-spy: open-loop phase; cprofile: whole run)")
    p.add_argument("--py-spy", default="", help="path of the py-spy binary")
    p.add_argument("--bare", default="one,many",
                   help="the floor's modes, run after the platform on the same broker and "
                        "store (bench/bare.py: one = insert_one per request, many = group "
                        "commit; empty: none)")
    return p.parse_args(argv)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def bench_main(name: str, parse: Callable[[], argparse.Namespace],
               run_bench: Callable[[argparse.Namespace], Doc],
               report: Callable[[Doc], None]) -> int:
    """The entry point of every benchmark: run it, stop cleanly on SIGTERM or Ctrl-C
    (everything it started is stopped by its own clean-up), write and print the figures."""
    args = parse()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = run_bench(args)
    except KeyboardInterrupt:
        print("interrupted: everything the benchmark started is stopped", file=sys.stderr)
        return 130
    path = RESULTS / f"{name}-{result['stamp']}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    report(result)
    print(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


def main() -> int:
    return bench_main("pipeline", parse_args, run, print_report)


if __name__ == "__main__":
    sys.exit(main())
