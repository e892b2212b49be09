"""The status page's live view of the configured account's VoIPBIN event stream.

One ``AccountMonitor`` per process holds an upstream session with the
account's access key and counts what arrives. It renders the status fragment
once per tick when something changed and hands the HTML to the channel-layer
group ``status``; every open status page shows it as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.template.loader import render_to_string

from dashboard.sessions import account_principal, open_session
from dashboard.voipbin.events import Event
from dashboard.voipbin.upstream import SessionStatus

logger = logging.getLogger(__name__)

STATUS_GROUP = "status"
TICK_SECONDS = 0.5
HEARTBEAT_SECONDS = 5.0  # publish even when idle, so pages opened meanwhile get the state


class AccountMonitor:
    def __init__(self, *, url: str, accesskey: str, customer_id: str, **options: Any) -> None:
        self.by_type: Counter[str] = Counter()
        self.session = open_session(
            url=url,
            principal=account_principal(customer_id),
            accesskey=accesskey,
            on_event=self._on_event,
            on_status=self._on_status,
            name=f"account:{customer_id[:8]}",
            **options,
        )
        self._dirty = asyncio.Event()
        self.heartbeat_at = time.time()
        self._ticker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.session.start()
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="monitor:tick")

    async def close(self) -> None:
        await self.session.close()
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker

    def _on_event(self, event: Event) -> None:
        self.by_type[event.type] += 1
        self._dirty.set()

    def _on_status(self, status: SessionStatus) -> None:
        self._dirty.set()

    def context(self) -> dict[str, Any]:
        status = self.session.status
        return {
            "status": status,
            "counters": status.counters,
            "by_type": sorted(self.by_type.items()),
            "now": time.time(),
        }

    def render(self) -> str:
        return render_to_string("dashboard/fragments/status.html", self.context())

    async def _tick(self) -> None:
        """Coalesce bursts: at most one render and one group message per tick."""
        layer = get_channel_layer()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    await self._dirty.wait()
            self._dirty.clear()
            self.heartbeat_at = time.time()
            try:
                await layer.group_send(STATUS_GROUP, {"type": "status.html", "html": self.render()})
            except Exception:
                logger.exception("status broadcast failed")
            await asyncio.sleep(TICK_SECONDS)


_monitor: AccountMonitor | None = None


def get_monitor() -> AccountMonitor:
    """The process's monitor, started on first use inside the running event loop.

    With ``RELAY_IN_WEB`` off, only ``manage.py runrelay`` calls this; web processes
    show what it publishes to the ``status`` group.
    """
    global _monitor
    if _monitor is None:
        _monitor = AccountMonitor(
            url=settings.VOIPBIN_WS_URL,
            accesskey=settings.VOIPBIN_ACCOUNT_ACCESS_KEY,
            customer_id=settings.VOIPBIN_ACCOUNT_CUSTOMER_ID,
        )
        _monitor.start()
    return _monitor


def current_monitor() -> AccountMonitor | None:
    """The process's monitor if one runs, without starting it (for sync views)."""
    return _monitor


async def stop_monitor() -> None:
    global _monitor
    monitor, _monitor = _monitor, None
    if monitor is not None:
        await monitor.close()
