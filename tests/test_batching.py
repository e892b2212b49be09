"""Batch: items waiting together go to the database thread in one hop, in order, failures apart."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async

from dashboard.batching import Batch

# Every hop closes stale database connections first, as database_sync_to_async does.
pytestmark = pytest.mark.django_db


class Recorder:
    """The work function: records the items done, and on which thread."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.done: list[int] = []
        self.threads: set[int] = set()
        self.fail = fail or set()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, item: int) -> int:
        self.gate.wait(5)
        self.threads.add(threading.get_ident())
        self.done.append(item)
        if item in self.fail:
            raise ValueError(item)
        return item * 10


def count_hops(batch: Batch) -> list[int]:
    """The number of items in each hop ``batch`` makes, as a list filled in as it goes."""
    sizes: list[int] = []
    run_all = batch._run_all

    async def counted(items):
        sizes.append(len(items))
        return await run_all(items)

    batch._run_all = counted
    return sizes


async def test_items_arriving_while_the_thread_is_busy_share_one_hop_in_order():
    work = Recorder()
    work.gate.clear()  # the first item holds the thread while the others arrive
    batch = Batch(work)
    hops = count_hops(batch)
    first = asyncio.ensure_future(batch(0))
    await asyncio.sleep(0.05)
    rest = [asyncio.ensure_future(batch(i)) for i in range(1, 50)]
    await asyncio.sleep(0.05)
    work.gate.set()
    assert await first == 0
    assert await asyncio.gather(*rest) == [i * 10 for i in range(1, 50)]
    assert work.done == list(range(50))
    assert hops == [1, 49]  # the first alone, then everything that waited meanwhile
    assert threading.get_ident() not in work.threads  # never on the event loop's thread


async def test_one_failing_item_fails_only_its_own_caller():
    batch = Batch(Recorder(fail={3}))
    results = await asyncio.gather(*(batch(i) for i in range(6)), return_exceptions=True)
    assert results[:3] == [0, 10, 20]
    assert isinstance(results[3], ValueError)
    assert results[4:] == [40, 50]


async def test_a_caller_that_gives_up_does_not_stop_the_others():
    work = Recorder()
    work.gate.clear()
    batch = Batch(work)
    impatient = asyncio.ensure_future(batch(1))
    patient = asyncio.ensure_future(batch(2))
    await asyncio.sleep(0.05)
    impatient.cancel()
    work.gate.set()
    assert await patient == 20
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert await batch(3) == 30  # and the batch keeps working afterwards


async def test_a_hop_that_fails_as_a_whole_fails_each_caller_with_its_error(monkeypatch):
    batch = Batch(Recorder())

    def unreachable(items):
        raise ConnectionError("database away")

    monkeypatch.setattr(batch, "_run_all", database_sync_to_async(unreachable))
    results = await asyncio.gather(*(batch(i) for i in range(3)), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError] * 3
    monkeypatch.undo()
    assert await batch(4) == 40  # and the next items go through again
