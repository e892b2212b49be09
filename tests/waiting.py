"""Bounded waiting for conditions that other tasks or processes make true."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any


async def until(
    condition: Callable[[], Any | Awaitable[Any]], *, timeout: float = 5.0, interval: float = 0.01
):
    """Poll ``condition`` (sync or async) until it returns something truthy, and return that.

    The one place the suite polls: state owned by another process (the
    simulator's counters) has no event to wait on.
    """
    async with asyncio.timeout(timeout):
        while True:
            result = condition()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            await asyncio.sleep(interval)
