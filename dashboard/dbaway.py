"""The database going away (a restart, a failover, a cut connection) as a gap to fill, not a loss.

Upstream sockets stay up while the database is gone, so no reconnect will backfill what could not
be stored meanwhile. Whoever hits ``DATABASE_AWAY`` waits with ``until_database_answers`` and then
runs the backfill it already has for reconnects.
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError, connection

DATABASE_AWAY = (OperationalError, InterfaceError)
"""What a database that stopped, restarts or cut our connection raises."""
RETRY_FIRST, RETRY_CAP = 0.5, 5.0


def _ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def until_database_answers() -> None:
    """Returns once ``SELECT 1`` succeeds, asking again after 0.5 s, 1 s, 2 s … at most every 5 s."""
    delay = RETRY_FIRST
    while True:
        await asyncio.sleep(delay)
        delay = min(2 * delay, RETRY_CAP)
        try:
            await database_sync_to_async(_ping)()
        except DATABASE_AWAY:
            continue
        return
