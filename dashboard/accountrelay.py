"""The always-on account relay: one VoIPBIN session per enabled ``Account``, answering inbound SMS.

Runs in ``manage.py runrelay``. It keeps the account's live state (calls, queues, agents, messages)
current with nobody signed in, and tells the web processes' wall displays through the channel-layer
group ``account.<pk>`` (at most one message per account per ``PUBLISH_SECONDS``). Every message
event is stored; inbound ones go through
``autoreply.handle_inbound`` in a task this relay owns, so a slow send never stalls the socket.
After each (re)connection the recent messages are fetched over REST and the inbound ones not yet
evaluated are handled: the database decides what was already answered, so overlap is harmless.
The database going away is a gap too: the socket stays up, but the events that arrive meanwhile
cannot be stored, so once the database answers again the same backfill runs.
A sweep (at start, then every minute) fails the replies a dead relay left pending, so they show up
as failed instead of waiting forever; they are never sent again. Accounts are read at ``start()``;
adding or enabling one takes effect on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from dashboard import resources
from dashboard.autoreply import fail_stuck_replies, handle_inbound, is_inbound_message
from dashboard.backfill import backfill
from dashboard.clients import rest_client
from dashboard.dbaway import DATABASE_AWAY, BackfillAfterOutage
from dashboard.live import apply_event
from dashboard.models import Account, Message
from dashboard.queues.backfill import QueueListRefresher
from dashboard.sessions import account_principal, open_session
from dashboard.voipbin.events import Event, FrameError, normalize, parse_time
from dashboard.voipbin.rest import VoipbinError
from dashboard.voipbin.upstream import SessionStatus, UpstreamSession
from dashboard.walls.feed import publish_change, publish_status

logger = logging.getLogger(__name__)

BACKFILL_LIMIT = 100
BACKFILL_MAX_AGE = timedelta(minutes=15)
STUCK_AFTER = timedelta(minutes=5)
"""A reply pending this long was abandoned by a relay that stopped. It must exceed the longest send:
with ``VOIPBIN_HTTP_TIMEOUT`` 10 s, four attempts and three waits of at most 30 s take 130 s."""
SWEEP_INTERVAL = 60.0
PUBLISH_SECONDS = 0.2


class AccountRelay:
    """Owns the sessions of every enabled account and every task handling their messages."""

    def __init__(
        self,
        *,
        url: str | None = None,
        backfill_limit: int = BACKFILL_LIMIT,
        backfill_max_age: timedelta = BACKFILL_MAX_AGE,
        stuck_after: timedelta = STUCK_AFTER,
        sweep_interval: float = SWEEP_INTERVAL,
        **options: Any,
    ) -> None:
        self._url = url or settings.VOIPBIN_WS_URL
        self._backfill_limit = backfill_limit
        self._backfill_max_age = backfill_max_age
        self._stuck_after = stuck_after
        self._sweep_interval = sweep_interval
        self._options = options
        self.sessions: dict[int, UpstreamSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._publishing: set[int] = set()  # accounts with a change announcement on its way
        self._accounts: dict[int, Account] = {}
        # A queuecall whose queue VoIPBIN's code does not name: the account's queue lists say it.
        self._queue_lists = QueueListRefresher[int](
            spawn=lambda coroutine: self._spawn(coroutine, name="queue-lists"),
            deliver=lambda account_pk, event: self._apply(event, account=self._accounts[account_pk]),
        )
        # Events that could not be stored while the database was away: backfill once it answers.
        self._database_gap = BackfillAfterOutage(
            lambda account: self._backfill(account=account),
            lambda coroutine: self._spawn(coroutine, name="database-gap"),
        )

    @property
    def pending(self) -> int:
        """Messages being handled right now (tests wait for zero)."""
        return len(self._tasks)

    async def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="autoreply:sweep")
        accounts = await database_sync_to_async(lambda: list(Account.objects.filter(enabled=True)))()
        for account in accounts:
            self._accounts[account.pk] = account
            session = open_session(
                url=self._url,
                principal=account_principal(account.customer_id),
                accesskey=account.access_key,
                on_event=lambda event, account=account: self._on_event(event, account=account),
                on_connected=lambda session, reconnected, account=account: self._backfill(account=account),
                on_status=lambda status, account=account: self._spawn(
                    self._publish_status(account.pk, status), name=f"status:{account.pk}"
                ),
                name=f"autoreply:{account.customer_id[:8]}",
                **self._options,
            )
            self.sessions[account.pk] = session
            session.start()

    async def close(self) -> None:
        """Stop the sessions and the sweep, then cancel and await every message still being handled."""
        sessions, self.sessions = list(self.sessions.values()), {}
        for session in sessions:
            await session.close()
        tasks, self._tasks = list(self._tasks), set()
        if self._sweeper is not None:
            tasks.append(self._sweeper)
            self._sweeper = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _sweep(self) -> None:
        """Fail replies left pending by a relay that stopped mid-send, now and every interval."""
        while True:
            try:
                await database_sync_to_async(fail_stuck_replies)(older_than=self._stuck_after)
            except Exception:  # the database may be away for a moment: try again next round
                logger.exception("sweeping stuck auto-replies failed")
            await asyncio.sleep(self._sweep_interval)

    def _spawn(self, coroutine: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, event: Event, *, account: Account) -> None:
        if event.resource == "message" and event.resource_id:
            self._spawn(self._handle(event, account=account), name=f"autoreply:{event.resource_id}")
        elif event.resource_id:
            self._spawn(self._apply(event, account=account), name=f"live:{event.resource_id}")

    async def _handle(self, event: Event, *, account: Account) -> None:
        try:
            if is_inbound_message(event):
                await handle_inbound(event, account=account)
            else:
                await database_sync_to_async(Message.upsert)(event, account=account)
        except DATABASE_AWAY as exc:
            logger.warning("message %s not handled, the database is away: %s", event.resource_id, exc)
            self._database_gap(account)
        except Exception:  # one bad message must not end the relay: log it and go on
            logger.exception("auto-reply handling of message %s failed", event.resource_id)
        self._announce(account.pk)

    async def _apply(self, event: Event, *, account: Account) -> None:
        try:
            changed = await database_sync_to_async(apply_event)(event)
        except DATABASE_AWAY as exc:
            logger.warning(
                "%s %s not applied, the database is away: %s", event.resource, event.resource_id, exc
            )
            self._database_gap(account)
            return
        except Exception:
            logger.exception("applying %s %s failed", event.resource, event.resource_id)
            return
        if changed is not None:
            self._announce(account.pk)
        await self._queue_lists.consider(account.pk, event, accesskey=account.access_key)

    def _announce(self, account_pk: int) -> None:
        """Tell the web processes soon; a burst of changes becomes one announcement."""
        if account_pk not in self._publishing:
            self._publishing.add(account_pk)
            self._spawn(self._publish(account_pk), name=f"publish:{account_pk}")

    async def _publish(self, account_pk: int) -> None:
        await asyncio.sleep(PUBLISH_SECONDS)
        self._publishing.discard(account_pk)
        try:
            await publish_change(account_pk)
        except Exception as exc:  # Redis away: walls keep their last state until the next change
            logger.warning("announcing a change of account %s failed: %s", account_pk, exc)

    async def _publish_status(self, account_pk: int, status: SessionStatus) -> None:
        try:
            await publish_status(account_pk, status)
        except Exception as exc:  # Redis away: walls say so themselves once it answers again
            logger.warning("announcing the session state of account %s failed: %s", account_pk, exc)

    async def _backfill(self, *, account: Account) -> None:
        """Handle recent inbound messages that arrived while no session was listening.

        Older ones are left alone: an auto-reply hours late does more harm than none. The rest of
        the account's state is fetched too (``dashboard.backfill``), for wall displays that follow
        the account with nobody signed in, and ghosts are settled.
        """

        async def deliver(event: Event) -> None:
            await self._apply(event, account=account)

        others = [name for name in resources.ALL if name != "message"]  # messages: below, by the rules
        try:
            async with rest_client(accesskey=account.access_key) as client:
                await backfill(client, customer_id=account.customer_id, deliver=deliver, followed=others)
                items = await client.list("messages", limit=self._backfill_limit)
        except VoipbinError as exc:
            logger.warning("auto-reply backfill for %s failed: %s", account, exc.message)
            return
        oldest = timezone.now() - self._backfill_max_age
        events: list[Event] = []
        for item in items:
            try:
                event = normalize(item)
            except FrameError:
                continue
            created = parse_time(item.get("tm_create"))
            if is_inbound_message(event) and created is not None and created >= oldest:
                events.append(event)
        ids = [event.resource_id for event in events]
        done = await database_sync_to_async(
            lambda: set(
                Message.objects.filter(pk__in=ids, evaluated_at__isnull=False).values_list("pk", flat=True)
            )
        )()
        for event in reversed(events):  # oldest first, as they arrived
            if event.resource_id not in done:
                await self._handle(event, account=account)
