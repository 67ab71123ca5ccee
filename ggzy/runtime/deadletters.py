"""Dead letters for operators: list a consumer group's, and replay them once fixed.

A message that its group could not process (bad data, an unknown tender, a failure
that outlived the retries) is on the group's dead-letter topic with the original
record and ``dlq_*`` headers saying why (``consumer.Dispatcher._dead_letter``). After
the cause is fixed (the tender it needed has arrived, a bug fix is deployed), an
operator replays it: the original record, headers and key go to the group's *retry*
topic, which only that group reads (``Runtime.subscription``), so other groups and
partners never see it twice. The consumer applies a replayed message as any other:
once (its ce_id is recorded with its effect), or to the dead-letter topic again with
its new reason. Each replay names its dead letter (``ggzy_replay_of``), so the list
shows what was replayed already and a second replay of the same letter needs
``--again`` (harmless anyway: the consumer deduplicates).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import dead_letter_topic, retry_topic
from ggzy.runtime.lag import topic_partitions
from ggzy.runtime.outbox import new_producer

REPLAY_OF = "ggzy_replay_of"  # header of a replayed record: "<dead-letter topic>:<p>:<offset>"


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def ref(self) -> str:
        """How the list and ``--offset`` name it: ``partition:offset``."""
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        return next((v.decode(errors="replace") for k, v in self.headers if k == name), "")

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had before it was dead-lettered."""
        return [(k, v) for k, v in self.headers if not k.startswith("dlq_") and k != REPLAY_OF]


Raw = tuple[int, int, bytes | None, bytes, tuple[tuple[str, bytes], ...]]


async def read_all(bootstrap: str, topic: str, timeout_s: float = 30.0) -> list[Raw]:
    """Every record of ``topic`` from the start to its end offsets now (no group, nothing
    committed): (partition, offset, key, value, headers). A topic that does not exist
    yet has none."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        if topic not in await admin.list_topics():
            return []
        parts = (await topic_partitions(admin, [topic]))[topic]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Raw] = []
        deadline = time.monotonic() + timeout_s
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending and time.monotonic() < deadline:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batch.items():
                out.extend((r.partition, r.offset, r.key, r.value or b"", tuple(r.headers or ()))
                           for r in records if r.offset < ends[tp])
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        if pending:
            raise TimeoutError(f"{topic}: not read to its end within {timeout_s} s")
        return sorted(out, key=lambda r: (r[0], r[1]))
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Letters:
    """A group's dead letters, and how often each was replayed."""

    group: str
    topic: str
    retry: str
    letters: list[DeadLetter]
    replays: dict[str, int]  # "partition:offset" -> replays on the retry topic


async def letters(bootstrap: str, group: str, prefix: str = "") -> Letters:
    """The dead letters of ``group`` (its name without the deployment's prefix)."""
    topic = dead_letter_topic(group, prefix=prefix)
    retry = retry_topic(group, prefix=prefix)
    found = [DeadLetter(*r) for r in await read_all(bootstrap, topic)]
    replays: dict[str, int] = {}
    for *_, headers in await read_all(bootstrap, retry):
        of = next((v.decode() for k, v in headers if k == REPLAY_OF), "")
        if of.startswith(topic + ":"):
            ref = of[len(topic) + 1:]
            replays[ref] = replays.get(ref, 0) + 1
    return Letters(group, topic, retry, found, replays)


def select(found: Letters, *, refs: Iterable[str] = (), reason: str = "",
           again: bool = False) -> list[DeadLetter]:
    """The letters to replay: those named (``partition:offset``), else those of
    ``reason``, else all; not those replayed already, unless ``again``."""
    wanted = set(refs)
    unknown = wanted - {d.ref for d in found.letters}
    if unknown:
        raise ValueError(f"no dead letter {', '.join(sorted(unknown))} on {found.topic}")
    chosen = [d for d in found.letters
              if (d.ref in wanted if wanted else (not reason or d.header("dlq_reason") == reason))]
    return [d for d in chosen if again or not found.replays.get(d.ref)]


async def replay(bootstrap: str, found: Letters, chosen: list[DeadLetter]) -> int:
    """Send each chosen letter's original record to the group's retry topic, in order,
    acknowledged by every replica (the idempotent producer, acks=all)."""
    if not chosen:
        return 0
    producer = new_producer(bootstrap)
    try:
        await producer.start()
        sent = [await producer.send(found.retry, d.value, key=d.key, headers=[
            *d.original_headers(), (REPLAY_OF, f"{found.topic}:{d.ref}".encode())])
            for d in chosen]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return len(chosen)


def describe(found: Letters) -> list[str]:
    """The list as lines: one per letter, then a summary per reason."""
    lines = [f"{found.topic}: {len(found.letters)} dead letter(s); replays go to {found.retry}"]
    by_reason: dict[str, int] = {}
    for d in found.letters:
        reason = d.header("dlq_reason")
        by_reason[reason] = by_reason.get(reason, 0) + 1
        when = d.header("dlq_time")
        with_time = datetime.fromisoformat(when).strftime("%Y-%m-%d %H:%M:%S") if when else "?"
        replayed = found.replays.get(d.ref, 0)
        lines.append(
            f"  {d.ref:>8}  {with_time}  {reason:<24} {d.header('ce_type') or '?'}"
            f"  key={(d.key or b'').decode(errors='replace')}"
            f"  from {d.header('dlq_topic')}:{d.header('dlq_partition')}:"
            f"{d.header('dlq_offset')}  attempts={d.header('dlq_attempts')}"
            + (f"  replayed={replayed}" if replayed else "")
            + (f"\n{'':12}{d.header('dlq_detail')[:300]}" if d.header("dlq_detail") else ""))
    lines += [f"  {n} x {reason}" for reason, n in sorted(by_reason.items())]
    return lines
