"""The queue lists fetched when a caller arrives whose queue nobody named (VoIPBIN's code omits a
queuecall's ``queue_id``; VOIPBIN.md §5). Every session's (re)connect backfill is ``dashboard.backfill``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async

from dashboard import resources
from dashboard.backfill import events_of
from dashboard.clients import rest_client
from dashboard.models import Queuecall
from dashboard.voipbin.events import Event
from dashboard.voipbin.rest import VoipbinClient, VoipbinError

logger = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)


async def fetch_queue_lists(client: VoipbinClient) -> list[Event]:
    """Only the queues: where to look up the queue of a queuecall an event did not name."""
    queues = resources.BY_NAME["queue"]
    return events_of("queue", await client.list(queues.listing, limit=queues.limit))


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
        self,
        key: K,
        event: Event,
        *,
        token: str | None = None,
        accesskey: str | None = None,
        unplaced: bool | None = None,
    ) -> None:
        """``token`` or ``accesskey``: credentials that may list queues (a supervisor's, an account's).
        ``unplaced``: whether applying the event left its queuecall without a queue, when the caller
        knows (the hub: another process may place it meanwhile, and this one must still hear of it);
        else the database says."""
        if event.resource != "queuecall" or event.data.get("queue_id"):
            return  # decided here, without a hop to the database thread for every event of every user
        if key in self._pending:
            return
        if not (unplaced if unplaced is not None else await needs_queue_lists(event)):
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
