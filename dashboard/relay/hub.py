"""Who owns a session, and local fan-out: one upstream VoIPBIN session per signed-in user, handed to
their tabs, and the account feeds for agents' pages.

A user's first browser socket anywhere in the deployment opens their upstream
session with their own VoIPBIN token and topics; a lease (Redis, or the
process in the embedded default) makes it the only one. Every tab of theirs
shares it, and it closes a grace period after the last tab leaves.

What arrives goes through the process's pipeline (``dashboard.relay.pipeline``: applied and
rendered once per process, however many sessions deliver it) and is handed to that user's sockets
here directly (no channel-layer hop per socket); each socket keeps what its page's topics match.
Other processes serving the same user's tabs get the rendered update once per process
(``dashboard.relay.crossing``). Each user only ever receives what their own VoIPBIN session
delivered, or, for an agent, what their customer's account feed delivered and the dashboard
addressed to them (``dashboard.accountfeed``; the topics of ``dashboard.calls.state.routed`` and
``dashboard.queues.state``): tenants stay apart by construction. If the owning process dies its
lease runs out and a process still serving that user's tabs takes the session over, backfills and
resyncs.

Notices (``dashboard.notices``) are rendered with the update, once per process; the owning
process decides which of them this user is shown and hands them to every page of the user,
whatever the page shows; other processes get the decided html with the update.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from dashboard import resources
from dashboard.accountfeed import AccountFeeds
from dashboard.backfill import backfill, backfill_agent
from dashboard.clients import rest_client
from dashboard.dbaway import DATABASE_AWAY, BackfillAfterOutage
from dashboard.leases import Leases, make_leases
from dashboard.live import apply_event, note_state_changed
from dashboard.models import User
from dashboard.notices import NoticeMemory, shown_to
from dashboard.queues.backfill import QueueListRefresher
from dashboard.relay.crossing import Crossing
from dashboard.relay.pipeline import Pipeline, Update
from dashboard.sessions import open_session
from dashboard.voipbin.events import Event, FrameError, normalize
from dashboard.voipbin.rest import VoipbinError
from dashboard.voipbin.upstream import SessionStatus, State, UpstreamSession
from dashboard.walls.feed import customer_changed, customer_feed_status

logger = logging.getLogger(__name__)

_FANNED_OUT_MEMORY = 256  # per user: events already on their pages (two sessions deliver some)
CLOSE_SIGNED_OUT = 4001


def lease_key(user_pk: int) -> str:
    return f"user-session:{user_pk}"


def session_topics(user: User) -> list[str]:
    """The topics of the user's upstream session: the widest their VoIPBIN role allows, per resource
    (``dashboard.resources``: an agent's asks for what VoIPBIN may publish to an agent only)."""
    return resources.topics(user.principal)


class LiveSocket(Protocol):
    """What the relay needs of a browser socket (dashboard.consumers.LiveConsumer)."""

    user: User
    page_kind: str

    def wants(self, topics: list[str]) -> bool: ...
    def offer(self, html: str) -> None: ...
    async def push(self, html: str) -> None: ...
    async def resync(self) -> None: ...
    async def end(self, code: int) -> None: ...


def render_upstream_state(
    status: SessionStatus | None, *, expired: bool = False, no_account: bool = False
) -> str:
    """``no_account``: an agent whose customer has no account configured here (no account feed)."""
    context = {"upstream": status, "expired": expired, "no_account": no_account, "oob": True}
    return render_to_string("includes/upstream_state.html", context)


@dataclass
class UserSession:
    """A user's tabs in this process, and their upstream session if this process owns it."""

    user: User
    sockets: set[LiveSocket] = field(default_factory=set)
    upstream: UpstreamSession | None = None
    closer: asyncio.TimerHandle | None = None
    last_state_html: str = ""
    shown: NoticeMemory = field(default_factory=NoticeMemory)  # decided where the upstream is
    fed: bool | None = None
    """An agent's pages: fed by their customer's account feed (True), no account configured (False)."""
    fanned_out: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def first_time(self, key: str) -> bool:
        """Whether the event is new to this user's pages here (their session and the account feed, or
        another process and this one, may both bring it)."""
        if not key:
            return True
        if key in self.fanned_out:
            return False
        self.fanned_out[key] = None
        if len(self.fanned_out) > _FANNED_OUT_MEMORY:
            self.fanned_out.popitem(last=False)
        return True

    @property
    def audience(self) -> str:
        return "supervisor" if self.user.is_supervisor else "agent"


class Hub:
    """Process-wide: the users' upstream sessions, their local sockets, and the way to other processes."""

    def __init__(self, leases: Leases | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.pipeline = Pipeline(
            changed=lambda change: customer_changed(change.row.customer_id), shown=self._shown
        )
        self.crossing = Crossing(spawn=self._spawn)
        self.process_id = self.crossing.process_id  # what our leases say
        self.queue_lists: QueueListRefresher[int] = QueueListRefresher(
            spawn=self._spawn, deliver=self.deliver
        )
        self.sessions: dict[int, UserSession] = {}
        self._fed: dict[str, set[int]] = {}  # customer → its agents here fed by its account feed
        # What VoIPBIN pushes only under the customer's topics, for agents' pages (dashboard.accountfeed).
        self.feeds = AccountFeeds(
            deliver=self.deliver_feed,
            backfilled=self._feed_backfilled,
            status_changed=self._feed_status,
            spawn=self._spawn,
        )
        self.feed_queue_lists: QueueListRefresher[str] = QueueListRefresher(
            spawn=self._spawn, deliver=self.deliver_feed
        )
        self.leases = leases or make_leases()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        # Events that could not be stored while the database was away: backfill once it answers.
        self._database_gap = BackfillAfterOutage(self.backfill, self._spawn)
        self._feed_gap = BackfillAfterOutage(self.feeds.backfill, self._spawn)

    async def _start(self) -> None:
        self._started = True
        await self.crossing.open(self._on_message)
        self._spawn(self._maintain())

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sockets come and go -----------------------------------------------------------------

    async def attach(self, socket: LiveSocket) -> UserSession:
        if not self._started:
            await self._start()
        user = socket.user
        entry = self.sessions.get(user.pk)
        first = entry is None
        if entry is None:
            entry = self.sessions[user.pk] = UserSession(user=user)
        if entry.closer is not None:
            entry.closer.cancel()
            entry.closer = None
        entry.sockets.add(socket)
        if entry.upstream is not None and (
            entry.upstream.state is State.STOPPED or user.voipbin_token != entry.user.voipbin_token
        ):
            await self._let_go(entry, "signed in again")  # a fresh sign-in replaces a refused token
        entry.user = user
        if entry.upstream is None:
            await self._claim(entry)
        if entry.fed is None and not user.is_supervisor:
            entry.fed = await self.feeds.acquire(user.customer_id, user.pk)
            if entry.fed:
                self._fed.setdefault(user.customer_id, set()).add(user.pk)
        if first:  # later tabs of the user find the groups joined (maintenance keeps them so)
            await self.crossing.join(user.pk, user.customer_id)
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
            self._unfeed(entry)
            await self._let_go(entry, "no tab open")
            await self._leave(entry.user)

    async def end_user(self, user_pk: int, *, code: int = CLOSE_SIGNED_OUT) -> None:
        """Close every socket of the user in this process, and their upstream session if here."""
        entry = self.sessions.pop(user_pk, None)
        if entry is None:
            return
        if entry.closer is not None:
            entry.closer.cancel()
        for socket in list(entry.sockets):
            await socket.end(code)
        self._unfeed(entry)
        await self._let_go(entry, "signed out")
        await self._leave(entry.user)

    async def shutdown(self) -> None:
        for user_pk in list(self.sessions):
            await self.end_user(user_pk, code=1001)
        await self.feeds.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            # A receive blocked in Redis may only notice when its connection closes (below).
            await asyncio.wait(self._tasks, timeout=1)
        await self.crossing.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pipeline.drain()
        await self.leases.aclose()

    # -- ownership -----------------------------------------------------------------------------

    async def _claim(self, entry: UserSession) -> bool:
        """Own the user's upstream session if no other process does (or keep owning it)."""
        try:
            ours = await self.leases.claim(
                lease_key(entry.user.pk), self.process_id, settings.RELAY_LEASE_SECONDS
            )
        except Exception as exc:  # Redis away: keep what we have, try again next round
            logger.warning("lease for user %s not checked: %s", entry.user.pk, exc)
            self.crossing.cut_off = True
            return entry.upstream is not None
        if not ours:
            if entry.upstream is not None:
                logger.warning("user %s: another process owns the session now", entry.user.pk)
                upstream, entry.upstream = entry.upstream, None
                await upstream.close("another process took over")
            return False
        if entry.upstream is None and self.sessions.get(entry.user.pk) is entry:
            entry.upstream = self._open_upstream(entry.user)
            entry.upstream.start()
        return True

    async def _let_go(self, entry: UserSession, reason: str) -> None:
        upstream, entry.upstream = entry.upstream, None
        if upstream is None:
            return
        await upstream.close(reason)
        with contextlib.suppress(Exception):
            await self.leases.release(lease_key(entry.user.pk), self.process_id)

    async def _maintain(self) -> None:
        """Renew the leases we hold, take over those whose owner died, refresh group membership.

        After a round that found Redis unreachable, the first good round resyncs every local
        tab from state: updates from other processes may have been lost meanwhile.
        """
        while True:
            await asyncio.sleep(settings.RELAY_LEASE_SECONDS / 3)
            was_cut_off, self.crossing.cut_off = self.crossing.cut_off, False
            for user_pk, entry in list(self.sessions.items()):
                try:
                    if await self._claim(entry) and entry.last_state_html:
                        await self.crossing.to_user(
                            user_pk, {"type": "relay.state", "html": entry.last_state_html}
                        )
                    await self.crossing.join(entry.user.pk, entry.user.customer_id)
                except Exception:
                    logger.exception("relay maintenance for user %s failed", user_pk)
            if was_cut_off and not self.crossing.cut_off:
                logger.info("other processes reachable again: resyncing local tabs")
                note_state_changed()  # what they changed meanwhile never reached us
                for user_pk in list(self.sessions):
                    await self._resync_local(user_pk)

    # -- upstream ----------------------------------------------------------------------------

    def _shown(self) -> set[tuple[str, str]] | None:
        """The (page kind, audience) pairs this process's sockets show; ``None`` with other processes
        about (Redis): an update crosses to them rendered, for whatever pages they show."""
        if self.crossing.layer is not None:
            return None
        return {
            (socket.page_kind, entry.audience) for entry in self.sessions.values() for socket in entry.sockets
        }

    def _open_upstream(self, user: User) -> UpstreamSession:
        user_pk = user.pk

        async def on_event(event: Event) -> None:
            await self.deliver(user_pk, event)

        return open_session(
            principal=user.principal,
            token=user.voipbin_token,
            on_event=on_event,
            on_connected=lambda session, reconnected: self.backfill(user_pk),
            on_status=lambda status: self._on_status(user_pk, status),
            name=f"user:{user.username}",
        )

    def _on_status(self, user_pk: int, status: SessionStatus) -> None:
        entry = self.sessions.get(user_pk)
        if entry is None:
            return
        if status.state is State.STOPPED and status.http_status in (401, 403):
            self._spawn(database_sync_to_async(User.token_refused)(user_pk))
        html = entry.last_state_html = render_upstream_state(status, no_account=entry.fed is False)
        for socket in entry.sockets:
            socket.offer(html)
        self._spawn(self.crossing.to_user(user_pk, {"type": "relay.state", "html": html}))

    async def backfill(self, user_pk: int) -> None:
        """After every (re)connect, fetch what VoIPBIN holds (``dashboard.backfill``), then resync every
        tab of the user. Supervisors list the account; a plain agent may fetch only itself, the rest of
        its pages' state comes with its customer's account feed."""
        entry = self.sessions.get(user_pk)
        if entry is None:
            return
        user = entry.user

        async def deliver(event: Event) -> None:
            await self.deliver(user_pk, event, backfilled=True)

        async with rest_client(token=user.voipbin_token) as client:
            if user.is_supervisor:
                await backfill(client, customer_id=user.customer_id, deliver=deliver)
            else:
                try:
                    await backfill_agent(client, deliver=deliver)
                except VoipbinError as exc:
                    logger.warning("agent backfill for user %s failed: %s", user_pk, exc)
        # Other writers (the relay worker, other processes' backfills) may have settled or changed
        # rows meanwhile without an event reaching this process: the resync renders afresh. Alone,
        # every change went through this process's pipeline and counted already, so tabs whose
        # lists are as new share one render (a restart: every user's backfill, a thousand tabs).
        if self.crossing.layer is not None or not settings.RELAY_IN_WEB:
            note_state_changed()
        await self._resync_local(user_pk)
        await self.crossing.to_user(user_pk, {"type": "relay.resync"})

    async def _resync_local(self, user_pk: int) -> None:
        entry = self.sessions.get(user_pk)
        for socket in list(entry.sockets if entry else ()):
            await socket.resync()

    # -- the account feed: what VoIPBIN pushes to agents' pages only under the customer's topics ---

    def _unfeed(self, entry: UserSession) -> None:
        if entry.fed:
            self.feeds.release(entry.user.customer_id, entry.user.pk)
            fed = self._fed.get(entry.user.customer_id, set())
            fed.discard(entry.user.pk)
            if not fed:
                self._fed.pop(entry.user.customer_id, None)
        entry.fed = None

    def _agents_of(self, customer_id: str) -> list[int]:
        """The customer's agents here fed by its account feed (an index: every delivery asks)."""
        return list(self._fed.get(customer_id, ()))

    async def deliver_feed(self, customer_id: str, event: Event, *, backfilled: bool = False) -> None:
        """An event of the customer's account feed: applied and rendered as any other (once per process),
        and shown to the customer's agents here, each socket filtering by the topics the dashboard gave
        the change (only the agents it concerns)."""
        try:
            update = await self.pipeline.apply(event)
        except DATABASE_AWAY:
            self._feed_gap(customer_id)
            raise
        if update is None:
            return
        account = self.feeds.account(customer_id)
        if account is not None:
            await self.feed_queue_lists.consider(
                customer_id, event, accesskey=account.access_key, unplaced=update.unplaced
            )
        for user_pk in self._agents_of(customer_id):
            await self._show(user_pk, update, event, backfilled=backfilled)

    async def _feed_backfilled(self, customer_id: str) -> None:
        note_state_changed()
        customer_changed(customer_id)
        for user_pk in self._agents_of(customer_id):
            await self._resync_local(user_pk)

    def _feed_status(self, customer_id: str, status: SessionStatus) -> None:
        if status.state is State.STOPPED:
            logger.warning("account feed of %s stopped: %s", customer_id, status.reason)
        customer_feed_status(customer_id, status)

    # -- events ------------------------------------------------------------------------------

    async def deliver(self, user_pk: int, event: Event, *, backfilled: bool = False) -> None:
        """An event the user's own session brought (``backfilled``: fetched over REST, never notifies)."""
        try:
            update = await self.pipeline.apply(event)
        except DATABASE_AWAY:
            self._database_gap(user_pk)
            raise
        entry = self.sessions.get(user_pk)
        if update is None:
            return
        if entry is not None and entry.user.is_supervisor:  # VoIPBIN lists queues to them only
            await self.queue_lists.consider(
                user_pk, event, token=entry.user.voipbin_token, unplaced=update.unplaced
            )
        shown = await self._show(user_pk, update, event, backfilled=backfilled)
        if entry is None:
            return
        # The customer's agents fed here: their account feed sees all this user's session sees (and
        # more), so they are shown it too, each socket keeping only what concerns its agent. A queue
        # list a supervisor's session fetched is how a caller's queue becomes known at all.
        for agent_pk in self._agents_of(entry.user.customer_id):
            if agent_pk != user_pk:
                await self._show(agent_pk, update, event, backfilled=backfilled)
        if not backfilled:  # after a backfill, other processes resync instead
            self.crossing.update(entry.user.customer_id, event.key, update, user_pk, shown)

    async def deliver_answer(self, user_pk: int, event: Event) -> None:
        """VoIPBIN's answer to the user's own request (``show_answer``), as their session would bring it."""
        try:
            await self.deliver(user_pk, event)
        except Exception:
            logger.exception("VoIPBIN's answer %s not shown to user %s", event.key, user_pk)

    async def _show(self, user_pk: int, update: Update, event: Event, *, backfilled: bool) -> list[str]:
        """The update on the user's pages here, and the notices they are shown for it (decided here);
        nothing when their pages here have it already (two sessions may bring one event)."""
        entry = self.sessions.get(user_pk)
        if entry is None or not entry.first_time(event.key):
            return []
        await self._fan_out(user_pk, update)
        if not update.notices:
            return []
        shown = shown_to(
            entry.user,
            update.notices,
            event_type=event.type,
            backfilled=backfilled,
            memory=entry.shown,
            now=timezone.now(),
        )
        self._notify(user_pk, shown)
        return shown

    async def _fan_out(self, user_pk: int, update: Update) -> None:
        """Written from here, socket after socket, where nothing waits before it (no task switch each)."""
        entry = self.sessions.get(user_pk)
        if entry is None:
            return
        for socket in list(entry.sockets):
            if socket.wants(update.topics):
                html = update.fragments.get(socket.page_kind, {}).get(entry.audience)
                if html:
                    await socket.push(html)

    def _notify(self, user_pk: int, shown: list[str]) -> None:
        """Notices go to every page the user has open, whatever it shows (already decided per user)."""
        entry = self.sessions.get(user_pk)
        for socket in entry.sockets if entry else ():
            for html in shown:
                socket.offer(html)

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind in ("relay.updates", "relay.resync"):
            note_state_changed()  # another process changed live state: renders made here are old
        if kind == "relay.updates":  # to the tabs here of the users whose own sessions delivered it
            update = Update(topics=message["topics"], fragments=message["fragments"])
            for user_pk, notices in message["users"]:
                entry = self.sessions.get(user_pk)
                if entry is not None and entry.first_time(message.get("key", "")):
                    await self._fan_out(user_pk, update)
                    self._notify(user_pk, notices)
            return
        user_pk = message["user"]
        if kind == "relay.end":
            await self.end_user(user_pk)
            return
        entry = self.sessions.get(user_pk)
        if entry is None:
            return
        if kind == "relay.state" and entry.upstream is None:
            entry.last_state_html = message["html"]
            for socket in entry.sockets:
                socket.offer(message["html"])
        elif kind == "relay.resync":
            await self._resync_local(user_pk)

    async def _leave(self, user: User) -> None:
        still_here = any(e.user.customer_id == user.customer_id for e in self.sessions.values())
        await self.crossing.leave(user.pk, user.customer_id, customer_still_here=still_here)

    async def end_user_everywhere(self, user_pk: int) -> None:
        await self.end_user(user_pk)
        await self.crossing.to_user(user_pk, {"type": "relay.end"})

    def status_of(self, user_pk: int) -> SessionStatus | None:
        entry = self.sessions.get(user_pk)
        return entry.upstream.status if entry and entry.upstream else None


_hub: Hub | None = None


def get_hub() -> Hub:
    """The hub of the running event loop (one per process in production)."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = Hub()
    return _hub


def show_answer(user: User, resource: str, data: Any) -> None:
    """VoIPBIN's answer to a user's request (a status set, …), on their pages here as if their session
    had brought it: VoIPBIN may never push it to them. Called from a view's thread: handed to the
    hub's loop without waiting on it; with no tab of theirs here, only stored for their next page."""
    try:
        event = normalize({"type": f"{resource}_updated", "data": data})
    except FrameError as exc:
        logger.warning("VoIPBIN's answer for %s not shown: %s", resource, exc)
        return
    hub = _hub
    if hub is not None and user.pk in hub.sessions and not hub.loop.is_closed():
        # A fresh context: the view's would tie the hub's database work to the view's thread.
        hub.loop.call_soon_threadsafe(
            hub._spawn, hub.deliver_answer(user.pk, event), context=contextvars.Context()
        )
    else:
        apply_event(event)


async def end_user_session(user_pk: int) -> None:
    """Sign-out: close every socket of the user in every process, and their upstream session."""
    await get_hub().end_user_everywhere(user_pk)


async def shutdown_hub() -> None:
    global _hub
    hub, _hub = _hub, None
    if hub is not None:
        await hub.shutdown()
