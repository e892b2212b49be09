"""Reconnect storm: N calls tabs over U signed-in users; the web process restarts; every tab comes back.

Every tab open and painted, one new call injected every 1/R s, all along; then the web process gets
SIGTERM and is started again on the same port (a deploy). Each tab does what the real page does
(``static/js/live.js`` and htmx's ws extension, ``django_htmx/ext/hx-ws-2.js``, as base.html loads
them, with the ``wsReconnectDelay`` that ``static/js/socket-ack.js`` sets):

* after a close with 1006, 1011, 1012 or 1013 htmx opens the socket again after a full-jitter
  backoff, random() x min(4 s, 1 s x 2^n), n the tries since the socket was last open (a refused
  connection or handshake is a 1006 close, so the tries go on while the server is down);
* after any other close the page reloads 2-5 s later (4001: at once): GET the page, then open the
  socket it names. A reload that fails leaves the tab on the browser's error page: lost;
* as a browser does, one user's tabs share one browser: it opens one WebSocket to a host at a time
  (RFC 6455 4.1; Chromium's WebSocketEndpointLockManager, 10 ms between two) and at most 6 HTTP
  connections per host; frames are acknowledged as ``static/js/socket-ack.js`` does.

Figures, in seconds from the SIGTERM: *reconnected* (socket open again), *painted* (first frame with
the lists after that), *resynced* (painted, and every call injected before the socket opened shown
since); p50/p90/p99/max over the tabs, and when the last tab resynced. Checks: after its last
reconnect each tab must have shown every call injected in the whole run (0 missed), and its first
lists frame after the restart must hold every call injected before the SIGTERM (the state). Calls
injected while the server was down are counted apart: they can only come from a backfill.
Baseline, same run, same clients: the plain broadcast server (``harness.py plain-server --page
--resync``: it keeps the calls it relayed, lists them over REST when it starts, and sends them to
each new client first) restarted the same way. Our web process is measured on each of ``--servers``.
Target: all tabs reconnected and resynced within 6 s of the restart (issue 16; issue 7 asked for
10 s), nothing missed.

    .venv/bin/python bench/storm.py [--sockets 1000] [--users 50] [--rate 1] [--before 3] [--after 5]
        [--cap 60] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import html
import json
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx
from harness import (
    ACK_SECONDS,
    HARNESS,
    HOST,
    PLAIN_LISTS,
    QUIET_SECONDS,
    READY_TIMEOUT,
    HarnessError,
    Marker,
    Restart,
    SimControl,
    Stack,
    ack_due,
    base_parser,
    cpu_shares,
    drain,
    free_port,
    fresh_simulator,
    header,
    nearest_rank,
    profiled,
    run,
    verdict,
)
from memory import raise_fd_limit
from supervisors import CALLS
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Origin

PAGE_PATH = "/calls/"
QUICK = {"sockets": 200, "users": 10, "before": 2.0, "after": 2.0, "cap": 25.0}
TARGET_SECONDS = 6.0

# What the page does (hx-ws-2.js, live.js, socket-ack.js) and what the browser under it does.
RECONNECT_CODES = frozenset({1006, 1011, 1012, 1013})  # htmx reconnects by itself after these
BACKOFF_SECONDS = 1.0  # socket-ack.js: full jitter, random() x min(4 s, 1 s x 2^tries)
BACKOFF_CAP_SECONDS = 4.0
RELOAD_DELAY = (2.0, 5.0)  # live.js: any other close reloads the page 2 + random() x 3 s later
CLOSE_SIGNED_OUT = 4001  # live.js reloads at once
ENDPOINT_UNLOCK_SECONDS = 0.010  # Chromium: one WebSocket handshake per host at a time, 10 ms apart
BROWSER_HTTP_CONNECTIONS = 6  # per host
HANDSHAKE_TIMEOUT = 60.0
WS_CONNECT = re.compile(r'ws-connect="([^"]+)"')


# -- a browser tab --------------------------------------------------------------------------------


@dataclass
class Connection:
    """One socket's life in a tab: when it opened, what it showed, when it closed."""

    opened_at: float
    asked_at: float  # when the page asked for it (htmx's backoff timer fired, or the reload loaded)
    handshake: float  # seconds from the first byte sent to the socket open
    queued: float  # seconds this try waited for the browser's other handshakes to the host
    known: int  # calls injected before it opened: seqs 0 .. known-1
    pending: set[int]  # of those, not shown on this socket yet
    seen: set[int] = field(default_factory=set)
    lists_at: float | None = None
    lists_seqs: frozenset[int] = frozenset()
    resynced_at: float | None = None
    closed_at: float | None = None
    code: int | None = None


class Browser:
    """One user's browser: its tabs share the WebSocket endpoint lock and the HTTP connections."""

    def __init__(self, cookie: str) -> None:
        self.cookie = cookie
        self.lock = asyncio.Lock()
        limits = httpx.Limits(max_connections=BROWSER_HTTP_CONNECTIONS)
        self.http = httpx.AsyncClient(limits=limits, timeout=HANDSHAKE_TIMEOUT, headers={"Cookie": cookie})

    async def aclose(self) -> None:
        await self.http.aclose()


class Tab:
    """A calls page: its socket, htmx's reconnects and live.js's reloads, and what it has shown."""

    def __init__(self, storm: Storm, browser: Browser, ws_url: str) -> None:
        self.storm = storm
        self.browser = browser
        self.ws_url = ws_url
        self.ws: ClientConnection | None = None
        self.connections: list[Connection] = []
        self.failed_tries = 0
        self.reloads = 0
        self.lost = ""
        self.read = self.told = 0
        self.told_at = 0.0

    async def live(self) -> None:
        tries, reload = 0, False
        while True:
            if reload:
                self.reloads += 1
                if not await self._reload():
                    return
                tries = 0  # a new page, a new socket wrapper
            opened, code = await self._open_and_read()
            if opened:
                tries = 0  # htmx resets its count when a socket opens
            if code in RECONNECT_CODES:
                await asyncio.sleep(random.random() * min(BACKOFF_CAP_SECONDS, BACKOFF_SECONDS * 2**tries))
                tries += 1
                reload = False
            elif code == CLOSE_SIGNED_OUT:
                reload = True
            else:
                await asyncio.sleep(random.uniform(*RELOAD_DELAY))
                reload = True

    async def _reload(self) -> bool:
        """GET the page, as ``window.location.reload()`` does, and take the socket URL it names."""
        try:
            response = await self.browser.http.get(self.storm.page_url)
        except httpx.HTTPError as exc:
            self.lost = f"reload failed ({type(exc).__name__}): the browser's error page"
            return False
        found = WS_CONNECT.search(response.text) if response.status_code == 200 else None
        if found is None:
            self.lost = f"reload answered {response.status_code} without a socket"
            return False
        self.ws_url = self.storm.ws_base + html.unescape(found.group(1))
        return True

    async def _open_and_read(self) -> tuple[bool, int]:
        """One socket: (whether it opened, its close code; a failed open closes with 1006)."""
        lock = self.browser.lock
        asked_at = time.monotonic()
        await lock.acquire()
        started_at = time.monotonic()
        try:
            ws = await connect(
                self.ws_url,
                origin=Origin(self.storm.origin),
                additional_headers={"Cookie": self.browser.cookie},
                compression=None,
                ping_interval=None,
                max_size=None,
                open_timeout=HANDSHAKE_TIMEOUT,
                close_timeout=2,
            )
        except (OSError, InvalidHandshake, TimeoutError):
            self.failed_tries += 1
            return False, 1006
        finally:
            asyncio.get_running_loop().call_later(ENDPOINT_UNLOCK_SECONDS, lock.release)
        storm = self.storm
        known, now = len(storm.sent_at), time.monotonic()
        connection = Connection(
            opened_at=now,
            asked_at=asked_at,
            handshake=now - started_at,
            queued=started_at - asked_at,
            known=known,
            pending=set(range(known)),
        )
        self.connections.append(connection)
        self.ws, self.read, self.told = ws, 0, 0
        try:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                self.read += 1
                storm.on_frame(connection, text, time.monotonic())
        except ConnectionClosed:
            pass
        finally:
            self.ws = None
        connection.closed_at = time.monotonic()
        connection.code = ws.close_code if ws.close_code is not None else 1006
        return True, connection.code

    async def acknowledge(self, now: float) -> None:
        """socket-ack.js: the frames read on this socket, once a second, or sooner after 100."""
        ws = self.ws
        if ws is not None and ack_due(self.read - self.told, now - self.told_at):
            self.told, self.told_at = self.read, now
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({"type": "ack", "frames": self.read}))

    def after(self, moment: float) -> list[Connection]:
        return [c for c in self.connections if c.opened_at >= moment]


# -- the storm ----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One system's storm, in seconds after the SIGTERM unless said otherwise."""

    label: str
    tabs: int
    users: int
    restart: Restart
    close_codes: Counter[int]
    reconnected: list[float]
    asked: list[float]  # when the page asked for the socket that reconnected it
    handshakes: list[float]  # seconds each tab's reconnecting handshake took
    queued: list[float]  # seconds it waited for the same browser's other tabs' handshakes
    painted: list[float]
    resynced: list[float]
    lost: list[str]
    reloads: int
    failed_tries: int
    reopened: int  # sockets that closed again after the reconnect
    injected: int
    injected_before: int  # before the SIGTERM
    injected_down: int  # after the SIGTERM, before the server listened again
    rate: float
    missed_pairs: int
    missed_tabs: int
    missed_calls: list[int]
    state_pairs: tuple[int, int]  # (held, expected): calls from before the SIGTERM in the first lists frame
    gap_pairs: tuple[int, int]  # the same for calls injected after the SIGTERM, before the socket opened
    cpu: dict[str, float]  # % of a core from listening again until the last tab resynced
    cpu_seconds: float
    histogram: list[int]  # tabs resynced in each second after the SIGTERM
    logged: list[str] = field(default_factory=list)  # the server's warnings and errors, counted


class Storm:
    """Tabs on one server, the calls injected meanwhile, and the restart in between."""

    def __init__(
        self, stack: Stack, *, label: str, port: int, lists_marker: str, sessions: Sequence[str], tabs: int
    ) -> None:
        self.stack = stack
        self.label = label
        self.origin = f"http://{HOST}:{port}"
        self.ws_base = f"ws://{HOST}:{port}"
        self.page_url = f"{self.origin}{PAGE_PATH}"
        self.lists_marker = lists_marker
        self.marker = Marker()
        self.sent_at: list[float] = []
        self.last_frame_at = time.monotonic()
        self.browsers = [Browser(f"sessionid={key}") for key in sessions]
        self.tab_count = tabs
        self.tabs: list[Tab] = []
        self._tasks: list[asyncio.Task[None]] = []

    def on_frame(self, connection: Connection, text: str, now: float) -> None:
        self.last_frame_at = now
        seqs = self.marker.seqs(text)
        if seqs:
            connection.seen.update(seqs)
            connection.pending.difference_update(seqs)
        if connection.lists_at is None and self.lists_marker in text:
            connection.lists_at, connection.lists_seqs = now, frozenset(seqs)
        if connection.resynced_at is None and connection.lists_at is not None and not connection.pending:
            connection.resynced_at = now

    async def _socket_path(self, browser: Browser) -> str:
        """The socket the user's calls page names (its topics in the query string): one page load."""
        response = await browser.http.get(self.page_url)
        found = WS_CONNECT.search(response.text) if response.status_code == 200 else None
        if found is None:
            raise HarnessError(f"{self.label}: the page answered {response.status_code} without a socket")
        return html.unescape(found.group(1))

    async def open(self) -> None:
        """Every tab open (each user's tabs one after the other, as their browser opens them) and painted."""
        loop = asyncio.get_running_loop()
        paths = [await self._socket_path(browser) for browser in self.browsers]
        for i in range(self.tab_count):
            user = i % len(self.browsers)
            tab = Tab(self, self.browsers[user], self.ws_base + paths[user])
            self.tabs.append(tab)
            self._tasks.append(loop.create_task(tab.live()))
        self._tasks.append(loop.create_task(self._acknowledge()))
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            self.stack.check_alive()
            painted = all(tab.connections and tab.connections[-1].lists_at for tab in self.tabs)
            if painted and time.monotonic() - self.last_frame_at >= QUIET_SECONDS:
                return
            await asyncio.sleep(0.1)
        unpainted = sum(1 for tab in self.tabs if not (tab.connections and tab.connections[-1].lists_at))
        raise HarnessError(f"{self.label}: {unpainted} tabs not painted after {READY_TIMEOUT:.0f}s")

    async def _acknowledge(self) -> None:
        while True:
            await asyncio.sleep(ACK_SECONDS)
            now = time.monotonic()
            for tab in self.tabs:
                await tab.acknowledge(now)

    async def _inject(self, sim: SimControl, rate: float, stop: asyncio.Event) -> None:
        """One new call every 1/rate s until told to stop; each stamped just before it leaves."""
        start = time.monotonic()
        seq = 0
        while not stop.is_set():
            delay = start + seq / rate - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            self.sent_at.append(time.monotonic())
            await CALLS.inject(sim, seq, self.marker.id(seq))
            seq += 1

    async def measure(
        self, restart: Callable[[], Awaitable[Restart]], server: str, options: argparse.Namespace
    ) -> Outcome:
        """Calls all along; the restart; until every tab resynced (``server`` sampled with py-spy
        meanwhile if ``BENCH_PY_SPY`` is set); ``--after`` seconds more calls; the drain."""
        stop = asyncio.Event()
        injector = asyncio.get_running_loop().create_task(self._inject(self.stack.sim, options.rate, stop))
        try:
            await asyncio.sleep(options.before)
            restarted = await restart()
            cpu_before, cpu_from = self.stack.cpu_times(), time.monotonic()
            t0 = restarted.term_at
            deadline = t0 + options.cap
            async with profiled(self.stack.pid(server), f"{self.label}-storm"):
                while time.monotonic() < deadline and not all(
                    tab.lost or any(c.resynced_at for c in tab.after(t0)) for tab in self.tabs
                ):
                    self.stack.check_alive()
                    await asyncio.sleep(0.05)
            cpu_seconds = time.monotonic() - cpu_from
            cpu = cpu_shares(cpu_before, self.stack.cpu_times(), cpu_seconds)
            await asyncio.sleep(options.after)
        finally:
            stop.set()
            await injector
        await self._drain()
        return self._outcome(restarted, cpu, cpu_seconds, options)

    async def _drain(self) -> None:
        """Until every tab's last socket showed every call, or nothing new came for a while."""
        expected = len(self.tabs) * len(self.sent_at)

        def shown() -> int:
            return sum(len(tab.connections[-1].seen) for tab in self.tabs if tab.connections)

        await drain(shown, expected)

    def _outcome(
        self, restarted: Restart, cpu: dict[str, float], cpu_seconds: float, options: argparse.Namespace
    ) -> Outcome:
        t0 = restarted.term_at
        total = len(self.sent_at)
        before = bisect.bisect_left(self.sent_at, t0)
        down = bisect.bisect_left(self.sent_at, restarted.listening_at) - before
        reconnected, painted, resynced, lost, codes = [], [], [], [], Counter[int]()
        asked, handshakes, queued = [], [], []
        missed_calls: set[int] = set()
        missed_pairs = missed_tabs = reopened = 0
        state_held = state_expected = gap_held = gap_expected = 0
        for tab in self.tabs:
            old = [c for c in tab.connections if c.opened_at < t0]
            if old and old[-1].code is not None:
                codes[old[-1].code] += 1
            after = tab.after(t0)
            if not after:
                lost.append(tab.lost or "never reconnected")
                continue
            reconnected.append(after[0].opened_at - t0)
            asked.append(after[0].asked_at - t0)
            handshakes.append(after[0].handshake)
            queued.append(after[0].queued)
            reopened += len(after) - 1
            first_painted = next((c for c in after if c.lists_at is not None), None)
            if first_painted is not None and first_painted.lists_at is not None:
                painted.append(first_painted.lists_at - t0)
                state_expected += before
                state_held += sum(1 for seq in range(before) if seq in first_painted.lists_seqs)
                gap = range(before, first_painted.known)
                gap_expected += len(gap)
                gap_held += sum(1 for seq in gap if seq in first_painted.lists_seqs)
            done = next((c.resynced_at for c in after if c.resynced_at is not None), None)
            if done is not None:
                resynced.append(done - t0)
            else:
                lost.append(tab.lost or "never resynced")
            holes = set(range(total)) - after[-1].seen
            if holes:
                missed_tabs += 1
                missed_pairs += len(holes)
                missed_calls |= holes
        histogram = [0] * (int(max(resynced, default=0)) + 1)
        for value in resynced:
            histogram[int(value)] += 1
        return Outcome(
            label=self.label,
            tabs=len(self.tabs),
            users=len(self.browsers),
            restart=restarted,
            close_codes=codes,
            reconnected=reconnected,
            asked=asked,
            handshakes=handshakes,
            queued=queued,
            painted=painted,
            resynced=resynced,
            lost=lost,
            reloads=sum(tab.reloads for tab in self.tabs),
            failed_tries=sum(tab.failed_tries for tab in self.tabs),
            reopened=reopened,
            injected=total,
            injected_before=before,
            injected_down=down,
            rate=options.rate,
            missed_pairs=missed_pairs,
            missed_tabs=missed_tabs,
            missed_calls=sorted(missed_calls),
            state_pairs=(state_held, state_expected),
            gap_pairs=(gap_held, gap_expected),
            cpu=cpu,
            cpu_seconds=cpu_seconds,
            histogram=histogram,
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(
            *(tab.ws.close() for tab in self.tabs if tab.ws is not None), return_exceptions=True
        )
        for browser in self.browsers:
            await browser.aclose()


# -- the two systems ------------------------------------------------------------------------------------


async def plain_storm(
    stack: Stack, token: str, sessions: Sequence[str], options: argparse.Namespace
) -> Outcome:
    await fresh_simulator(stack)
    port = free_port()
    command = [sys.executable, str(HARNESS), "plain-server", "--port", str(port), "--page"]
    command += ["--upstream", f"{stack.sim.ws_url}?token={token}", "--topic", CALLS.topic]
    command += ["--resync", f"{stack.sim.url}/v1.0/calls?token={token}"]
    process = stack.spawn("plain-server", command, env={**os.environ})
    storm = Storm(
        stack, label="plain", port=port, lists_marker=PLAIN_LISTS, sessions=sessions, tabs=options.sockets
    )
    try:
        await stack.wait_port(port, "plain-server")
        await stack.sim.wait_subscribed(CALLS.topic, 1)
        await storm.open()
        outcome = await storm.measure(lambda: stack.restart("plain-server", port), "plain-server", options)
        outcome.logged = stack.log_summary(["plain-server"])
        return outcome
    finally:
        await storm.close()
        live = dict(stack.processes).get("plain-server")
        if live is not None:
            await stack.stop(live)
        elif process.poll() is None:
            await stack.stop(process)


async def our_storm(
    stack: Stack, server: str, sessions: Sequence[str], options: argparse.Namespace
) -> Outcome:
    await stack.use_web(server)
    await fresh_simulator(stack)
    port = stack.web_port
    storm = Storm(
        stack,
        label=f"ours {server}",
        port=port,
        lists_marker='id="calls-active"',
        sessions=sessions,
        tabs=options.sockets,
    )
    try:
        await storm.open()
        await stack.sim.wait_subscribed(CALLS.topic, len(sessions))
        outcome = await storm.measure(lambda: stack.restart(server, port), server, options)
        outcome.logged = stack.log_summary([server])
        return outcome
    finally:
        await storm.close()


# -- report ----------------------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def share(held: int, expected: int) -> str:
    return f"{held}/{expected}" + (f" ({100 * held / expected:.0f}%)" if expected else "")


def report(outcomes: Sequence[Outcome], options: argparse.Namespace) -> None:
    print(
        f"\n{options.sockets} calls tabs over {options.users} users; {options.rate:g} new calls/s all along; "
        f"restart {options.before:g} s after the first call  (seconds after the SIGTERM)"
    )
    head = ("system", "what", "p50", "p90", "p99", "max", "count")
    body: list[tuple[str, ...]] = []
    for o in outcomes:
        for name, values in (
            ("reconnected", o.reconnected),
            ("painted", o.painted),
            ("resynced", o.resynced),
            ("  its page asked for it", o.asked),
            ("  its handshake took", o.handshakes),
            ("  queued in its browser", o.queued),
        ):
            body.append(
                (
                    o.label,
                    name,
                    *(seconds(nearest_rank(values, p)) for p in (50, 90, 99, 100)),
                    str(len(values)),
                )
            )
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    for line in (head, *body):
        print(
            "  "
            + "  ".join(
                c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    for o in outcomes:
        r = o.restart
        codes = ", ".join(f"{code} x{n}" for code, n in sorted(o.close_codes.items()))
        cpu = " ".join(f"{name} {value:.0f}" for name, value in o.cpu.items() if value >= 0.5)
        print(
            f"\n  {o.label}: exited {r.exited_at - r.term_at:.2f} s after SIGTERM, "
            f"listening again at {r.down:.2f} s; sockets closed with {codes or 'nothing'}"
        )
        print(
            f"    {len(o.resynced)}/{o.tabs} tabs resynced, the last at "
            f"{seconds(max(o.resynced, default=None))} s; resynced per second after the SIGTERM: "
            + " ".join(f"{second}s:{n}" for second, n in enumerate(o.histogram) if n)
        )
        print(
            f"    reloads {o.reloads}, failed connection tries {o.failed_tries}, sockets closed again after "
            f"reconnecting {o.reopened}, tabs lost {len(o.lost)}"
            + (f" ({Counter(o.lost).most_common(2)})" if o.lost else "")
        )
        print(
            f"    calls injected {o.injected} ({o.injected_before} before the SIGTERM, {o.injected_down} "
            f"while down); (tab, call) pairs missed after the last reconnect: {o.missed_pairs} "
            f"over {o.missed_tabs} tabs" + (f" (calls {o.missed_calls[:10]})" if o.missed_calls else "")
        )
        print(
            f"    first lists frame after the restart held: calls from before the SIGTERM "
            f"{share(*o.state_pairs)}, calls injected after it and before the socket opened "
            f"{share(*o.gap_pairs)}"
        )
        print(f"    cpu % of a core from listening again to the last resync ({o.cpu_seconds:.1f} s): {cpu}")
        for line in o.logged:
            print(f"    logged: {line}")
    sys.stdout.flush()
    base = outcomes[0]
    for ours in outcomes[1:]:
        verdicts(ours, base)


def verdicts(ours: Outcome, base: Outcome) -> None:
    last = max(ours.resynced, default=None)
    all_back = not ours.lost and len(ours.resynced) == ours.tabs
    detail = f"the last of {ours.tabs} tabs resynced {seconds(last)} s after the SIGTERM"
    detail += f" (plain: {seconds(max(base.resynced, default=None))} s)"
    verdict(
        f"{ours.label}: all tabs reconnected and resynced within {TARGET_SECONDS:g} s",
        all_back and (last or 0) <= TARGET_SECONDS,
        detail,
    )
    verdict(
        f"{ours.label}: 0 events missed after resync",
        ours.missed_pairs == 0 and all_back,
        f"{ours.missed_pairs} (tab, call) pairs missed over {ours.missed_tabs} tabs",
    )
    held, expected = ours.state_pairs
    verdict(
        f"{ours.label}: the resync render holds the live state",
        held == expected and all_back,
        f"first lists frame after the restart: {share(held, expected)} of the calls from before the SIGTERM; "
        f"{share(*ours.gap_pairs)} of those injected after it and before the tab reconnected "
        "(the rest came later, by backfill)",
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sockets", type=int, default=1000, help="calls tabs open when the server restarts")
    parser.add_argument(
        "--users", type=int, default=50, help="signed-in users (browsers) the tabs are spread over"
    )
    parser.add_argument("--rate", type=float, default=1.0, help="new calls injected per second, all along")
    parser.add_argument("--before", type=float, default=3.0, help="seconds of calls before the restart")
    parser.add_argument(
        "--after", type=float, default=5.0, help="seconds of calls after the last tab resynced"
    )
    parser.add_argument(
        "--cap", type=float, default=60.0, help="give up on tabs not resynced this long after"
    )
    options = parser.parse_args(argv)
    if options.quick:
        for name, value in QUICK.items():
            setattr(options, name, min(getattr(options, name), value))
    if options.users < 1 or options.sockets < options.users or options.rate <= 0:
        parser.error("need --users ≥ 1, --sockets ≥ --users and --rate > 0")
    return options


def main(argv: list[str] | None = None) -> None:
    options = parse(argv)

    async def go() -> None:
        raise_fd_limit(options.sockets * 2)
        header(f"storm: {options.sockets} tabs over {options.users} users, web process restarted", options)
        async with Stack() as stack:
            token = await stack.sim.login("manager")
            sessions = (await stack.provision(users=options.users, token=token)).sessions
            print(f"   database: {stack.database}")
            outcomes = [await plain_storm(stack, token, sessions, options)]
            for server in options.servers:
                outcomes.append(await our_storm(stack, server, sessions, options))
        report(outcomes, options)

    run(go)


if __name__ == "__main__":
    main()
