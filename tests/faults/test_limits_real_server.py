"""Abuse limits through the production server: a real web process (uvicorn, as deployed), sockets
opened as Chromium opens them.

tests/test_live_consumer.py and tests/test_push_socket.py check the consumer's limits in-process; here
the server's own framing, its buffering and the process's memory are part of what is tested. PostgreSQL,
Redis and the signed-in users come from tests/multiprocess (``deployment``); the simulator runs in
this process and events are injected with its control methods (``/_sim/calls``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import signal
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State
from websockets.typing import Origin

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID
from dashboard.sockets import CLOSE_FLOOD, CLOSE_TOO_BIG, CLOSE_TOO_FAR_BEHIND, MAX_UNACKED
from tests.waiting import until

pytestmark = pytest.mark.slow

ACK_SECONDS = 0.25  # static/js/socket-ack.js
# daphne ran at ~80-110 new calls/s on this 2-core machine while other suites run (~8 ms of its CPU
# per call: apply, render every page kind, send), so 10 000 calls take about two minutes here.
STALL_EVENTS = 3000
STALL_RSS_LIMIT_MIB = 60


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


class CallIds:
    """Call ids (uuid-shaped, as VoIPBIN's) carrying a sequence number, so any frame names its calls."""

    def __init__(self) -> None:
        self.prefix = f"{secrets.token_hex(4)}-0000-4000-8000-"
        self.pattern = re.compile(re.escape(self.prefix) + r"\d{12}")

    def __call__(self, seq: int) -> str:
        return f"{self.prefix}{seq:012d}"


class Tab:
    """A calls page's socket as Chromium opens it: the page's Origin and the session cookie.

    ``open()`` reads every frame and acknowledges what it read as the page's script does;
    ``acks=False`` reads but never acknowledges (a page whose script is stuck); ``reading=False``
    does not read its TCP socket at all (the client stops reading once one frame is buffered).
    """

    def __init__(self, port: int, session_key: str, ids: CallIds) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws/live/calls/"
        self.origin = Origin(f"http://127.0.0.1:{port}")
        self.cookie = f"sessionid={session_key}"
        self.ids = ids
        self.frames = 0
        self.seen: set[str] = set()
        self.progress = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    async def open(self, *, reading: bool = True, acks: bool = True, origin: bool = True) -> Tab:
        self.ws = await connect(
            self.url,
            origin=self.origin if origin else None,
            additional_headers={"Cookie": self.cookie},
            compression=None,
            ping_interval=None,  # a tab that only listens
            max_size=None,
            max_queue=16 if reading else 1,
            close_timeout=2,
        )
        if reading:
            self.read()
            if acks:
                self.tasks.append(asyncio.create_task(self._acknowledge()))
        return self

    def read(self) -> None:
        self.tasks.append(asyncio.create_task(self._read()))

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.frames += 1
                self.seen.update(self.ids.pattern.findall(frame))
                self.progress.set()

    async def _acknowledge(self) -> None:
        told = 0
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(ACK_SECONDS)
                if self.frames != told:
                    told = self.frames
                    await self.ws.send(json.dumps({"type": "ack", "frames": told}))

    async def painted(self) -> None:
        """The first paint (lists and connection state) arrived and nothing came for a while."""
        await until(lambda: self.frames >= 2, timeout=15)
        async with asyncio.timeout(15):
            while True:
                frames = self.frames
                await asyncio.sleep(0.5)
                if self.frames == frames:
                    return

    async def closed_code(self, within: float) -> int | None:
        """The close code the server sent (1006: the connection ended without one)."""
        await asyncio.wait_for(self.ws.wait_closed(), within)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def subscribed_sessions(sim) -> int:
    return sum(1 for connection in sim.stats()["open_connections"] if connection["topics"])


@pytest.fixture
async def web(deployment):
    """One web process of the deployment: its port and process."""
    return await asyncio.to_thread(deployment.start_web)


async def sign_in(sim, deployment, *usernames: str) -> list[str]:
    """Session keys for the cookie, as the sign-in view leaves these users (created in parallel)."""
    return list(
        await asyncio.gather(
            *(asyncio.to_thread(deployment.session_for, name, sim.issue_token(name)) for name in usernames)
        )
    )


async def test_web_process_refuses_a_socket_without_origin_even_with_a_valid_session(sim, deployment, web):
    port, _ = web
    (key,) = await sign_in(sim, deployment, "manager")
    tab = Tab(port, key, CallIds())
    with pytest.raises(InvalidStatus) as refused:
        await tab.open(origin=False)
    assert refused.value.response.status_code == 403  # refused before the upgrade
    assert (await tab.open()).ws.state is State.OPEN  # the same browser with its Origin is let in
    await tab.close()


async def test_sigterm_sends_every_socket_a_close_frame_and_the_process_exits(sim, deployment, web):
    """A deploy or restart: pages hear 1012 ("service restart") at once and reconnect by themselves
    (htmx reconnects after 1012), instead of waiting for a ping to time out."""
    port, process = web
    keys = await sign_in(sim, deployment, "manager", "admin")
    tabs = [await Tab(port, key, CallIds()).open() for key in keys for _ in range(2)]
    await until(lambda: subscribed_sessions(sim) == 2, timeout=15)
    await asyncio.gather(*(tab.painted() for tab in tabs))
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    codes = await asyncio.gather(*(tab.closed_code(within=5) for tab in tabs))
    heard = time.monotonic() - started
    await asyncio.to_thread(process.wait, 15)  # up to GRACEFUL_SHUTDOWN_SECONDS for work in flight
    for tab in tabs:
        await tab.close()
    assert codes == [1012] * len(tabs)
    assert heard < 2, f"the close frames took {heard:.1f}s"
    assert process.returncode == -signal.SIGTERM  # uvicorn shut down, then ends by the signal it got


class Injector:
    """New calls, one every ``interval`` seconds, until stopped: the traffic others keep receiving."""

    def __init__(self, sim, ids: CallIds, interval: float = 0.05) -> None:
        self.sim, self.ids, self.interval, self.count = sim, ids, interval, 0
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing", call_id=self.ids(self.count))
            self.count += 1
            await asyncio.sleep(self.interval)

    async def stop(self) -> set[str]:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        return {self.ids(seq) for seq in range(self.count)}


async def abuse(tab: Tab, kind: str) -> None:
    with contextlib.suppress(ConnectionClosed):  # the server may close while we are still sending
        if kind == "2 MiB frame":
            await tab.ws.send("x" * (2 * 1024 * 1024))
        elif kind == "100 KiB frame":
            await tab.ws.send("x" * (100 * 1024))
        else:
            for _ in range(200):
                await tab.ws.send(json.dumps({"type": "unsubscribe", "topics": []}))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # Over the web server's 1 MiB frame limit (dashboard/webserver.py): the server refuses it
        # at the frame's header with 1009, "message too big", before the application sees it.
        ("2 MiB frame", 1009),
        ("100 KiB frame", CLOSE_TOO_BIG),  # over the dashboard's 64 KiB, under the server's: ours closes it
        ("flood", CLOSE_FLOOD),
    ],
)
async def test_abusive_socket_is_closed_while_another_user_keeps_receiving(
    sim, deployment, web, kind, expected
):
    port, process = web
    abuser_key, bystander_key = await sign_in(sim, deployment, "manager", "admin")
    ids = CallIds()
    bystander = await Tab(port, bystander_key, ids).open()
    abuser = await Tab(port, abuser_key, ids).open()
    await until(lambda: subscribed_sessions(sim) == 2, timeout=15)
    await bystander.painted()
    injector = Injector(sim, ids)
    await asyncio.sleep(0.3)
    await abuse(abuser, kind)
    code = await abuser.closed_code(within=10)
    await asyncio.sleep(0.3)
    injected = await injector.stop()
    await until(lambda: bystander.seen >= injected, timeout=15)
    assert bystander.ws.state is State.OPEN
    assert process.poll() is None
    await bystander.close()
    assert code == expected


async def test_stalled_browser_costs_bounded_memory_while_another_user_gets_all_3000_events(
    sim, deployment, web
):
    """Two stalled pages of one user, one reading page of another, STALL_EVENTS new calls.

    The stalled pages: one never acknowledges (its script is stuck; the browser still reads), one
    does not even read its TCP socket. Neither may be written more than MAX_UNACKED frames, and one
    the server closes must be closed with CLOSE_TOO_FAR_BEHIND (try again later). The reader must
    get every call.
    """
    port, process = web
    stalled_key, reader_key = await sign_in(sim, deployment, "manager", "admin")
    ids = CallIds()
    reader = await Tab(port, reader_key, ids).open()
    stuck_script = await Tab(port, stalled_key, ids).open(acks=False)
    no_tcp_reads = await Tab(port, stalled_key, ids).open(reading=False)
    await until(lambda: subscribed_sessions(sim) == 2, timeout=15)
    await reader.painted()
    before = rss_mib(process.pid)

    window = 300  # calls injected ahead of what the reader has seen: the simulator never drops frames
    for seq in range(STALL_EVENTS):
        while seq - len(reader.seen) >= window:
            reader.progress.clear()
            await asyncio.wait_for(reader.progress.wait(), 30)
        sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing", call_id=ids(seq))
        if seq % 20 == 0:
            await asyncio.sleep(0)  # let the simulator write its frames
    await until(lambda: len(reader.seen) >= STALL_EVENTS, timeout=60)
    after = rss_mib(process.pid)

    assert reader.seen == {ids(seq) for seq in range(STALL_EVENTS)}
    assert reader.ws.state is State.OPEN
    assert sim.stats()["frames_dropped"] == 0
    assert stuck_script.frames <= MAX_UNACKED
    no_tcp_reads.read()  # now read what the server wrote to the page that stopped reading its socket
    with contextlib.suppress(TimeoutError):
        await no_tcp_reads.closed_code(within=3)
    assert no_tcp_reads.frames <= MAX_UNACKED
    assert after - before < STALL_RSS_LIMIT_MIB, f"the web process grew from {before:.1f} to {after:.1f} MiB"
    closes = {tab.ws.close_code for tab in (stuck_script, no_tcp_reads) if tab.ws.state is State.CLOSED}
    for tab in (reader, stuck_script, no_tcp_reads):
        await tab.close()
    # 1006: the web server dropped a socket that never answered its pings.
    assert closes <= {CLOSE_TOO_FAR_BEHIND, 1006}, closes
