"""The web process's start-up and shutdown, as ASGI's lifespan protocol (uvicorn sends it).

Start-up, once the application is loaded and before the first connection, settles the garbage
collector (``dashboard.heap``). Shutdown comes after the server closed every socket (1012) and let
requests in flight finish. The walls' feed and the relay hub then let go of what they hold: each
user's upstream session ends (VoIPBIN sees it close), each lease is released so that another web
process takes those users over at its next round instead of when the lease runs out, channel-layer
groups are left, and events being applied are finished. A process killed outright still recovers
through the leases' expiry.
"""

from __future__ import annotations

import logging
from typing import Any

from dashboard.heap import settle_heap
from dashboard.relay import shutdown_hub
from dashboard.walls.feed import shutdown_feed

logger = logging.getLogger(__name__)


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            settle_heap()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await shutdown_feed()
                await shutdown_hub()
            except Exception as exc:
                logger.exception("shutdown did not complete")
                await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
            else:
                await send({"type": "lifespan.shutdown.complete"})
            return
