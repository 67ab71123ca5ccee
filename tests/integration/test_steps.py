"""Many decisions at once (steps.apply_many) on the real store: order per aggregate,
redelivery, failures, and the cached copies it writes on without reading."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ggzy.runtime.aggregates import Aggregates, Applied, Cause, Change, Outgoing
from ggzy.runtime.batching import Store
from ggzy.runtime.errors import DomainError
from ggzy.runtime.metrics import Metrics
from ggzy.runtime.outbox import OutboxRelay, new_producer
from ggzy.runtime.service import ensure_topics
from ggzy.runtime.settings import Settings
from ggzy.runtime.steps import Step, apply_many
from ggzy.testing.infra import Infra
from tests.integration.test_outbox import Env, partner, published


@pytest.fixture
async def env(infra: Infra) -> AsyncIterator[Env]:
    e = Env(infra)
    await ensure_topics(Settings(kafka_bootstrap=infra.kafka_bootstrap, partitions=1), [e.topic])
    store = Store(e.mongo)
    await store.start()
    e.aggs = Aggregates(e.coll, source="/test", topic_prefix=e.prefix, on_queued=lambda: None,
                        store=store, cache_size=100)
    yield e
    await e.mongo.drop_database(f"{e.prefix}_outbox")
    await e.mongo.close()


def seen(tag: str, *, event: str | None = None) -> Any:
    """A decision that appends ``tag`` to the state's ``seen`` (and emits an event)."""
    def decide(state: dict[str, Any]) -> Change:
        events = [Outgoing(partner(event, name=tag))] if event else []
        return Change(set={"seen": [*state.get("seen", []), tag]}, events=events)
    return decide


def step(aid: str, tag: str, message: str, **kw: Any) -> Step:
    return Step(aid, seen(tag, **kw), Cause(message_id=message), new=lambda: {"seen": []})


async def test_steps_of_one_aggregate_apply_in_order_and_a_redelivered_one_once(
        env: Env) -> None:
    outcomes = await apply_many(env.aggs, [
        step("a", "1", "m1"), step("b", "x", "m9"), step("a", "2", "m2"),
        step("a", "1", "m1"), step("a", "3", "m3")])
    assert [o.version for o in outcomes if isinstance(o, Applied)] == [1, 1, 2, 2, 3]
    assert [isinstance(o, Applied) and o.duplicate for o in outcomes] == [
        False, False, False, True, False]
    doc = await env.aggs.get("a")
    assert doc is not None and doc["seen"] == ["1", "2", "3"] and doc["version"] == 3
    assert set(doc["processed"]) == {"m1", "m2", "m3"}


async def test_a_refusal_lets_the_aggregate_go_on_and_a_failure_stops_its_later_steps(
        env: Env) -> None:
    def refuse(state: dict[str, Any]) -> Change:
        raise DomainError("refused", "not now")

    def broken(state: dict[str, Any]) -> Change:
        raise RuntimeError("bug")

    def new() -> dict[str, Any]:
        return {"seen": []}

    outcomes = await apply_many(env.aggs, [
        Step("c", refuse, Cause(message_id="m1"), new), step("c", "2", "m2"),
        Step("d", broken, Cause(message_id="m3"), new), step("d", "4", "m4"),
        step("e", "5", "m5")])
    assert isinstance(outcomes[0], DomainError) and isinstance(outcomes[1], Applied)
    assert isinstance(outcomes[2], RuntimeError) and outcomes[3] is outcomes[2]
    assert isinstance(outcomes[4], Applied)
    assert await env.aggs.get("d") is None  # its later step did not overtake the failed one
    doc = await env.aggs.get("c")
    assert doc is not None and doc["seen"] == ["2"]


async def test_a_cached_copy_another_writer_changed_is_read_again(env: Env) -> None:
    await apply_many(env.aggs, [step("f", "1", "m1")])
    assert "f" in env.aggs.cache
    await env.aggs.update("f", lambda s, v: Change(set={"seen": [*s["seen"], "other"]}))
    [outcome] = await apply_many(env.aggs, [step("f", "2", "m2")])
    assert isinstance(outcome, Applied) and outcome.version == 3
    doc = await env.aggs.get("f")
    assert doc is not None and doc["seen"] == ["1", "other", "2"]  # nothing lost


async def test_a_cached_copy_is_written_on_without_a_read(env: Env) -> None:
    await apply_many(env.aggs, [step("g", "1", "m1")])
    reads = env.aggs.store.stats["reads"]
    [outcome] = await apply_many(env.aggs, [step("g", "2", "m2")])
    assert isinstance(outcome, Applied) and outcome.version == 2
    assert env.aggs.store.stats["reads"] == reads
    doc = await env.aggs.get("g")
    assert doc is not None and doc["seen"] == ["1", "2"]


async def test_events_the_relay_has_not_cleared_yet_are_not_taken_for_relayed(
        env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    producer = new_producer(env.infra.kafka_bootstrap)
    await producer.start()
    relay = OutboxRelay([env.coll], producer, Metrics(), interval_s=0.1,
                        store=env.aggs.store)
    env.aggs.on_fresh, env.aggs.lease_new = relay.offer, relay.lease_new
    await apply_many(env.aggs, [step("p-h", "1", "m1", event="p-h")])

    async def refuse(*_: object, **__: object) -> None:
        raise RuntimeError("the broker refused the batch")

    monkeypatch.setattr(producer, "send_batch", refuse)
    await relay.relay_fresh()  # not published: released, still pending (unlike the cache)
    monkeypatch.undo()
    await apply_many(env.aggs, [step("p-h", "2", "m2", event="p-h")])
    doc = await env.aggs.get("p-h")
    assert doc is not None and len(doc["outbox"]) == 2 and doc["outbox_pending"] == 1
    await relay.relay_fresh()
    await relay.flush()
    doc = await env.aggs.get("p-h")
    assert doc is not None and doc["outbox"] == {} and doc["outbox_pending"] == 0
    names = [r.json()["name"] for r in await published(env, "p-h", relay, at_least=2)]
    assert names == ["1", "2"]


async def test_the_cached_copy_is_the_stored_document_once_relayed(env: Env) -> None:
    """The cache holds documents, not copies of them: after writes on nested paths it is
    what the store holds once the outbox is cleared, and the state a decision was handed
    is left as it was."""
    def nest(tag: str) -> Any:
        def decide(state: dict[str, Any]) -> Change:
            return Change(set={f"tags.{tag}": {"at": tag}, "count": state.get("count", 0) + 1})
        return decide

    handed: list[dict[str, Any]] = []

    def keep(tag: str) -> Any:
        inner = nest(tag)

        def decide(state: dict[str, Any]) -> Change:
            handed.append({k: dict(v) if isinstance(v, dict) else v for k, v in state.items()})
            handed.append(state)
            return inner(state)
        return decide

    await apply_many(env.aggs, [Step("n", nest("a"), Cause(message_id="m1"),
                                     new=lambda: {"tags": {}})])
    for n, tag in enumerate(("b", "c"), start=2):
        await apply_many(env.aggs, [Step("n", keep(tag), Cause(message_id=f"m{n}"))])
    stored = await env.aggs.get("n")
    assert stored is not None and env.aggs.cache["n"] == {
        **stored, "outbox": {}, "outbox_pending": 0, "relay_lease": 0, "relay_owner": None}
    assert stored["tags"] == {"a": {"at": "a"}, "b": {"at": "b"}, "c": {"at": "c"}}
    assert stored["count"] == 3 and stored["version"] == 3
    for before, state in zip(handed[::2], handed[1::2], strict=True):
        assert state == before  # the state handed to a decision was not changed by the write
