"""One VoIPBIN event WebSocket, kept open for as long as its owner wants it.

The session reconnects on its own with exponential backoff and full jitter
(capped), and resets the backoff only once a connection has stayed up for
``stable_after`` seconds, so an upstream that accepts and then closes at once
cannot make it spin. It re-subscribes its topic set after every reconnect and
calls ``on_connected`` so its owner can backfill the gap over REST. A 401 or
403 on the upgrade means the credentials are no good: the session stops and
says why instead of retrying forever. Bad frames are counted, never raised.

VoIPBIN pings every 10 s, and the session pings every ``ping_interval`` (without waiting on each
pong, unless ``ping_timeout`` is given). A connection that hears nothing at all (no frame, no ping,
no pong) for ``silence_timeout`` seconds is silent: the session drops it, reconnects, and reports
itself silent (``silent_since``) until a new connection is heard from.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import CloseCode

from dashboard.voipbin.events import Deduper, Event, FrameError, parse_frame

logger = logging.getLogger(__name__)

EventHandler = Callable[[Event], Awaitable[None] | None]
ConnectedHandler = Callable[["UpstreamSession", bool], Awaitable[None] | None]
StatusHandler = Callable[["SessionStatus"], None]


class State(enum.StrEnum):
    IDLE = "idle"
    CONNECTING = "connecting"
    LIVE = "live"
    RETRYING = "retrying"
    STOPPED = "stopped"


@dataclass
class Counters:
    attempts: int = 0  # upgrade requests made
    connections: int = 0  # upgrades that succeeded
    reconnects: int = 0  # successful connections after the first
    events: int = 0  # frames that became events (after de-duplication)
    duplicates: int = 0
    malformed: int = 0
    unknown: int = 0
    oversize: int = 0  # connections lost to a frame above max_size
    silences: int = 0  # connections dropped because nothing was heard for silence_timeout
    handler_errors: int = 0


@dataclass(frozen=True)
class SessionStatus:
    name: str
    state: State
    reason: str = ""
    http_status: int | None = None  # the refusal that stopped the session (401, 403)
    attempt: int = 0  # backoff exponent: consecutive failures since the last stable connection
    retry_in: float | None = None
    retry_at: float | None = None  # time.time() of the next attempt while retrying
    connected_at: float | None = None  # time.time()
    last_event_at: float | None = None  # time.time(): the newest event, or the backfill after a connect
    heard_at: float | None = None  # time.time() anything last arrived: what pages show is as of then
    silent_since: float | None = None  # time.time() VoIPBIN was last heard, while it counts as silent
    counters: Counters = field(default_factory=Counters)

    @property
    def as_of(self) -> float | None:
        """What pages show stands as of this ``time.time()``: the last thing heard before a silence."""
        return self.silent_since or self.heard_at

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Backoff:
    """Full jitter: a uniform delay in [0, min(cap, base * 2**attempt)]."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * 2 ** min(attempt, 32))

    def delay(self, attempt: int) -> float:
        return self._rng.uniform(0, self.ceiling(attempt))


class _HeardConnection(ClientConnection):
    """A client connection that notes when anything at all arrived: silence is its absence."""

    heard_at = 0.0  # time.monotonic()

    def data_received(self, data: bytes) -> None:
        self.heard_at = time.monotonic()
        super().data_received(data)

    @property
    def heard_at_wall(self) -> float | None:
        """``heard_at`` as a ``time.time()`` value, for pages; None before anything arrived."""
        return time.time() - (time.monotonic() - self.heard_at) if self.heard_at else None


def ws_url_with_credentials(url: str, *, token: str | None = None, accesskey: str | None = None) -> str:
    """The upgrade URL; ``token`` and ``accesskey`` are different parameters (VOIPBIN.md §1)."""
    parts = urlsplit(url)
    extra = {"token": token} if token else {"accesskey": accesskey} if accesskey else {}
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    return urlunsplit(parts._replace(query=query))


def _refusal_reason(exc: InvalidStatus, *, access_key: bool) -> str:
    response = exc.response
    detail = ""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        detail = json.loads(response.body or b"{}").get("error", {}).get("message", "")
    code = response.status_code
    what = "rejected the credentials" if code == 401 else "refused access"
    remedy = "check the account's access key" if access_key else "sign in again"
    return f"VoIPBIN {what} (HTTP {code}{': ' + detail if detail else ''}); {remedy}"


class UpstreamSession:
    """A self-healing subscription to VoIPBIN events for one set of credentials."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        accesskey: str | None = None,
        topics: Iterable[str] = (),
        on_event: EventHandler | None = None,
        on_connected: ConnectedHandler | None = None,
        on_status: StatusHandler | None = None,
        name: str = "upstream",
        backoff: Backoff | None = None,
        stable_after: float = 10.0,
        max_size: int = 1 << 20,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = None,
        close_timeout: float = 2.0,
        silence_timeout: float | None = 15.0,
        status_refresh: float = 5.0,
        dedupe: bool = True,
    ) -> None:
        if not token and not accesskey:
            raise ValueError("an upstream session needs a token or an access key")
        self.name = name
        self._url = ws_url_with_credentials(url, token=token, accesskey=accesskey)
        self._safe_url = url  # for logs: never the credentials
        self._access_key = not token
        self._topics: dict[str, None] = dict.fromkeys(topics)
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_status = on_status
        self.backoff = backoff or Backoff()
        self._stable_after = stable_after
        self._connect_options: dict[str, Any] = {
            "create_connection": _HeardConnection,
            # VoIPBIN's frames stay compressed; ours (a subscribe now and then) are compressed afresh
            # each, so a session keeps no compressor: ~144 KiB of zlib state each otherwise.
            "extensions": [
                ClientPerMessageDeflateFactory(
                    client_no_context_takeover=True, compress_settings={"memLevel": 5}
                )
            ],
            "max_size": max_size,
            "open_timeout": open_timeout,
            "ping_interval": ping_interval,
            "ping_timeout": ping_timeout,
            "close_timeout": close_timeout,
        }
        self._silence_timeout = silence_timeout
        self._status_refresh = status_refresh
        self._deduper = Deduper() if dedupe else None
        self.counters = Counters()
        self._status = SessionStatus(name=name, state=State.IDLE, counters=self.counters)
        self._ws: _HeardConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._hook_task: asyncio.Task[None] | None = None
        self._last_event_at: float | None = None
        self._reported_event_at: float | None = None  # last_event_at as the owner was last told
        self._heard_at: float | None = None
        self._silent_since: float | None = None
        self._went_silent = False  # the current connection was dropped for silence
        self._live_since: float | None = None  # time.monotonic() the current connection went live
        self._waiters: list[tuple[frozenset[State], asyncio.Future[SessionStatus]]] = []

    # -- observing ---------------------------------------------------------------------------

    @property
    def status(self) -> SessionStatus:
        ws = self._ws
        return replace(
            self._status,
            last_event_at=self._last_event_at,
            heard_at=(ws.heard_at_wall if ws is not None else None) or self._heard_at,
            silent_since=self._silent_since,
        )

    @property
    def state(self) -> State:
        return self._status.state

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(self._topics)

    def _set(self, state: State, **changes: Any) -> None:
        previous = self._status
        self._status = SessionStatus(
            name=self.name,
            state=state,
            reason=changes.get("reason", ""),
            http_status=changes.get("http_status"),
            attempt=changes.get("attempt", previous.attempt),
            retry_in=changes.get("retry_in"),
            retry_at=changes.get("retry_at"),
            connected_at=changes.get("connected_at", previous.connected_at if state is State.LIVE else None),
            counters=self.counters,
        )
        for waiter in [w for w in self._waiters if state in w[0]]:
            self._waiters.remove(waiter)
            if not waiter[1].done():
                waiter[1].set_result(self.status)
        self._report()

    def _report(self) -> None:
        """Tell the owner the current status (a state change, or news of fresher data)."""
        self._reported_event_at = self._last_event_at
        if self._on_status is not None:
            try:
                self._on_status(self.status)
            except Exception:
                logger.exception("%s: status handler failed", self.name)

    async def wait_for(self, *states: State) -> SessionStatus:
        """Wait until the session is in one of ``states``; bound it with ``asyncio.timeout``."""
        if self._status.state in states:
            return self.status
        waiter = (frozenset(states), asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            return await waiter[1]
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError(f"{self.name} already started")
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"upstream:{self.name}")

    async def close(self, reason: str = "closed") -> None:
        """Stop for good: cancel and await every task this session started."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._cancel_hook()
        if self._status.state is not State.STOPPED:
            self._set(State.STOPPED, reason=reason)

    async def _cancel_hook(self) -> None:
        hook, self._hook_task = self._hook_task, None
        if hook is not None and not hook.done():
            hook.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hook

    # -- topics ------------------------------------------------------------------------------

    async def subscribe(self, topics: Iterable[str]) -> None:
        new = [t for t in topics if t not in self._topics]
        self._topics.update(dict.fromkeys(new))
        if new:
            await self._send({"type": "subscribe", "topics": new})

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        held = [t for t in topics if t in self._topics]
        for topic in held:
            del self._topics[topic]
        if held:
            await self._send({"type": "unsubscribe", "topics": held})

    async def _send(self, frame: dict[str, Any]) -> None:
        """Send now if connected; otherwise the next connection subscribes from the topic set."""
        ws = self._ws
        if ws is None:
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps(frame))

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._set(State.CONNECTING, attempt=attempt)
            self.counters.attempts += 1
            self._live_since = None
            self._went_silent = False
            try:
                async with connect(self._url, **self._connect_options) as ws:
                    await self._on_open(ws)
                    watchdog = asyncio.get_running_loop().create_task(self._watch(ws))
                    try:
                        async for raw in ws:
                            await self._receive(raw)
                    finally:
                        watchdog.cancel()
                reason = f"VoIPBIN closed the connection ({ws.close_code})"
            except InvalidStatus as exc:
                code = exc.response.status_code
                if code in (401, 403):
                    reason = _refusal_reason(exc, access_key=self._access_key)
                    logger.warning("%s: stopped: %s", self.name, reason)
                    self._set(State.STOPPED, reason=reason, http_status=code)
                    return
                reason = f"VoIPBIN answered HTTP {code}"
            except ConnectionClosed as exc:
                if self._went_silent:
                    reason = f"VoIPBIN fell silent: nothing heard for {self._silence_timeout:g} s"
                elif exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
                    self.counters.oversize += 1
                    reason = "VoIPBIN sent a frame above the size limit"
                else:
                    reason = f"connection lost ({exc})"
            except InvalidURI:
                # The library's message quotes the URL with the credentials: never show it.
                self._set(State.STOPPED, reason=f"bad VoIPBIN URL {self._safe_url!r}")
                return
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                reason = f"cannot connect: {exc or type(exc).__name__}"
            except Exception as exc:  # a bug must not end the session for good: log it and retry
                logger.exception("%s: unexpected error", self.name)
                reason = f"unexpected error ({type(exc).__name__})"
            finally:
                if self._ws is not None:
                    self._heard_at = self._ws.heard_at_wall or self._heard_at
                self._ws = None
                await self._cancel_hook()
            # Stable: live (connected and, after a silence, heard from) for long enough.
            if self._live_since is not None and time.monotonic() - self._live_since >= self._stable_after:
                attempt = 0
            delay = self.backoff.delay(attempt)
            logger.info("%s: %s; retrying in %.2fs (attempt %d)", self.name, reason, delay, attempt)
            self._set(
                State.RETRYING, reason=reason, attempt=attempt, retry_in=delay, retry_at=time.time() + delay
            )
            attempt += 1
            await asyncio.sleep(delay)

    async def _on_open(self, ws: _HeardConnection) -> None:
        self._ws = ws
        reconnected = self.counters.connections > 0
        self.counters.connections += 1
        if reconnected:
            self.counters.reconnects += 1
        if self._topics:
            await ws.send(json.dumps({"type": "subscribe", "topics": list(self._topics)}))
        logger.info("%s: connected to %s", self.name, self._safe_url)
        if self._silent_since is None:
            self._live_since = time.monotonic()
            self._set(State.LIVE, connected_at=time.time())
            self._start_hook()
        else:  # after a silence, live (and backfilled) only once VoIPBIN is heard from again
            self._set(State.CONNECTING, reason="connected; waiting to hear from VoIPBIN")

    def _start_hook(self) -> None:
        if self._on_connected is not None:
            reconnected = self.counters.connections > 1
            self._hook_task = asyncio.get_running_loop().create_task(
                self._run_hook(reconnected), name=f"upstream:{self.name}:on_connected"
            )

    async def _run_hook(self, reconnected: bool) -> None:
        try:
            result = self._on_connected(self, reconnected)  # type: ignore[misc]
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("%s: on_connected hook failed", self.name)
            return
        self._last_event_at = time.time()  # the backfill brought VoIPBIN's state as of now
        self._report()

    async def _watch(self, ws: _HeardConnection) -> None:
        """Drop the connection once nothing has been heard for ``silence_timeout`` seconds."""
        if self._silence_timeout is None:
            return
        opened = time.monotonic()
        ws.heard_at = ws.heard_at or opened
        while True:
            await asyncio.sleep(min(1.0, self._silence_timeout / 4))
            if ws.heard_at > opened:
                self._heard()
            quiet = time.monotonic() - ws.heard_at
            if quiet >= self._silence_timeout:
                if self._silent_since is None:
                    self._silent_since = time.time() - quiet
                self._went_silent = True
                self.counters.silences += 1
                logger.warning("%s: nothing heard for %.1f s; reconnecting", self.name, quiet)
                ws.transport.abort()
                return

    def _heard(self) -> None:
        """VoIPBIN spoke on this connection: a session that was silent is live again."""
        if self._silent_since is not None and self._status.state is State.CONNECTING:
            self._silent_since = None
            logger.info("%s: VoIPBIN heard from again; live", self.name)
            self._live_since = time.monotonic()
            self._set(State.LIVE, connected_at=time.time())
            self._start_hook()

    async def _receive(self, raw: str | bytes) -> None:
        try:
            event = parse_frame(raw)
        except FrameError as exc:
            setattr(self.counters, exc.kind, getattr(self.counters, exc.kind) + 1)
            logger.warning("%s: %s frame skipped: %s", self.name, exc.kind, exc)
            return
        if self._deduper is not None and self._deduper.seen(event.key):
            self.counters.duplicates += 1
            return
        self.counters.events += 1
        self._last_event_at = now = time.time()
        if self._silent_since is not None:
            self._heard()
        elif self._reported_event_at is None or now - self._reported_event_at >= self._status_refresh:
            self._report()  # pages show the newest data's age: keep it within a few seconds
        if self._on_event is None:
            return
        try:
            result = self._on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self.counters.handler_errors += 1
            logger.exception("%s: event handler failed on %s", self.name, event.type)
