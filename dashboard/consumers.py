"""Browser WebSockets. Thin: authenticate, check the declared topics, pass on what the server rendered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard.models import User
from dashboard.monitor import STATUS_GROUP, get_monitor
from dashboard.pages import PAGES
from dashboard.relay import CLOSE_SIGNED_OUT, get_hub, render_upstream_state
from dashboard.socketauth import read_session
from dashboard.sockets import NotJSON, PushConsumer
from dashboard.voipbin.topics import InvalidTopic, TopicDenied, check_subscription, matches_any

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
SESSION_CHECK_MARGIN = 0.05  # seconds past the stored expiry, so the store already counts it expired
SESSION_RETRY_SECONDS = 30.0  # when the session store could not be read at the due time

logger = logging.getLogger(__name__)


class StatusConsumer(AsyncWebsocketConsumer):
    """Live upstream state and event counts for the status page."""

    async def connect(self) -> None:
        await self.channel_layer.group_add(STATUS_GROUP, self.channel_name)
        await self.accept()
        if settings.RELAY_IN_WEB:
            await self.send(text_data=get_monitor().render())
        # Otherwise the relay worker's next heartbeat (within seconds) paints the panel.

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(STATUS_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The status page sends nothing; anything that arrives is ignored."""

    async def status_html(self, message: dict[str, Any]) -> None:
        await self.send(text_data=message["html"])


def _error(message: str) -> str:
    return render_to_string("includes/socket_error.html", {"message": message})


class LiveConsumer(PushConsumer):
    """A signed-in user's live page: ``/ws/live/<page>/?topics=a,b``.

    The page declares its topics in VoIPBIN's grammar; each is checked with the
    same permission code VoIPBIN's rules are written in, so the browser can
    narrow what it receives but never widen it.
    """

    user: User
    page_kind: str

    _session_key = ""  # the Django session the socket was opened with, watched until it expires
    _session_timer: asyncio.TimerHandle | None = None
    _session_check: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        # The handshake read the user and the session just now (dashboard.socketauth); a user put in
        # the scope some other way (a test) is read again.
        expires_at = self.scope.get("session_expires_at")
        if expires_at is None:
            user = await User.objects.filter(pk=user.pk, is_active=True).afirst()
            if user is None:
                await self.close(code=CLOSE_UNAUTHORIZED)
                return
        self.page_kind = self.scope["url_route"]["kwargs"]["page"]
        page = PAGES.get(self.page_kind)
        if page is None or not page.allows(user):  # e.g. the inbox is for supervisors only
            await self.close(code=CLOSE_FORBIDDEN)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        declared = [t for raw in query.get("topics", []) for t in raw.split(",") if t]
        self.filters = page.filters(query)
        try:
            self.topics = frozenset(
                str(check_subscription(user.principal, t)) for t in declared or page.topics(user)
            )
        except (InvalidTopic, TopicDenied):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self._session_key = self.scope.get("session_key", "")  # set with its expiry, or not at all
        self.user = self.scope["user"] = user  # one instance per socket, the one read just now
        await self.accept()
        if expires_at is not None:
            self._watch_session(expires_at)
        self.start_sending()
        if user.voipbin_session_expired:
            self.offer(render_upstream_state(None, expired=True))
            return
        entry = await get_hub().attach(self)
        await self.resync()
        status = entry.upstream.status if entry.upstream else None
        self.offer(entry.last_state_html or render_upstream_state(status, no_account=entry.fed is False))

    async def release(self) -> None:
        if hasattr(self, "user"):  # accepted: it may be in the hub and watching its session
            await self._stop_watching_session()
            get_hub().detach(self)
        await super().release()

    # -- the Django session behind the socket -------------------------------------------------

    def _watch_session(self, expires_at: datetime) -> None:
        """Look at the session again when it is due to expire: one timer per socket, no polling."""
        delay = max(0.0, (expires_at - timezone.now()).total_seconds()) + SESSION_CHECK_MARGIN
        self._session_timer = asyncio.get_running_loop().call_later(delay, self._session_due)

    def _session_due(self) -> None:
        self._session_timer = None
        self._session_check = asyncio.get_running_loop().create_task(self._check_session())

    async def _check_session(self) -> None:
        """Close with 4001 (the page reloads, to sign-in) unless the session was extended meanwhile."""
        try:
            user_id, expires_at = await read_session(self._session_key)
        except Exception:
            logger.exception("session of user %s not checked; trying again", self.user.pk)
            self._session_timer = asyncio.get_running_loop().call_later(
                SESSION_RETRY_SECONDS, self._session_due
            )
            return
        if user_id != str(self.user.pk) or expires_at is None:
            await self.close(code=CLOSE_SIGNED_OUT)
            return
        self._watch_session(expires_at)

    async def _stop_watching_session(self) -> None:
        timer, self._session_timer = self._session_timer, None
        if timer is not None:
            timer.cancel()
        check, self._session_check = self._session_check, None
        if check is not None and check is not asyncio.current_task():
            check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await check

    # -- relay → browser ---------------------------------------------------------------------

    def wants(self, topics: list[str]) -> bool:
        return matches_any(self.topics, topics)

    async def resync(self) -> None:
        """Re-render the page's lists from live state (on connect, and after an upstream gap)."""
        render = PAGES[self.page_kind].render_lists
        self.offer(await database_sync_to_async(render)(self.user, **self.filters))

    async def end(self, code: int = CLOSE_SIGNED_OUT) -> None:
        await self.close(code=code)

    # -- browser → server --------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = await self.read_frame(text_data, bytes_data)
        except NotJSON:
            self.offer(_error("That message was not valid JSON."))
            return
        if frame is None:
            return
        kind, topics = frame.get("type"), frame.get("topics")
        if kind not in ("subscribe", "unsubscribe") or not isinstance(topics, list):
            self.offer(_error('Send {"type": "subscribe" | "unsubscribe", "topics": [...]}.'))
            return
        if kind == "unsubscribe":
            self.topics = self.topics - {str(t) for t in topics}
            return
        try:
            added = {str(check_subscription(self.user.principal, t)) for t in topics}
        except (InvalidTopic, TopicDenied, TypeError) as exc:
            self.offer(_error(f"Not allowed: {exc}"))
            return
        self.topics = self.topics | added
