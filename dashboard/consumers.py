"""Browser WebSockets. Thin: authenticate, check the declared topics, pass on what the server rendered."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.template.loader import render_to_string

from dashboard.models import User
from dashboard.monitor import STATUS_GROUP, get_monitor
from dashboard.pages import PAGES
from dashboard.relay import CLOSE_SIGNED_OUT, get_hub, render_upstream_state
from dashboard.sockets import NotJSON, PushConsumer
from dashboard.voipbin.topics import InvalidTopic, TopicDenied, check_subscription, matches_any

CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


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

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        # Read again: a sign-out may have happened since the session cookie was resolved.
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
        self.user = user
        await self.accept()
        self.start_sending()
        if user.voipbin_session_expired:
            self.offer(render_upstream_state(None, expired=True))
            return
        entry = await get_hub().attach(self)
        await self.resync()
        self.offer(
            entry.last_state_html or render_upstream_state(entry.upstream.status if entry.upstream else None)
        )

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user"):
            return
        get_hub().detach(self)
        await self.stop_sending()

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
