"""The database going away (a restart, a failover, a cut connection) as a gap to fill, not a loss.

Upstream sockets stay up while the database is gone, so no reconnect will backfill what could not
be stored meanwhile. Whoever hits ``DATABASE_AWAY`` hands the user or account to its
``BackfillAfterOutage``, which waits with ``until_database_answers`` and then runs the backfill it
already has for reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

from channels.db import database_sync_to_async
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)

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


class BackfillAfterOutage(Generic[K]):
    """``gap(key)``: once the database answers again, ``backfill(key)``; one wait per key at a time.

    A key whose events fail while its wait is on adds nothing; one failing after the wait ended
    starts another (the backfill may already have read past that event), as does a backfill that
    meets the database gone again.
    """

    def __init__(
        self,
        backfill: Callable[[K], Awaitable[None]],
        spawn: Callable[[Coroutine[Any, Any, None]], None],
    ) -> None:
        self._backfill = backfill
        self._spawn = spawn
        self._waiting: set[K] = set()

    def __call__(self, key: K) -> None:
        if key not in self._waiting:
            self._waiting.add(key)
            self._spawn(self._after_outage(key))

    async def _after_outage(self, key: K) -> None:
        await until_database_answers()
        self._waiting.discard(key)
        logger.info("the database answers again: backfilling %s", key)
        try:
            await self._backfill(key)
        except DATABASE_AWAY:
            self(key)
        except Exception:
            logger.exception("backfilling %s after the database returned failed", key)
