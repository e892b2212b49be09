"""Agents, queues and queuecalls fetched over REST after a (re)connect, so counts survive a gap.

VoIPBIN lists resources to admins and managers only (VOIPBIN.md §6); an agent can fetch only
itself (``GET /me``), which is enough to know its tags and so its queues. Queues come first, so
the queuecalls fetched next find their queue in the lists the code dialects leave it in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from channels.db import database_sync_to_async

from dashboard.changes import Change
from dashboard.clients import rest_client
from dashboard.models import Queuecall, User
from dashboard.queues.state import APPLY
from dashboard.voipbin.events import Event, FrameError, normalize
from dashboard.voipbin.rest import VoipbinClient, VoipbinError

logger = logging.getLogger(__name__)

LIMITS = {"queues": 100, "agents": 500, "queuecalls": 500}


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
    changes = (APPLY[event.resource](event) for event in events)
    return [change for change in changes if change is not None]


async def backfill(
    *, supervisor: bool, token: str | None = None, accesskey: str | None = None
) -> list[Change]:
    """Fetch with these credentials (an access key counts as admin) and apply. Raises ``VoipbinError``."""
    async with rest_client(token=token, accesskey=accesskey) as client:
        events = await fetch_events(client, supervisor=supervisor)
    return await _apply(events)


@database_sync_to_async
def needs_queue_lists(event: Event) -> bool:
    """A queuecall whose queue neither its event nor the queue lists we hold named (code dialects)."""
    if event.resource != "queuecall" or not event.resource_id or event.data.get("queue_id"):
        return False
    return Queuecall.objects.filter(pk=event.resource_id, queue_id="").exists()


class QueueListRefresher:
    """Fetches ``GET /queues`` for a supervisor when a queuecall arrives whose queue nobody named.

    VoIPBIN's code sends no queue events, so without this a new caller would count in no queue
    until the next reconnect's backfill. One fetch per user at a time, ``delay`` after the first
    such queuecall, so a burst costs one request. The hub owns it: ``spawn`` is the hub's own
    (tracked, cancelled on shutdown) and the queue events go through the hub's ``deliver``.
    """

    def __init__(
        self,
        *,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        deliver: Callable[[int, Event], Awaitable[None]],
        delay: float = 0.2,
    ) -> None:
        self._spawn = spawn
        self._deliver = deliver
        self._delay = delay
        self._pending: set[int] = set()

    @property
    def busy(self) -> bool:
        """A fetch is waiting or in flight (tests wait for it to settle)."""
        return bool(self._pending)

    async def consider(self, *, user: User, event: Event) -> None:
        if event.resource != "queuecall" or event.data.get("queue_id"):
            return  # decided here, without a hop to the database thread for every event of every user
        if not user.is_supervisor or user.pk in self._pending or not await needs_queue_lists(event):
            return
        self._pending.add(user.pk)
        self._spawn(self._refresh(user.pk, user.voipbin_token))

    async def _refresh(self, user_pk: int, token: str) -> None:
        try:
            await asyncio.sleep(self._delay)
            async with rest_client(token=token) as client:
                events = await fetch_queue_lists(client)
            for event in events:
                await self._deliver(user_pk, event)
        except VoipbinError as exc:
            logger.warning("queue lists for user %s not fetched: %s", user_pk, exc)
        finally:
            self._pending.discard(user_pk)
