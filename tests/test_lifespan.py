"""The web process's lifespan: the collector settled at start-up, the relay shut down at the end."""

from __future__ import annotations

import asyncio
import gc

from dashboard import heap
from dashboard.lifespan import lifespan


async def test_startup_settles_the_collector_and_shutdown_lets_the_relay_go(monkeypatch):
    stopped = []

    async def shut(name: str) -> None:
        stopped.append(name)

    monkeypatch.setattr("dashboard.lifespan.shutdown_feed", lambda: shut("walls"))
    monkeypatch.setattr("dashboard.lifespan.shutdown_hub", lambda: shut("relay"))
    thresholds = gc.get_threshold()
    incoming: asyncio.Queue = asyncio.Queue()
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    try:
        running = asyncio.create_task(lifespan({"type": "lifespan"}, incoming.get, send))
        await incoming.put({"type": "lifespan.startup"})
        await asyncio.sleep(0.01)
        assert sent == [{"type": "lifespan.startup.complete"}]
        assert gc.get_threshold() == (heap.YOUNG_ALLOCATIONS, heap.MIDDLE_EVERY, heap.OLD_EVERY)
        assert gc.get_freeze_count() > 0
        await incoming.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(running, 5)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)

    assert stopped == ["walls", "relay"]  # the feed uses the hub's account feeds: it goes first
    assert sent[-1] == {"type": "lifespan.shutdown.complete"}
