"""The wall displays' feed: every open wall of an account re-rendered once per tick, whatever their number.

Walls must work with nobody signed in, so they follow the account, not a user. Changes reach a
process in two ways: the account relay (``manage.py runrelay``) applies the account's events to live
state and sends ``account.changed`` to the channel-layer group ``account.<pk>``; in the embedded
default (``RELAY_IN_WEB``, no Redis) this process holds the account's feed (``dashboard.accountfeed``,
the same session agents' pages use) while a wall of the account is open, and every change the hub
applies for the customer notifies its walls. Either way a change only marks the account dirty; the
ticker renders its panels once from state and hands the same HTML to each local wall socket. A wall
is checked against the database every few seconds, so a revoked or expired link closes its sockets
within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Coroutine, Mapping
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from dashboard.accountfeed import AccountFeeds
from dashboard.layers import private_layer
from dashboard.models import Account
from dashboard.voipbin.upstream import SessionStatus, State
from dashboard.walls import tokens
from dashboard.walls.panels import UPDATED, render_panels

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.05  # bursts of events become one render per account per tick
RECHECK_SECONDS = 2.0  # how soon a revoked link closes its sockets
CLOSE_REVOKED = 4410


def account_group(account_pk: int) -> str:
    return f"account.{account_pk}"


def upstream_summary(status: SessionStatus) -> dict[str, Any]:
    """What a wall says of its account's VoIPBIN session (plain values: it crosses the channel layer)."""
    return {
        "live": status.state is State.LIVE,
        "heard_at": status.heard_at,
        "silent_since": status.silent_since,
        "as_of": status.as_of,
    }


async def publish_status(account_pk: int, status: SessionStatus) -> None:
    """Tell every web process how the account's session is (from the relay worker)."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(
            account_group(account_pk),
            {"type": "account.status", "account": account_pk, "upstream": upstream_summary(status)},
        )


async def publish_change(account_pk: int) -> None:
    """Tell every web process that the account's live state changed (from the relay worker)."""
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(account_group(account_pk), {"type": "account.changed", "account": account_pk})


class WallSocket(Protocol):
    wall_id: int
    account_id: int
    panels: tuple[str, ...]

    def offer(self, html: str) -> None: ...
    async def push(self, html: str) -> None: ...
    async def end(self, code: int) -> None: ...


Render = Callable[[int, Collection[str], Mapping[str, Any] | None], dict[str, str]]


class WallFeed:
    """Process-wide: the wall sockets here, grouped by account, and what keeps them current."""

    def __init__(
        self,
        *,
        render: Render,
        feeds: Callable[[], AccountFeeds] | None = None,
        own_sessions: bool | None = None,
    ) -> None:
        """``feeds``: the process's account feeds (the hub's), used when ``own_sessions`` (the embedded
        default, ``RELAY_IN_WEB``): no relay worker then tells this process of the account's changes."""
        self.loop = asyncio.get_running_loop()
        self._render = render
        self._feeds = feeds
        self.own_sessions = settings.RELAY_IN_WEB if own_sessions is None else own_sessions
        self.sockets: dict[int, set[WallSocket]] = {}
        self.followed: dict[int, str] = {}  # account → customer whose feed a wall here holds
        self.updated_at: dict[int, float] = {}
        self.upstream: dict[int, dict[str, Any]] = {}  # account → upstream_summary of its session
        self._customers: dict[str, int] = {}  # customer id → account pk, for the walls open here
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()
        self.layer = private_layer()
        self.channel: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start(self) -> None:
        self._started = True
        if self.layer is not None:
            self.channel = await self.layer.new_channel("walls.")
            self._spawn(self._listen())
        self._spawn(self._tick())

    # -- sockets -------------------------------------------------------------------------------

    async def attach(self, socket: WallSocket) -> None:
        if not self._started:
            await self._start()
        account_pk = socket.account_id
        first = account_pk not in self.sockets
        self.sockets.setdefault(account_pk, set()).add(socket)
        if first:
            await self._follow(account_pk)
        parts = await database_sync_to_async(self._render)(
            account_pk, socket.panels, self.upstream.get(account_pk)
        )
        socket.offer(_for(socket, parts))

    async def detach(self, socket: WallSocket) -> None:
        sockets = self.sockets.get(socket.account_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self.sockets[socket.account_id]
            await self._unfollow(socket.account_id)

    def notify(self, account_pk: int) -> None:
        """The account's state changed: re-render its walls on the next tick."""
        self.updated_at[account_pk] = time.time()
        if account_pk in self.sockets:
            self._dirty.add(account_pk)
            self._wake.set()

    def notify_customer(self, customer_id: str) -> None:
        """A change this process applied for some customer (a user's session or an account feed saw it)."""
        account_pk = self._customers.get(customer_id)
        if account_pk is not None:
            self.notify(account_pk)

    def feed_status(self, customer_id: str, status: SessionStatus) -> None:
        """How the customer's account feed held here is: what the walls say of VoIPBIN."""
        account_pk = self._customers.get(customer_id)
        if account_pk is not None and account_pk in self.followed:
            self.upstream[account_pk] = upstream_summary(status)
            self.notify(account_pk)

    async def close(self) -> None:
        for account_pk in list(self.sockets):
            for socket in list(self.sockets.get(account_pk, ())):
                await socket.end(1001)
            self.sockets.pop(account_pk, None)
            await self._unfollow(account_pk)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.layer is not None:
            await self.layer.close_pools()

    # -- where changes come from -----------------------------------------------------------------

    async def _follow(self, account_pk: int) -> None:
        if self.layer is not None and self.channel is not None:
            await self.layer.group_add(account_group(account_pk), self.channel)
        account = await Account.objects.filter(pk=account_pk).afirst()
        if account is None or account_pk not in self.sockets:
            return  # gone, or its last wall left while we looked it up: no session to keep
        self._customers[account.customer_id] = account_pk
        if self.own_sessions and self._feeds is not None and account_pk not in self.followed:
            feeds = self._feeds()
            if await feeds.acquire(account.customer_id, ("wall", account_pk)):
                self.followed[account_pk] = account.customer_id
                if (status := feeds.status(account.customer_id)) is not None:
                    self.upstream[account_pk] = upstream_summary(status)

    async def _unfollow(self, account_pk: int) -> None:
        if self.layer is not None and self.channel is not None:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(account_group(account_pk), self.channel)
        for customer_id in [c for c, pk in self._customers.items() if pk == account_pk]:
            del self._customers[customer_id]
        self.upstream.pop(account_pk, None)
        customer_id = self.followed.pop(account_pk, None)
        if customer_id is not None and self._feeds is not None:
            self._feeds().release(customer_id, ("wall", account_pk))

    async def _listen(self) -> None:
        layer, channel = self.layer, self.channel
        if layer is None or channel is None:
            return
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: walls keep their last state and recheck
                logger.warning("wall feed cannot reach the channel layer: %s", exc)
                await asyncio.sleep(1)
                continue
            account_pk = message.get("account")
            if not isinstance(account_pk, int):
                continue
            if message.get("type") == "account.status" and isinstance(message.get("upstream"), dict):
                self.upstream[account_pk] = message["upstream"]
                self.notify(account_pk)
            elif message.get("type") == "account.changed":
                self.notify(account_pk)

    # -- rendering and rechecks ------------------------------------------------------------------

    async def _tick(self) -> None:
        next_check = time.monotonic() + RECHECK_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_check - time.monotonic())):
                    await self._wake.wait()
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            started = time.monotonic()
            for account_pk in dirty:
                sockets = list(self.sockets.get(account_pk, ()))
                shown = {panel for socket in sockets for panel in socket.panels}
                try:
                    parts = await database_sync_to_async(self._render)(
                        account_pk, shown, self.upstream.get(account_pk)
                    )
                except Exception:
                    logger.exception("wall render for account %s failed", account_pk)
                    continue
                frames: dict[tuple[str, ...], str] = {}  # one string per panel choice, not per socket
                for socket in sockets:
                    frame = frames.get(socket.panels)
                    if frame is None:
                        frame = frames[socket.panels] = _for(socket, parts)
                    await socket.push(frame)
            # As long again as this round took (at least a tick): the server writes the frames out
            # and reads what came in before the next round, so rounds never pile up behind each other.
            spent = time.monotonic() - started
            if time.monotonic() >= next_check:
                await self._recheck()
                next_check = time.monotonic() + RECHECK_SECONDS
            await asyncio.sleep(max(TICK_SECONDS, spent))

    async def _recheck(self) -> None:
        """Close the sockets of walls revoked or expired since they opened."""
        open_walls = {socket.wall_id for sockets in self.sockets.values() for socket in sockets}
        if not open_walls:
            return
        try:
            active = await database_sync_to_async(tokens.still_active)(open_walls)
        except Exception:
            logger.exception("wall recheck failed")
            return
        for sockets in list(self.sockets.values()):
            for socket in list(sockets):
                if socket.wall_id not in active:
                    await socket.end(CLOSE_REVOKED)


def _for(socket: WallSocket, parts: dict[str, str]) -> str:
    """The stamp and the socket's own panels: a wall never receives a panel its link does not show."""
    return parts.get(UPDATED, "") + "".join(parts.get(panel, "") for panel in socket.panels)


_feed: WallFeed | None = None


def customer_changed(customer_id: str) -> None:
    """A change applied in this process (by a user's session): walls of that customer here re-render."""
    if _feed is not None:
        _feed.notify_customer(customer_id)


def customer_feed_status(customer_id: str, status: SessionStatus) -> None:
    """The customer's account feed (held here for walls, or for agents' pages) connected, fell silent…"""
    if _feed is not None:
        _feed.feed_status(customer_id, status)


def get_feed() -> WallFeed:
    """The process's wall feed, created inside the running event loop on first use."""
    global _feed
    if _feed is None or _feed.loop is not asyncio.get_running_loop():
        from dashboard.relay import get_hub  # the hub notifies walls of what it applies: it imports us

        _feed = WallFeed(render=render_panels, feeds=lambda: get_hub().feeds)
    return _feed


async def shutdown_feed() -> None:
    global _feed
    feed, _feed = _feed, None
    if feed is not None:
        await feed.close()
