"""batching.settled: the outcomes of a group commit's futures, as gather would give them."""

from __future__ import annotations

import asyncio

import pytest

from ggzy.runtime.batching import settled


async def test_each_result_or_exception_comes_in_order_once_all_have_settled() -> None:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(4)]
    futures[0].set_result(1)  # one already settled, the others later
    loop.call_soon(futures[1].set_exception, KeyError("missing"))
    loop.call_soon(futures[2].set_result, None)
    loop.call_soon(futures[3].cancel)
    outcomes = await settled(futures)
    assert outcomes[0] == 1 and outcomes[2] is None
    assert isinstance(outcomes[1], KeyError) and isinstance(outcomes[3], asyncio.CancelledError)
    assert outcomes == [o for o in await asyncio.gather(*futures[:3], return_exceptions=True)
                        ] + [outcomes[3]]


async def test_cancelling_the_caller_leaves_the_futures_for_their_flusher() -> None:
    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in range(2)]
    waiting = asyncio.create_task(settled(futures))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not any(f.done() for f in futures)  # still settable by the store's flusher
    futures[0].set_result(1)
    futures[1].set_result(2)
    assert await settled(futures) == [1, 2]
