"""Account feeds: the customer's own VoIPBIN session (its access key), kept by a web process while
something there needs what VoIPBIN does not push to agents.

VoIPBIN publishes to an agent's ``agent_id:`` topics only the call legs the agent owns (VOIPBIN.md
§3): not their own status change, not a caller joining a queue they serve, not the caller on the
other side of their leg. Those travel under the customer's topics, which only admins, managers and
the account's access key may read. So while an agent has a page open here, this process keeps one
session with the access key of the customer's configured ``Account``, and the hub shows its events
to that customer's agents, filtered by the dashboard (``dashboard.calls.state.routed`` and
``dashboard.queues.state`` give each change the ``agent_id:`` topics of the agents it concerns).

One feed per customer per process, whoever holds it (``acquire``/``release`` with any hashable
holder: an agent's pages, a wall display); it closes ``grace`` seconds after its last holder lets go.
After every (re)connect it backfills the account over REST (``dashboard.backfill``), delivering
what it fetched as backfilled events, and tells its owner, which resyncs the pages fed from it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from dashboard.backfill import backfill
from dashboard.clients import rest_client
from dashboard.models import Account
from dashboard.sessions import account_principal, open_session
from dashboard.voipbin.events import Event
from dashboard.voipbin.upstream import SessionStatus, UpstreamSession

logger = logging.getLogger(__name__)


class Deliver(Protocol):
    def __call__(self, customer_id: str, event: Event, *, backfilled: bool = False) -> Awaitable[None]: ...


Backfilled = Callable[[str], Awaitable[None]]
StatusChanged = Callable[[str, SessionStatus], None]


@dataclass
class Feed:
    customer_id: str
    account: Account
    session: UpstreamSession | None = None
    holders: set[Hashable] = field(default_factory=set)
    closer: asyncio.TimerHandle | None = None


class AccountFeeds:
    """The account feeds of one process, by customer id."""

    def __init__(
        self,
        *,
        deliver: Deliver,
        backfilled: Backfilled,
        status_changed: StatusChanged,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        grace: float | None = None,
    ) -> None:
        self._deliver = deliver
        self._backfilled = backfilled
        self._status_changed = status_changed
        self._spawn = spawn
        self._grace = settings.RELAY_GRACE_SECONDS if grace is None else grace
        self.feeds: dict[str, Feed] = {}

    def status(self, customer_id: str) -> SessionStatus | None:
        feed = self.feeds.get(customer_id)
        return feed.session.status if feed and feed.session else None

    def account(self, customer_id: str) -> Account | None:
        feed = self.feeds.get(customer_id)
        return feed.account if feed else None

    async def acquire(self, customer_id: str, holder: Hashable) -> bool:
        """Keep the customer's feed open for ``holder``; False when no enabled account is configured for
        the customer (the holder's pages then show only what their own session gives)."""
        feed = self.feeds.get(customer_id)
        if feed is None:
            account = await Account.objects.filter(customer_id=customer_id, enabled=True).afirst()
            if account is None:
                return False
            feed = self.feeds.setdefault(customer_id, Feed(customer_id, account))
        if feed.closer is not None:
            feed.closer.cancel()
            feed.closer = None
        feed.holders.add(holder)
        if feed.session is None:
            feed.session = self._open(feed)
            feed.session.start()
        return True

    def release(self, customer_id: str, holder: Hashable) -> None:
        feed = self.feeds.get(customer_id)
        if feed is None:
            return
        feed.holders.discard(holder)
        if not feed.holders and feed.closer is None:
            loop = asyncio.get_running_loop()
            feed.closer = loop.call_later(
                self._grace, lambda: self._spawn(self._close_if_unused(customer_id))
            )

    async def _close_if_unused(self, customer_id: str) -> None:
        feed = self.feeds.get(customer_id)
        if feed is not None and not feed.holders:
            del self.feeds[customer_id]
            if feed.session is not None:
                await feed.session.close("no page needs it")

    async def close(self) -> None:
        feeds, self.feeds = self.feeds, {}
        for feed in feeds.values():
            if feed.closer is not None:
                feed.closer.cancel()
            if feed.session is not None:
                await feed.session.close("shutting down")

    async def backfill(self, customer_id: str) -> None:
        """Fetch what VoIPBIN holds for the account (no ghosts either), then tell the owner."""
        feed = self.feeds.get(customer_id)
        if feed is None:
            return

        async def deliver(event: Event) -> None:
            await self._deliver(customer_id, event, backfilled=True)

        async with rest_client(accesskey=feed.account.access_key) as client:
            await backfill(client, customer_id=customer_id, deliver=deliver)
        await self._backfilled(customer_id)

    def _open(self, feed: Feed) -> UpstreamSession:
        customer_id = feed.customer_id

        async def on_event(event: Event) -> None:
            await self._deliver(customer_id, event)

        async def on_connected(session: UpstreamSession, reconnected: bool) -> None:
            await self.backfill(customer_id)

        return open_session(
            principal=account_principal(customer_id),
            accesskey=feed.account.access_key,
            on_event=on_event,
            on_connected=on_connected,
            on_status=lambda status: self._status_changed(customer_id, status),
            name=f"feed:{customer_id[:8]}",
        )
