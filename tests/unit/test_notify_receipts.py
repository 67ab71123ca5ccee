"""Receipts of one turn go out in one publication, each its own event (no broker)."""

from __future__ import annotations

import asyncio

import pytest

from contracts.notify import NotificationDelivered
from ggzy.runtime.aggregates import Cause, Outgoing
from services.notify.lanes import Receipts

Groups = list[tuple[list[tuple[Outgoing, str]], Cause]]


def event(n: int) -> tuple[Outgoing, str]:
    return Outgoing(NotificationDelivered.model_construct()), f"receipt-{n}"


async def test_receipts_of_one_turn_share_a_publication_each_under_its_id_and_cause() -> None:
    calls: list[Groups] = []

    async def publish_all(groups: Groups) -> None:
        calls.append(groups)

    receipts = Receipts(publish_all)
    acked = [receipts.publish(event(n), Cause(message_id=f"m{n}", correlation_id="c"))
             for n in range(3)]
    await asyncio.gather(*acked)
    later = receipts.publish(event(3), Cause(message_id="m3", correlation_id="c"))
    await later
    assert [[(events[0][1], cause.message_id) for events, cause in groups] for groups in calls] \
        == [[("receipt-0", "m0"), ("receipt-1", "m1"), ("receipt-2", "m2")],
            [("receipt-3", "m3")]]
    assert all(len(events) == 1 for groups in calls for events, _ in groups)


async def test_a_failed_publication_fails_every_receipt_it_carried() -> None:
    async def publish_all(groups: Groups) -> None:
        raise ConnectionError("broker gone")

    receipts = Receipts(publish_all)
    acked = [receipts.publish(event(n), Cause(message_id=f"m{n}")) for n in range(2)]
    for one in acked:
        with pytest.raises(ConnectionError, match="broker gone"):
            await one
