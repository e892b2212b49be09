"""Across processes: rendered updates, session state, resyncs and sign-outs, once per process.

Each web process has one channel on the channel layer (Redis in production; none in the embedded
default, where there is one process). It joins two kinds of group for the users whose tabs it serves:
``relay.customer.<customer id>`` carries rendered updates, once per event for all of that customer's
users whose own sessions delivered it (with the notices decided for each); ``relay.user.<pk>`` carries
one user's session state, resyncs and sign-outs. Updates wait ``PUBLISH_DELAY`` for the other
sessions delivering the same event, so they cross once for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from dashboard.layers import private_layer
from dashboard.relay.pipeline import Update

logger = logging.getLogger(__name__)

LAYER_CONCURRENCY = 20
"""Channel-layer calls in flight at once: channels_redis' pool (100 connections) raises rather than
waits when they run out, as a thousand tabs reconnecting together would make them."""
PUBLISH_DELAY = 0.005
"""How long an update waits for the other sessions delivering the same event, so that it crosses to
other processes once for all of their users instead of once per user (100 supervisors: 100x fewer)."""


def relay_group(user_pk: int) -> str:
    """The channel-layer group of the processes serving a user's tabs (one channel each)."""
    return f"relay.user.{user_pk}"


def customer_group(customer_id: str) -> str:
    """The group of the processes serving any tab of a customer's users: where updates go."""
    return f"relay.customer.{customer_id}"


class Crossing:
    """This process's channel, and what it sends to and hears from the others."""

    def __init__(self, *, spawn: Callable[[Coroutine[Any, Any, Any]], None]) -> None:
        self.loop = asyncio.get_running_loop()
        self.process_id = uuid.uuid4().hex
        self.layer = private_layer()
        self.channel: str | None = None
        self.cut_off = False
        """Redis was unreachable since the owner last looked (``dashboard.relay.hub.Hub._maintain``)."""
        self._spawn = spawn
        # Updates on their way to other processes: (customer, event key) → the update, and each
        # user whose own session delivered it with the notices decided for them.
        self._outgoing: dict[tuple[str, str], tuple[Update, list[tuple[int, list[str]]]]] = {}
        self._flush_at: asyncio.TimerHandle | None = None
        self._slots = asyncio.Semaphore(LAYER_CONCURRENCY)

    async def open(self, on_message: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        if self.layer is not None:
            self.channel = await self.layer.new_channel("relay.")
            self._spawn(self._listen(on_message))

    async def close(self) -> None:
        if self.layer is not None:
            await self.layer.close_pools()

    async def to_user(self, user_pk: int, message: dict[str, Any]) -> None:
        """Once per process serving this user's tabs, not once per socket."""
        await self._send_group(relay_group(user_pk), {**message, "user": user_pk})

    def update(self, customer_id: str, key: str, update: Update, user_pk: int, notices: list[str]) -> None:
        """Queue the update for the processes serving this customer's tabs, with the users it is for."""
        if self.layer is None:
            return
        _, users = self._outgoing.setdefault((customer_id, key), (update, []))
        users.append((user_pk, notices))
        if self._flush_at is None:
            self._flush_at = self.loop.call_later(PUBLISH_DELAY, lambda: self._spawn(self._flush_updates()))

    async def join(self, user_pk: int, customer_id: str) -> None:
        if self.layer is not None and self.channel is not None:
            try:
                async with self._slots:
                    await self.layer.group_add(relay_group(user_pk), self.channel)
                    await self.layer.group_add(customer_group(customer_id), self.channel)
            except Exception:
                self.cut_off = True

    async def leave(self, user_pk: int, customer_id: str, *, customer_still_here: bool) -> None:
        if self.layer is not None and self.channel is not None:
            with contextlib.suppress(Exception):
                async with self._slots:
                    await self.layer.group_discard(relay_group(user_pk), self.channel)
                    if not customer_still_here:
                        await self.layer.group_discard(customer_group(customer_id), self.channel)

    async def _send_group(self, group: str, message: dict[str, Any]) -> None:
        if self.layer is None:
            return
        try:
            async with self._slots:
                await self.layer.group_send(group, {**message, "origin": self.process_id})
        except Exception as exc:
            logger.warning("relay to other processes (%s) failed: %s", group, exc)
            self.cut_off = True

    async def _flush_updates(self) -> None:
        self._flush_at = None
        outgoing, self._outgoing = self._outgoing, {}
        for (customer_id, key), (update, users) in outgoing.items():
            message = {
                "type": "relay.updates",
                "key": key,
                "topics": update.topics,
                "fragments": update.fragments,
            }
            # Pairs, not a map: msgpack (channels_redis) reads back string keys only.
            await self._send_group(customer_group(customer_id), {**message, "users": users})

    async def _listen(self, on_message: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """This process's channel: updates, state, resyncs and sign-outs from other processes."""
        layer, channel = self.layer, self.channel
        if layer is None or channel is None:
            return
        failures = 0
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                self.cut_off = True
                logger.warning("relay channel unavailable (%s); retrying", exc)
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
                continue
            failures = 0
            if message.get("origin") == self.process_id:
                continue
            try:
                await on_message(message)
            except Exception:
                logger.exception("relay message %s failed", message.get("type"))
