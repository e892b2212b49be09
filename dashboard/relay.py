"""The per-user relay: one upstream VoIPBIN session per signed-in user, fanned out to their tabs.

A user's first browser socket opens their upstream session with their own
VoIPBIN token and topics; every tab of theirs in the process shares it, and it
closes a grace period after the last tab leaves. What arrives is applied to
live state once per process, however many users' sessions deliver the same
event, rendered once per page kind, and handed to that user's sockets
directly (no channel-layer hop per socket). Each user only ever receives what
their own VoIPBIN session delivered: tenants stay apart by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from asgiref.sync import sync_to_async
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.clients import rest_client, session_options
from dashboard.live import Change, apply_event
from dashboard.models import User
from dashboard.pages import PAGES
from dashboard.voipbin.events import Event, normalize
from dashboard.voipbin.rest import VoipbinError
from dashboard.voipbin.topics import principal_topics
from dashboard.voipbin.upstream import SessionStatus, State, UpstreamSession

logger = logging.getLogger(__name__)

USER_RESOURCES = ("call",)
BACKFILL_LIMIT = 200
_APPLIED_MEMORY = 8192


def user_group(user_pk: int) -> str:
    return f"user.{user_pk}"


class LiveSocket(Protocol):
    """What the relay needs of a browser socket (dashboard.consumers.LiveConsumer)."""

    user: User
    page_kind: str

    def wants(self, topics: list[str]) -> bool: ...
    def offer(self, html: str) -> None: ...
    async def end(self, code: int) -> None: ...


@dataclass(frozen=True)
class Update:
    """One change, rendered once for every page kind and audience that shows it."""

    topics: list[str]
    fragments: dict[str, dict[str, str]]  # page kind → audience ("supervisor"/"agent") → html


def render_update(change: Change) -> Update:
    return Update(
        topics=change.topics,
        fragments={kind: page.render_change(change) for kind, page in PAGES.items()},
    )


def render_upstream_state(status: SessionStatus | None, *, expired: bool = False) -> str:
    return render_to_string(
        "includes/upstream_state.html", {"upstream": status, "expired": expired, "oob": True}
    )


@dataclass
class UserSession:
    user: User
    upstream: UpstreamSession
    sockets: set[LiveSocket] = field(default_factory=set)
    closer: asyncio.TimerHandle | None = None


class Hub:
    """Process-wide: the users' upstream sessions and their local sockets."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.sessions: dict[int, UserSession] = {}
        self._applied: OrderedDict[str, asyncio.Future[Update | None]] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- sockets come and go -----------------------------------------------------------------

    async def attach(self, socket: LiveSocket) -> UserSession:
        user = socket.user
        entry = self.sessions.get(user.pk)
        if entry is None:
            entry = UserSession(user=user, upstream=self._open_upstream(user))
            self.sessions[user.pk] = entry
            entry.upstream.start()
        if entry.closer is not None:
            entry.closer.cancel()
            entry.closer = None
        entry.sockets.add(socket)
        return entry

    def detach(self, socket: LiveSocket) -> None:
        entry = self.sessions.get(socket.user.pk)
        if entry is None:
            return
        entry.sockets.discard(socket)
        if not entry.sockets and entry.closer is None:
            entry.closer = self.loop.call_later(
                settings.RELAY_GRACE_SECONDS, lambda pk=socket.user.pk: self._spawn(self._close_if_unused(pk))
            )

    async def _close_if_unused(self, user_pk: int) -> None:
        entry = self.sessions.get(user_pk)
        if entry is not None and not entry.sockets:
            del self.sessions[user_pk]
            await entry.upstream.close()

    async def end_user(self, user_pk: int, *, code: int = 4001) -> None:
        """Sign-out: close every local socket of the user and their upstream session now."""
        entry = self.sessions.pop(user_pk, None)
        if entry is None:
            return
        if entry.closer is not None:
            entry.closer.cancel()
        for socket in list(entry.sockets):
            await socket.end(code)
        await entry.upstream.close("signed out")

    async def shutdown(self) -> None:
        for user_pk in list(self.sessions):
            await self.end_user(user_pk, code=1001)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- upstream ----------------------------------------------------------------------------

    def _open_upstream(self, user: User) -> UpstreamSession:
        user_pk = user.pk

        async def on_event(event: Event) -> None:
            await self.deliver(user_pk, event)

        return UpstreamSession(
            settings.VOIPBIN_WS_URL,
            token=user.voipbin_token,
            topics=principal_topics(user.principal, USER_RESOURCES),
            on_event=on_event,
            on_connected=lambda session, reconnected: self.backfill(user_pk),
            on_status=lambda status: self._on_status(user_pk, status),
            name=f"user:{user.username}",
            **session_options(),
        )

    def _on_status(self, user_pk: int, status: SessionStatus) -> None:
        entry = self.sessions.get(user_pk)
        if entry is None:
            return
        if status.state is State.STOPPED and status.http_status in (401, 403):
            self._spawn(_mark_token_rejected(user_pk))
        html = render_upstream_state(status)
        for socket in entry.sockets:
            socket.offer(html)

    async def backfill(self, user_pk: int) -> None:
        """After every (re)connect, fetch what VoIPBIN holds and push what changed meanwhile.

        Only supervisors may list calls (VoIPBIN answers 403 to agents); an agent's
        tabs resync from state when they reconnect.
        """
        entry = self.sessions.get(user_pk)
        if entry is None or not entry.user.is_supervisor:
            return
        try:
            async with rest_client(token=entry.user.voipbin_token) as client:
                calls = await client.list("calls", limit=BACKFILL_LIMIT)
        except VoipbinError as exc:
            logger.warning("backfill for user %s failed: %s", user_pk, exc)
            return
        for data in reversed(calls):  # oldest first, as they happened
            await self.deliver(user_pk, normalize({"type": "call_updated", "data": data}))

    # -- events ------------------------------------------------------------------------------

    async def deliver(self, user_pk: int, event: Event) -> None:
        update = await self.apply(event)
        entry = self.sessions.get(user_pk)
        if update is None or entry is None:
            return
        audience = "supervisor" if entry.user.is_supervisor else "agent"
        for socket in entry.sockets:
            if socket.wants(update.topics):
                html = update.fragments.get(socket.page_kind, {}).get(audience)
                if html:
                    socket.offer(html)

    async def apply(self, event: Event) -> Update | None:
        """Apply and render once per process per event, whichever session brought it first."""
        pending = self._applied.get(event.key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Update | None] = self.loop.create_future()
        self._applied[event.key] = future
        if len(self._applied) > _APPLIED_MEMORY:
            self._applied.popitem(last=False)
        try:
            change = await _apply(event)
            update = await _render(change) if change else None
        except BaseException as exc:
            del self._applied[event.key]
            future.set_exception(exc)
            future.exception()  # retrieved: the caller gets it raised below
            raise
        future.set_result(update)
        return update

    def status_of(self, user_pk: int) -> SessionStatus | None:
        entry = self.sessions.get(user_pk)
        return entry.upstream.status if entry else None

    def users(self) -> Iterable[int]:
        return self.sessions.keys()


_apply = sync_to_async(apply_event)
_render = sync_to_async(render_update)


@sync_to_async
def _mark_token_rejected(user_pk: int) -> None:
    User.objects.filter(pk=user_pk).update(token_rejected_at=timezone.now())


_hub: Hub | None = None


def get_hub() -> Hub:
    """The hub of the running event loop (one per process in production)."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = Hub()
    return _hub


async def end_user_session(user_pk: int) -> None:
    """Close every socket of the user (in every process) and their upstream session."""
    from channels.layers import get_channel_layer

    await get_hub().end_user(user_pk)
    layer = get_channel_layer()
    if layer is not None:
        with contextlib.suppress(Exception):
            await layer.group_send(user_group(user_pk), {"type": "session.ended"})


async def shutdown_hub() -> None:
    global _hub
    hub, _hub = _hub, None
    if hub is not None:
        await hub.shutdown()
