"""Database work for many events in one thread hop instead of one hop each.

Every ORM call from async code runs on one shared thread (``database_sync_to_async``). A hop there
costs little on an idle process, but on a busy one the thread must win the GIL back from the event
loop after each SQLite or socket call: hops queue, and a burst of events waits behind itself.
``Batch`` hands the thread everything that arrived while it was busy, in arrival order, in one hop,
so a burst costs a few hops however many events it holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

from channels.db import database_sync_to_async

T = TypeVar("T")
R = TypeVar("R")


class Batch(Generic[T, R]):
    """``await batch(item)`` is ``await database_sync_to_async(work)(item)``, with items that wait
    at the same time done together in one call on the database thread, in the order they came.

    One item failing fails only its own caller. Create one per event loop (per hub, per feed).
    """

    def __init__(self, work: Callable[[T], R]) -> None:
        self._work = work
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None
        self._run_all = database_sync_to_async(self._do_all)

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    outcomes = await self._run_all([item for item, _ in batch])
                except asyncio.CancelledError:  # shutdown: nobody gets an answer
                    for _, future in batch:
                        future.cancel()
                    raise
                except Exception as exc:  # the hop itself failed (no database connection): all of them
                    outcomes = [(False, exc)] * len(batch)
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller gave up waiting
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._runner = None

    def _do_all(self, items: list[T]) -> list[tuple[bool, R | BaseException]]:
        outcomes: list[tuple[bool, R | BaseException]] = []
        for item in items:
            try:
                outcomes.append((True, self._work(item)))
            except Exception as exc:
                outcomes.append((False, exc))
        return outcomes
