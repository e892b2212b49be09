"""One accepted event WebSocket: its subscriptions, bounded outbox and keepalive.

Frames are queued synchronously by the hub and written by a task of their
own, so a slow reader never slows publication: past ``buffer_limit`` queued
frames, new ones are dropped and counted (VOIPBIN.md §1). Pings are answered
and sent by hand (``autoping=False``) so a stalled server can stop doing both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import WSMessage, WSMsgType, web

from dashboard.voipbin.topics import Principal

Frame = str | bytes


@dataclass(slots=True)
class Flow:
    """Server-wide write conditions the test controls change (stall, slow)."""

    running: asyncio.Event = field(default_factory=asyncio.Event)
    delay: float = 0.0

    def __post_init__(self) -> None:
        self.running.set()

    @property
    def stalled(self) -> bool:
        return not self.running.is_set()


class Connection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request,
        principal: Principal,
        *,
        flow: Flow,
        buffer_limit: int,
        ping_interval: float,
        pong_timeout: float,
    ) -> None:
        self.ws = ws
        self.principal = principal
        self.subscriptions: set[str] = set()
        self.dropped = 0
        self.aborted = False
        self._request = request
        self._flow = flow
        self._buffer: deque[Frame] = deque()
        self._buffer_limit = buffer_limit
        self._pending = asyncio.Event()
        self._ping_interval = ping_interval
        self._pong_timeout = pong_timeout
        self._last_pong = asyncio.get_running_loop().time()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Connection:
        self._tasks = [asyncio.create_task(self._write_loop()), asyncio.create_task(self._ping_loop())]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def enqueue(self, frame: Frame) -> bool:
        if len(self._buffer) >= self._buffer_limit:
            self.dropped += 1
            return False
        self._buffer.append(frame)
        self._pending.set()
        return True

    def abort(self) -> None:
        """Drop the TCP connection with no close frame: the client sees 1006."""
        self.aborted = True
        transport = self._request.transport
        if transport is not None:
            transport.abort()

    async def receive(self) -> WSMessage | None:
        """The next text or binary frame; None once the socket is closing or gone."""
        while True:
            message = await self.ws.receive()
            if message.type is WSMsgType.PING:
                if not self._flow.stalled:
                    await self.ws.pong(message.data)
            elif message.type is WSMsgType.PONG:
                self._last_pong = asyncio.get_running_loop().time()
            elif message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                return message
            else:
                return None

    async def _write_loop(self) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await self._pending.wait()
                await self._flow.running.wait()
                if self._flow.delay:
                    await asyncio.sleep(self._flow.delay)
                # The frame leaves the buffer only once written, so it counts against the limit till then.
                frame = self._buffer[0]
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)
                self._buffer.popleft()
                if not self._buffer:
                    self._pending.clear()

    async def _ping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError):
            while True:
                await asyncio.sleep(self._ping_interval)
                if self._flow.stalled:
                    continue
                if loop.time() - self._last_pong > self._pong_timeout:
                    self.abort()
                    return
                await self.ws.ping()
