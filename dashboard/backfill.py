"""After every (re)connect of any VoIPBIN session: what VoIPBIN holds, fetched over REST and handed on
as events, then the rows whose end a gap hid settled (``dashboard.reconcile``).

VoIPBIN lists resources to admins, managers and access keys only (VOIPBIN.md §6); a plain agent can
fetch only itself (``GET /me``), which tells its tags and so its queues. Which lists, how many rows and
in what order come from ``dashboard.resources``. The caller decides what an event becomes
(``deliver``): the hub applies, renders and fans out; the relay worker only applies.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from dashboard import reconcile, resources
from dashboard.changes import Change
from dashboard.clients import rest_client
from dashboard.live import apply_event
from dashboard.voipbin.events import Event, FrameError, normalize
from dashboard.voipbin.rest import VoipbinClient, VoipbinError

logger = logging.getLogger(__name__)

Deliver = Callable[[Event], Awaitable[None]]


def events_of(resource: str, items: Iterable[Mapping[str, Any]]) -> list[Event]:
    """A REST list's rows as events, oldest first, as they happened (lists come newest first)."""
    events = []
    for data in reversed(list(items)):
        try:
            events.append(normalize({"type": f"{resource}_updated", "data": data}))
        except FrameError as exc:
            logger.warning("%s from REST skipped: %s", resource, exc)
    return events


async def backfill(
    client: VoipbinClient,
    *,
    customer_id: str,
    deliver: Deliver,
    followed: Iterable[str] = resources.ALL,
) -> None:
    """Every followed list, fetched side by side (a session's pages resync only once all are in), its
    rows delivered in the registry's order, then the ghosts of each list settled. A list VoIPBIN
    refuses is skipped (logged); the others go on."""
    wanted = [resource for resource in resources.RESOURCES if resource.name in set(followed)]
    fetched_at = timezone.now()
    lists = await asyncio.gather(
        *(client.list(resource.listing, limit=resource.limit) for resource in wanted), return_exceptions=True
    )
    fetched: list[tuple[resources.Resource, list[dict[str, Any]]]] = []
    for resource, items in zip(wanted, lists, strict=True):
        if isinstance(items, BaseException):
            if not isinstance(items, VoipbinError):
                raise items
            logger.warning("%s backfill for customer %s failed: %s", resource.listing, customer_id, items)
            continue
        fetched.append((resource, items))
        for event in events_of(resource.name, items):
            await deliver(event)
    for resource, items in fetched:
        if resource.settles:
            found = reconcile.listing(resource.name, items, limit=resource.limit, fetched_at=fetched_at)
            for event in await database_sync_to_async(reconcile.settle_ghosts)(found, customer_id):
                await deliver(event)


async def backfill_agent(client: VoipbinClient, *, deliver: Deliver) -> None:
    """A plain agent's: itself (``GET /me``), whose tags tell its queues. Raises ``VoipbinError``."""
    for event in events_of("agent", [await client.me()]):
        await deliver(event)


async def fetch_and_apply(
    *,
    customer_id: str,
    token: str | None = None,
    accesskey: str | None = None,
    lists: bool = True,
    followed: Iterable[str] = resources.ALL,
) -> list[Change]:
    """A backfill applied straight to live state, with a user's token or an account's access key
    (``lists`` False: a plain agent's token, which may only fetch itself); the changes it made.
    Raises ``VoipbinError`` when an agent's ``/me`` fails."""
    changes: list[Change] = []
    apply = database_sync_to_async(apply_event)

    async def deliver(event: Event) -> None:
        change = await apply(event)
        if change is not None:
            changes.append(change)

    async with rest_client(token=token, accesskey=accesskey) as client:
        if lists:
            await backfill(client, customer_id=customer_id, deliver=deliver, followed=followed)
        else:
            await backfill_agent(client, deliver=deliver)
    return changes
