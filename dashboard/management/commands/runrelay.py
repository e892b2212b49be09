"""``manage.py runrelay``: the always-on account relay, outside the web processes.

Keeps the configured account's upstream session (the status page's counts)
and the auto-reply sessions of every enabled ``Account`` (``AccountRelay``),
and publishes through the channel layer, so it needs ``REDIS_URL`` to reach
the web processes. Stops cleanly on SIGTERM and SIGINT. Touches a heartbeat
file for health checks.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.accountrelay import AccountRelay
from dashboard.monitor import HEARTBEAT_SECONDS, get_monitor, stop_monitor


class Command(BaseCommand):
    help = "Run the always-on account relay (use with REDIS_URL and RELAY_IN_WEB=false on the web processes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--heartbeat-file",
            default="/tmp/dashboard-relay.heartbeat",
            help="touched every few seconds while the relay is healthy",
        )

    def handle(self, *args: object, heartbeat_file: str, **options: object) -> None:
        if not settings.REDIS_URL:
            raise CommandError("runrelay publishes to the web processes through Redis: set REDIS_URL")
        asyncio.run(self._run(Path(heartbeat_file)))
        self.stdout.write("relay stopped")

    async def _run(self, heartbeat: Path) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        monitor = get_monitor()
        auto_replies = AccountRelay()
        self.stdout.write(f"relay running for customer {settings.VOIPBIN_ACCOUNT_CUSTOMER_ID}")
        try:
            await auto_replies.start()
            self.stdout.write(f"auto-replies running for {len(auto_replies.sessions)} account(s)")
            while not stopping.is_set():
                if time.time() - monitor.heartbeat_at < 3 * HEARTBEAT_SECONDS:
                    await asyncio.to_thread(heartbeat.touch)
                try:
                    async with asyncio.timeout(HEARTBEAT_SECONDS):
                        await stopping.wait()
                except TimeoutError:
                    pass
        finally:
            await auto_replies.close()
            await stop_monitor()
