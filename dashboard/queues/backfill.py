"""Agents, queues and queuecalls (and, for an account, calls and flows) fetched over REST after a
(re)connect, so counts survive a gap.

VoIPBIN lists resources to admins and managers only (VOIPBIN.md §6); an agent can fetch only
itself (``GET /me``), which is enough to know its tags and so its queues. Queues come first, so
the queuecalls fetched next find their queue in the lists the code dialects leave it in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async
from django.utils import timezone

from dashboard import reconcile
from dashboard.changes import Change
from dashboard.clients import rest_client
from dashboard.live import apply_event
from dashboard.models import Queuecall
from dashboard.voipbin.events import Event, FrameError, normalize
from dashboard.voipbin.rest import VoipbinClient, VoipbinError

logger = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)

LIMITS = {"queues": 100, "agents": 500, "queuecalls": 500, "calls": 200, "activeflows": 200}


def _events(resource: str, items: list[dict]) -> list[Event]:
    """Oldest first, as they happened (lists come newest first)."""
    events = []
    for data in reversed(items):
        try:
            events.append(normalize({"type": f"{resource}_updated", "data": data}))
        except FrameError as exc:
            logger.warning("%s from REST skipped: %s", resource, exc)
    return events


async def fetch_events(client: VoipbinClient, *, supervisor: bool) -> list[Event]:
    """What VoIPBIN holds now, as events in the order to apply them. Raises ``VoipbinError``."""
    if not supervisor:
        return _events("agent", [await client.me()])
    queues, queuecalls, agents = await asyncio.gather(
        *(client.list(name, limit=LIMITS[name]) for name in ("queues", "queuecalls", "agents"))
    )
    return _events("queue", queues) + _events("queuecall", queuecalls) + _events("agent", agents)


async def fetch_queue_lists(client: VoipbinClient) -> list[Event]:
    """Only the queues: where to look up the queue of a queuecall an event did not name."""
    return _events("queue", await client.list("queues", limit=LIMITS["queues"]))


@database_sync_to_async
def _apply(events: list[Event]) -> list[Change]:
    changes = (apply_event(event) for event in events)
    return [change for change in changes if change is not None]


async def backfill(
    *, supervisor: bool, token: str | None = None, accesskey: str | None = None
) -> list[Change]:
    """Fetch with these credentials (an access key counts as admin) and apply. Raises ``VoipbinError``."""
    async with rest_client(token=token, accesskey=accesskey) as client:
        events = await fetch_events(client, supervisor=supervisor)
    return await _apply(events)


@database_sync_to_async
def _settle(listings: list[reconcile.Listing], customer_id: str) -> list[Change]:
    ghosts = [event for found in listings for event in reconcile.settle_ghosts(found, customer_id)]
    changes = (apply_event(event) for event in ghosts)
    return [change for change in changes if change is not None]


async def backfill_account(*, accesskey: str, customer_id: str) -> list[Change]:
    """An account's calls, flows, queues, queuecalls and agents as VoIPBIN holds them, and every
    call, queuecall and flow it no longer lists as active settled (``dashboard.reconcile``).
    Raises ``VoipbinError``."""
    fetched_at = timezone.now()
    async with rest_client(accesskey=accesskey) as client:
        active = {name: await client.list(name, limit=LIMITS[name]) for name in ("calls", "activeflows")}
        events = await fetch_events(client, supervisor=True)
    # Calls first, then their flows (a flow finds its call), then queues before their callers.
    changes = await _apply(
        _events("call", active["calls"]) + _events("activeflow", active["activeflows"]) + events
    )
    listings = [
        reconcile.listing(name, items, limit=LIMITS[name], fetched_at=fetched_at)
        for name, items in active.items()
    ]
    queuecalls = [event.data for event in events if event.resource == "queuecall"]
    listings.append(
        reconcile.listing("queuecalls", queuecalls, limit=LIMITS["queuecalls"], fetched_at=fetched_at)
    )
    return changes + await _settle(listings, customer_id)


@database_sync_to_async
def needs_queue_lists(event: Event) -> bool:
    """A queuecall whose queue neither its event nor the queue lists we hold named (code dialects)."""
    if event.resource != "queuecall" or not event.resource_id or event.data.get("queue_id"):
        return False
    return Queuecall.objects.filter(pk=event.resource_id, queue_id="").exists()


class QueueListRefresher(Generic[K]):
    """Fetches ``GET /queues`` when a queuecall arrives whose queue nobody named.

    VoIPBIN's code sends no queue events, so without this a new caller would count in no queue
    until the next reconnect's backfill. One fetch per key (a user, an account) at a time,
    ``delay`` after the first such queuecall, so a burst costs one request. Its owner's ``spawn``
    (tracked, cancelled on shutdown) runs the fetch, and the queue events go to its ``deliver``.
    """

    def __init__(
        self,
        *,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        deliver: Callable[[K, Event], Awaitable[None]],
        delay: float = 0.2,
    ) -> None:
        self._spawn = spawn
        self._deliver = deliver
        self._delay = delay
        self._pending: set[K] = set()

    @property
    def busy(self) -> bool:
        """A fetch is waiting or in flight (tests wait for it to settle)."""
        return bool(self._pending)

    async def consider(
        self, key: K, event: Event, *, token: str | None = None, accesskey: str | None = None
    ) -> None:
        """``token`` or ``accesskey``: credentials that may list queues (a supervisor's, an account's)."""
        if event.resource != "queuecall" or event.data.get("queue_id"):
            return  # decided here, without a hop to the database thread for every event of every user
        if key in self._pending or not await needs_queue_lists(event):
            return
        self._pending.add(key)
        self._spawn(self._refresh(key, token=token, accesskey=accesskey))

    async def _refresh(self, key: K, *, token: str | None, accesskey: str | None) -> None:
        try:
            await asyncio.sleep(self._delay)
            async with rest_client(token=token, accesskey=accesskey) as client:
                events = await fetch_queue_lists(client)
            for event in events:
                await self._deliver(key, event)
        except VoipbinError as exc:
            logger.warning("queue lists for %s not fetched: %s", key, exc)
        finally:
            self._pending.discard(key)
