"""``manage.py runrelay``: the always-on account relay.

Answers inbound SMS for every enabled ``Account`` (``AccountRelay``) even when nobody has
the dashboard open. In production (``RELAY_IN_WEB=false``) it also keeps the configured
account's status-page session and publishes it to the web processes through Redis; in the
embedded default the web process keeps that session itself and this worker only answers.
Stops cleanly on SIGTERM and SIGINT. Touches a heartbeat file for health checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.accountrelay import AccountRelay
from dashboard.heap import settle_heap
from dashboard.monitor import HEARTBEAT_SECONDS, get_monitor, stop_monitor


class Command(BaseCommand):
    help = "Run the always-on account relay: auto-replies, and the status page's session in production."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--heartbeat-file",
            default="/tmp/dashboard-relay.heartbeat",
            help="touched every few seconds while the relay is healthy",
        )

    def handle(self, *args: object, heartbeat_file: str, **options: object) -> None:
        keeps_status = not settings.RELAY_IN_WEB
        if keeps_status and not settings.REDIS_URL:
            raise CommandError(
                "with RELAY_IN_WEB=false this worker feeds the web processes' status page through Redis: "
                "set REDIS_URL"
            )
        settle_heap()  # as the web processes do (dashboard.heap)
        try:
            asyncio.run(self._run(Path(heartbeat_file), keeps_status=keeps_status))
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        self.stdout.write("relay stopped")

    async def _run(self, heartbeat: Path, *, keeps_status: bool) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        monitor = get_monitor() if keeps_status else None
        auto_replies = AccountRelay()
        if monitor is not None:
            self.stdout.write(f"status session for customer {settings.VOIPBIN_ACCOUNT_CUSTOMER_ID}")
        try:
            await auto_replies.start()
            self.stdout.write(f"auto-replies running for {len(auto_replies.sessions)} account(s)")
            while not stopping.is_set():
                healthy = monitor is None or time.time() - monitor.heartbeat_at < 3 * HEARTBEAT_SECONDS
                if healthy:
                    await asyncio.to_thread(heartbeat.touch)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(HEARTBEAT_SECONDS):
                        await stopping.wait()
        finally:
            # Stopping already: another signal (`make demo` sends SIGTERM after the terminal's SIGINT)
            # must not reach the loop's handler while the loop closes.
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)
            await auto_replies.close()
            if monitor is not None:
                await stop_monitor()
