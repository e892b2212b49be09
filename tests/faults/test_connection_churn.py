"""A thousand browser sockets that come and go, many of them badly: nothing stays behind.

Against a real web process on PostgreSQL and Redis (the production shape,
tests/multiprocess/conftest.py): clean closes, resets without a close frame,
resets in the middle of the HTTP upgrade request, before and right after the
101. Afterwards the web process is back to its baseline: open files, threads,
database connections, memory within bounds, and the user's upstream VoIPBIN
session closed once the relay's grace period is over. A tab the server is
closing must not cut the user's other tabs off. In-process, nothing stays
behind an application cancelled in the middle of ``connect`` (daphne kills one
still running ``application_close_timeout`` after its client left).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_MANAGER_ID
from dashboard.webserver import web_command
from tests.faults.churn_helpers import (
    CLEAN,
    KINDS,
    RST_AFTER_101,
    RST_OPEN,
    churn_once,
    masked_text_frame,
    open_fds,
    open_raw,
    read_server_frame,
    reset,
    rss_bytes,
    socket_log,
)
from tests.multiprocess.conftest import POSTGRES_URL, ROOT, Deployment, unavailable
from tests.processes import free_port, wait_for_port
from tests.test_live_consumer import socket
from tests.waiting import until

CYCLES = 1000
WARM_UP = 50  # thread pools, the database connection, template caches: made once, then reused
CONCURRENCY = 8
SEED = 5
FD_SLACK = 2  # a pooled database or Redis connection being replaced at that moment
RSS_GROWTH_LIMIT = 16 * 2**20  # levels off ~12 MiB above the warm-up (4000 cycles measured)
PATH = "/ws/live/calls/"
LOG_ENTRY = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ |\S+:\d+ - - \[")  # a log record, an access line


@pytest.fixture
def proc() -> None:
    if not os.path.isdir(f"/proc/{os.getpid()}/fd"):
        unavailable("counting a process's files and threads needs Linux's /proc")


def _start_web(shared: Deployment, log: Path) -> tuple[int, subprocess.Popen]:
    """The web process as deployed, its output kept so the test can look for tracebacks."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            web_command("127.0.0.1", port), env=shared.env, cwd=ROOT, stdout=out, stderr=out
        )
    shared.processes.append(process)
    wait_for_port(port, process)
    return port, process


def _database_connections(database_url: str) -> int:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1)) as admin:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
    return row[0]


def _measure(pid: int, database_url: str) -> dict[str, int]:
    return {
        "fds": open_fds(pid),
        "threads": len(list(Path(f"/proc/{pid}/task").iterdir())),
        "db": _database_connections(database_url),
        "rss": rss_bytes(pid),
    }


async def _churn(kinds: list[str], rng: random.Random, **where) -> None:
    """Run the cycles ``CONCURRENCY`` at a time; the first failure fails the test."""
    queue: asyncio.Queue[tuple[str, float]] = asyncio.Queue()
    for kind in kinds:
        queue.put_nowait((kind, rng.random()))

    async def worker() -> None:
        while not queue.empty():
            kind, cut = queue.get_nowait()
            try:
                await churn_once(kind, cut=cut, **where)
            except Exception as exc:
                raise AssertionError(f"{kind}: {exc!r}") from exc

    async with asyncio.TaskGroup() as group:
        for _ in range(CONCURRENCY):
            group.create_task(worker())


@pytest.mark.slow
async def test_a_thousand_connects_and_resets_leave_the_web_server_as_it_was(proc, sim, deployment, tmp_path):
    log = tmp_path / "web.log"
    port, process = await asyncio.to_thread(_start_web, deployment, log)
    key = await asyncio.to_thread(deployment.session_for, "manager", sim.issue_token("manager"))
    where = {"port": port, "path": PATH, "cookie": f"sessionid={key}", "origin": f"http://127.0.0.1:{port}"}
    rng = random.Random(SEED)
    kinds = [KINDS[i % len(KINDS)] for i in range(CYCLES)]
    rng.shuffle(kinds)
    grace = float(deployment.env["RELAY_GRACE_SECONDS"])

    async def upstream_closed() -> None:
        """The user's upstream session ends a grace period after their last socket was let go."""
        with contextlib.suppress(TimeoutError):
            await until(lambda: sim.stats()["open_connections"] == [], timeout=grace + 10)
        assert sim.stats()["open_connections"] == [], "a socket of the user is still attached"

    await _churn([k for k in KINDS for _ in range(WARM_UP // len(KINDS))], rng, **where)
    await upstream_closed()
    baseline = await asyncio.to_thread(_measure, process.pid, deployment.database_url)

    with socket_log(sim) as sockets:
        started = time.monotonic()
        await _churn(kinds, rng, **where)
        took = time.monotonic() - started
        # The server still serves: a new tab goes live and shows a call created now.
        await _tab_shows_a_new_call(sim, where)
    await upstream_closed()
    after = await _settled(process.pid, deployment.database_url, baseline, timeout=grace + 10)

    figures = f"{CYCLES} cycles in {took:.1f}s; before: {_shown(baseline)}; after: {_shown(after)}"
    assert sockets.most_open == {DEMO_MANAGER_ID: 1}, figures  # one upstream session throughout
    assert after["db"] <= baseline["db"], figures
    assert after["threads"] <= baseline["threads"], figures
    assert after["fds"] <= baseline["fds"] + FD_SLACK, figures
    assert after["rss"] - baseline["rss"] <= RSS_GROWTH_LIMIT, figures
    assert process.poll() is None
    text = log.read_text()
    assert _log_problems(text) == []
    lines = text.splitlines()
    # The mix reached the server: every socket whose client waited for the 101 was accepted (the web
    # server's "[accepted]" lines; one reset before the 101 may be accepted too). That the
    # application let each go, the upstream session closing above says: it closes only once no
    # socket of the user is attached.
    opened = sum(f'"WebSocket {PATH}' in line and "[accepted]" in line for line in lines)
    waited = {CLEAN, RST_OPEN, RST_AFTER_101}
    assert opened >= sum(kind in waited for kind in kinds) + WARM_UP // len(KINDS) * len(waited)


def _log_problems(text: str) -> list[str]:
    """Warnings, errors and tracebacks in a process's output, each with the lines that follow it."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        if LOG_ENTRY.match(line) or not entries:
            entries.append([])
        entries[-1].append(line)
    return [
        "\n".join(entry)
        for entry in entries
        if any(level in entry[0] for level in (" WARNING ", " ERROR ", " CRITICAL "))
        or any("Traceback" in line for line in entry)
    ]


async def _tab_shows_a_new_call(sim, where: dict) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{where['port']}{where['path']}"
    async with connect(url, additional_headers={"Cookie": where["cookie"]}, origin=where["origin"]) as ws:
        seen = ""
        async with asyncio.timeout(10):
            while 'data-state="live"' not in seen:
                seen += await ws.recv()
            await until(lambda: any(c["topics"] for c in sim.stats()["open_connections"]))
            call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
            while f'id="call-{call["id"]}"' not in seen:
                seen += await ws.recv()


async def _settled(pid: int, database_url: str, baseline: dict[str, int], timeout: float) -> dict[str, int]:
    """The figures once fds, threads and database connections are back, or at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        now = await asyncio.to_thread(_measure, pid, database_url)
        back = (
            now["fds"] <= baseline["fds"] + FD_SLACK
            and now["threads"] <= baseline["threads"]
            and now["db"] <= baseline["db"]
        )
        if back or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.2)


def _shown(figures: dict[str, int]) -> str:
    return ", ".join(f"{k} {v / 2**20:.1f} MiB" if k == "rss" else f"{k} {v}" for k, v in figures.items())


# -- a tab that is closing ---------------------------------------------------------------------


class Tab:
    """A page's socket that reads everything it is sent."""

    def __init__(self, port: int, session_key: str) -> None:
        self.url = f"ws://127.0.0.1:{port}{PATH}"
        self.headers = {"Cookie": f"sessionid={session_key}"}
        self.origin = f"http://127.0.0.1:{port}"
        self.seen = ""

    async def __aenter__(self) -> Tab:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, additional_headers=self.headers, origin=self.origin)
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                self.seen += frame

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()
        await asyncio.gather(self.reader, return_exceptions=True)


@pytest.mark.slow
async def test_a_tab_closing_does_not_cut_the_users_other_tabs_off(sim, deployment):
    """The server closed a tab (here for flooding, 4008; a sign-out or a reader too far behind
    does the same) and the browser has not answered the close yet: for up to a second (autobahn's
    close handshake timeout) daphne still passes sends to it, and they raise. The user's tabs on
    another web process must still get every update."""
    port_a, _ = await asyncio.to_thread(deployment.start_web)
    port_b, _ = await asyncio.to_thread(deployment.start_web)
    key = await asyncio.to_thread(deployment.session_for, "manager", sim.issue_token("manager"))
    async with Tab(port_a, key) as owner:  # the first tab: its process owns the upstream session
        await until(lambda: 'data-state="live"' in owner.seen, timeout=15)
        await until(lambda: any(c["topics"] for c in sim.stats()["open_connections"]))
        async with Tab(port_b, key) as elsewhere:
            first = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
            await until(lambda: all(first["id"] in tab.seen for tab in (owner, elsewhere)), timeout=10)
            cookie, origin = f"sessionid={key}", f"http://127.0.0.1:{port_a}"
            reader, writer = await open_raw(port_a, PATH, cookie=cookie, origin=origin)
            try:
                writer.write(b"".join(masked_text_frame(b"{}") for _ in range(60)))
                async with asyncio.timeout(5):
                    while (await read_server_frame(reader))[0] != 0x8:
                        pass  # the page, then the server's close (4008); it is never answered
                calls = [
                    sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
                    for _ in range(3)
                ]
                with contextlib.suppress(TimeoutError):
                    await until(
                        lambda: all(c["id"] in tab.seen for c in calls for tab in (owner, elsewhere)),
                        timeout=3,
                    )
            finally:
                reset(writer)
            missing = {
                name: [c["id"] for c in calls if c["id"] not in tab.seen]
                for name, tab in (("owner's process", owner), ("other process", elsewhere))
            }
            assert missing == {"owner's process": [], "other process": []}


# -- in-process: connects cut short ------------------------------------------------------------


async def _back_to_baseline(sim, relay_hub, baseline: set[asyncio.Task]) -> None:
    """No user entry in the hub, no upstream socket, no group member, no task that was not there."""
    from channels.layers import get_channel_layer

    with contextlib.suppress(TimeoutError):
        await until(
            lambda: (
                not relay_hub.sessions
                and not sim.stats()["open_connections"]
                and not (asyncio.all_tasks() - baseline)
            ),
            timeout=3,
        )
    assert {pk: len(entry.sockets) for pk, entry in relay_hub.sessions.items()} == {}
    assert sim.stats()["open_connections"] == []
    groups = getattr(get_channel_layer(), "groups", {})
    assert not [name for name, members in groups.items() if members]
    assert sorted(task.get_coro().__qualname__ for task in asyncio.all_tasks() - baseline) == []


async def _warm(relay_hub, manager) -> set[asyncio.Task]:
    """One whole cycle first: the hub's own maintenance task starts with the first socket."""
    communicator = socket(manager)
    assert (await communicator.connect())[0]
    await communicator.disconnect()
    await until(lambda: relay_hub.sessions == {})
    return asyncio.all_tasks()


@pytest.mark.django_db(transaction=True)
async def test_application_cancelled_mid_connect_leaves_nothing_behind(sim, relay_hub, make_persona):
    """Daphne cancels an application still running 10 s after its client left (a slow database, a
    Redis that does not answer): whatever connect had set up must be undone. The existing hundred
    cycles (tests/test_live_consumer.py) only ever end sockets with a disconnect message."""
    manager = await make_persona("manager")
    baseline = await _warm(relay_hub, manager)
    rng = random.Random(SEED)
    for i in range(30):
        communicator = socket(manager)
        await communicator.send_input({"type": "websocket.connect"})
        if i % 2:  # accepted: connect is now attaching to the hub or rendering the first page
            assert (await communicator.receive_output())["type"] == "websocket.accept"
        else:  # anywhere from before the accept to after connect returned
            await asyncio.sleep(rng.uniform(0, 0.01))
        await communicator.disconnect(timeout=0)  # the disconnect is queued, the application cancelled
    await _back_to_baseline(sim, relay_hub, baseline)
