"""What every server-push browser socket shares: coalesced sends, flow control, abuse limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

MAX_FRAME_BYTES = 64 * 1024
RATE_PER_SECOND = 20.0  # sustained frames a browser may send
RATE_BURST = 40.0
MAX_PENDING = 1000  # fragments waiting for a slow browser before we give up on it
MAX_UNACKED = 200  # frames sent that the browser has not yet said it read

# An application may close a socket only with 1000 or 3000-4999 (servers refuse anything else),
# so these mirror the protocol's 1008, 1009 and 1013 in the private range.
CLOSE_FLOOD = 4008  # policy violation: more frames than RATE_PER_SECOND allows
CLOSE_TOO_BIG = 4009  # a frame over MAX_FRAME_BYTES
CLOSE_TOO_FAR_BEHIND = 4013  # try again later: the page reloads and re-renders from state


logger = logging.getLogger(__name__)


class NotJSON(ValueError):
    """A browser frame that is not JSON."""


class PushConsumer(AsyncWebsocketConsumer):
    """A socket the server pushes HTML fragments into.

    Fragments queued while a send is in flight go out together as one frame. The page's script
    acknowledges what it has read (``{"type": "ack", "frames": n}``, n counted from the start);
    while ``MAX_UNACKED`` frames are unread, nothing more is written, because the web server would
    only buffer it in memory for a reader that is not reading. Fragments wait instead, and a reader
    more than ``MAX_PENDING`` fragments behind is closed with ``CLOSE_TOO_FAR_BEHIND``: the browser
    reloads and re-renders from state. Either way server memory stays bounded per socket.
    """

    # No channel of its own: a process-wide hub hands it fragments in-process, so a socket costs
    # no Redis connection and survives a Redis outage.
    channel_layer_alias = "no channel layer"

    _sending_on = False  # between start_sending and stop_sending
    _flusher: asyncio.Task[None] | None = None  # writes queued fragments; runs only while some wait
    # Every fragment shows everything the socket shows (a wall): only the newest one is worth sending.
    whole_state = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The consumer, and ``release`` however it ends.

        A server may cancel an application still running after its client left (daphne does a while
        later; uvicorn on shutdown after its graceful timeout): a connect stuck on the database, a
        disconnect not yet handled: ``disconnect`` never runs then, and what the
        socket held (a place in the hub, a timer, the sender) would stay forever.
        """
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.release()

    async def disconnect(self, code: int) -> None:
        await self.release()

    async def release(self) -> None:
        """Let go of what the socket holds. Idempotent: runs on disconnect and again at the end."""
        await self.stop_sending()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch, without its ``close_old_connections`` thread hop for browser frames.

        Channels takes that hop before every message, on the one thread every ORM call shares, so
        thousands of sockets acknowledging frames queued everyone's database work behind it (a
        quarter of daphne's time with 1000 walls). Receiving a frame touches no database here;
        connect and disconnect, which do, keep the hop.
        """
        if message["type"] != "websocket.receive":
            await super().dispatch(message)
            return
        await self.websocket_receive(message)

    def start_sending(self) -> None:
        self._pending: list[str] = []
        self._overflow = False
        self._allowance, self._allowance_at = RATE_BURST, time.monotonic()
        self._sent = self._acked = 0
        self._sending = False
        self._gone = False  # a send failed: the socket is closing, nothing more goes out
        self._sending_on = True

    async def stop_sending(self) -> None:
        self._sending_on = False
        flusher, self._flusher = self._flusher, None
        if flusher is not None and flusher is not asyncio.current_task():
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher

    @property
    def unread(self) -> int:
        """Frames written that the browser has not acknowledged."""
        return self._sent - self._acked

    def offer(self, html: str) -> None:
        """Queue a fragment for the next frame."""
        if self.whole_state:
            self._pending = [html]  # a newer picture of everything replaces one not yet sent
        elif len(self._pending) >= MAX_PENDING:
            self._overflow = True
        else:
            self._pending.append(html)
        self._kick()

    async def push(self, html: str) -> None:
        """Send a fragment now, from the caller's task, when nothing waits before it and the reader
        keeps up; otherwise queue it as ``offer`` does.

        For one producer feeding many sockets in a loop (the wall feed): no task switch per socket,
        and the producer learns how long its round took.
        """
        if self._sending or self._pending or not self._sending_on or self.unread >= MAX_UNACKED:
            self.offer(html)
            return
        await self._write(html)

    async def _write(self, html: str) -> None:
        """Never raises: producers write to many sockets in turn, and one closing must not stop them."""
        if self._gone:
            return
        self._sending = True
        self._sent += 1
        try:
            await self.send(text_data=html)
        except Exception as exc:  # the server raises once the socket is closing or closed
            logger.debug("socket closing, frame dropped: %s", exc)
            self._gone = True
            self._pending.clear()
        finally:
            self._sending = False
            if self._pending:
                self._kick()  # queued while this frame was being written

    def _kick(self) -> None:
        """Have what waits written, by a task that ends once nothing can go out: an idle socket holds
        no task of its own (thousands of walls and tabs are idle most of the time)."""
        if self._flusher is None and self._sending_on:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while True:
                if self._overflow:
                    self._pending.clear()
                    await self.close(code=CLOSE_TOO_FAR_BEHIND)
                    return
                if not self._pending or self._sending or self.unread >= MAX_UNACKED:
                    return  # an ack, or the write in flight, kicks again
                html, self._pending = "".join(self._pending), []
                await self._write(html)
        finally:
            if self._flusher is asyncio.current_task():
                self._flusher = None

    async def read_frame(self, text_data: str | None, bytes_data: bytes | None) -> dict[str, Any] | None:
        """A browser frame as JSON, or None when it was handled here (an ack) or the socket closed.

        A flood closes with ``CLOSE_FLOOD`` and an oversized frame with ``CLOSE_TOO_BIG``; anything
        but a JSON object raises ``NotJSON`` for the page to answer as it sees fit.
        """
        now = time.monotonic()
        self._allowance = min(RATE_BURST, self._allowance + (now - self._allowance_at) * RATE_PER_SECOND)
        self._allowance_at = now
        if self._allowance < 1:
            await self.close(code=CLOSE_FLOOD)
            return None
        self._allowance -= 1
        size = len(bytes_data) if bytes_data is not None else len((text_data or "").encode())
        if size > MAX_FRAME_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return None
        try:
            frame = json.loads(text_data if text_data is not None else bytes_data or b"")
        except (ValueError, RecursionError):
            raise NotJSON from None
        if not isinstance(frame, dict):
            raise NotJSON
        if frame.get("type") == "ack":
            frames = frame.get("frames")
            if isinstance(frames, int) and not isinstance(frames, bool):
                self._acked = max(self._acked, min(frames, self._sent))
                if self._pending:
                    self._kick()  # fragments held back for this reader may go now
            return None
        return frame
