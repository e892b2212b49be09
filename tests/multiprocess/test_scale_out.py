"""Two web processes on PostgreSQL and Redis: one upstream session per user, every tab served.

One supervisor has a tab on each process. Exactly one upstream VoIPBIN session
exists for them (a Redis lease decides the owner); every event reaches both
tabs exactly once; when the owner dies the other process takes the session
over within the lease time and its tab resyncs; a Redis restart is survived.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import psycopg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_MANAGER_ID
from tests.waiting import until

pytestmark = pytest.mark.slow


class Tab:
    """A browser tab's socket on one web process, recording every row it was sent."""

    def __init__(self, port: int, session_key: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws/live/calls/"
        self.headers = {"Cookie": f"sessionid={session_key}"}
        self.origin = f"http://127.0.0.1:{port}"
        self.frames: list[str] = []
        self.task: asyncio.Task | None = None

    async def open(self) -> None:
        self.ws = await connect(self.url, additional_headers=self.headers, origin=self.origin)
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):  # its web process may be killed
            async for frame in self.ws:
                self.frames.append(frame)

    def rows(self, call_id: str) -> int:
        """How many single-row updates for this call arrived (full-list resyncs not counted)."""
        return sum(1 for f in self.frames if "<tbody" not in f and f'id="call-{call_id}"' in f)

    def saw(self, needle: str) -> bool:
        return any(needle in frame for frame in self.frames)

    async def close(self) -> None:
        await self.ws.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


def manager_sessions(sim) -> int:
    return sum(1 for c in sim.stats()["open_connections"] if c["agent_id"] == DEMO_MANAGER_ID)


def subscribed(sim) -> bool:
    return all(c["topics"] for c in sim.stats()["open_connections"] if c["agent_id"] == DEMO_MANAGER_ID)


async def two_tabs_on_two_processes(sim, deployment):
    """The manager signed in, a tab on each of two web processes; the first process owns the session."""
    port_a, process_a = await asyncio.to_thread(deployment.start_web)
    port_b, _ = await asyncio.to_thread(deployment.start_web)
    key = await asyncio.to_thread(deployment.session_for, "manager", sim.issue_token("manager"))
    tab_a, tab_b = Tab(port_a, key), Tab(port_b, key)
    await tab_a.open()
    await until(
        lambda: tab_a.saw('data-state="live"') and manager_sessions(sim) == 1 and subscribed(sim), timeout=15
    )
    await tab_b.open()
    return tab_a, tab_b, process_a


async def test_one_session_per_user_every_tab_served_and_takeover(sim, deployment):
    tab_a, tab_b, process_a = await two_tabs_on_two_processes(sim, deployment)
    await until(lambda: tab_b.saw('data-state="live"') and tab_b.saw("<tbody"), timeout=15)
    await asyncio.sleep(1)  # a second session would have connected by now
    assert manager_sessions(sim) == 1

    calls = [sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing") for _ in range(5)]
    await until(lambda: all(tab.rows(c["id"]) >= 1 for tab in (tab_a, tab_b) for c in calls), timeout=10)
    await asyncio.sleep(0.5)  # duplicates would have arrived by now
    assert [tab_a.rows(c["id"]) for c in calls] == [1] * 5
    assert [tab_b.rows(c["id"]) for c in calls] == [1] * 5

    # The owner (tab A's process: it was first) dies without a word.
    process_a.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process_a.wait)
    resyncs_before = sum(1 for f in tab_b.frames if "<tbody" in f)
    await until(lambda: manager_sessions(sim) == 1 and subscribed(sim), timeout=10)  # taken over
    await until(lambda: sum(1 for f in tab_b.frames if "<tbody" in f) > resyncs_before, timeout=10)
    after = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    await until(lambda: tab_b.rows(after["id"]) == 1, timeout=10)
    assert manager_sessions(sim) == 1
    await tab_b.close()


async def lease_owner(redis_url: str) -> str | None:
    """The process holding the user-session lease in Redis (dashboard.leases' prefix), if any does."""
    import redis.asyncio as redis

    client = redis.from_url(redis_url, decode_responses=True)
    try:
        keys = await client.keys("dashboard:lease:user-session:*")
        assert len(keys) <= 1  # one user signed in
        return await client.get(keys[0]) if keys else None
    finally:
        await client.aclose()


async def test_a_process_stopped_with_sigterm_releases_its_sessions_for_the_other_at_once(sim, deployment):
    """A deploy restarts the owner: it ends the user's upstream session and releases the lease on its
    way out (the ASGI lifespan's shutdown), instead of leaving it to run out."""
    _, tab_b, process_a = await two_tabs_on_two_processes(sim, deployment)
    await until(lambda: tab_b.saw("<tbody"), timeout=15)
    owner = await lease_owner(deployment.redis.url)
    assert owner is not None

    process_a.send_signal(signal.SIGTERM)
    await asyncio.to_thread(process_a.wait, 20)
    right_after = await lease_owner(deployment.redis.url)

    assert right_after != owner  # released (or already taken by the other process), not left to expire
    await until(lambda: manager_sessions(sim) == 1 and subscribed(sim), timeout=10)
    after = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    await until(lambda: tab_b.rows(after["id"]) == 1, timeout=10)
    await tab_b.close()


async def test_redis_restart_is_survived_without_duplicates(sim, deployment):
    tab_a, tab_b, _ = await two_tabs_on_two_processes(sim, deployment)
    await until(lambda: tab_b.saw("<tbody"), timeout=15)
    before = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    await until(lambda: tab_a.rows(before["id"]) == 1 and tab_b.rows(before["id"]) == 1, timeout=10)

    await asyncio.to_thread(deployment.redis.stop)
    during = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")  # the owner's tab still gets it
    await until(lambda: tab_a.rows(during["id"]) == 1, timeout=10)
    await asyncio.to_thread(deployment.redis.start)

    # Within 30 s both tabs receive events again (tab B through Redis once more).
    async def both_receive() -> bool:
        probe = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
        await asyncio.sleep(1)
        return tab_a.rows(probe["id"]) == 1 and tab_b.rows(probe["id"]) == 1

    await until(both_receive, timeout=30, interval=0.5)
    # Tab B missed the call made while Redis was down; its process resynced it from state.
    await until(lambda: any("<tbody" in f and during["id"] in f for f in tab_b.frames), timeout=10)
    assert manager_sessions(sim) == 1
    with psycopg.connect(deployment.database_url.replace("postgres://", "postgresql://", 1)) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM dashboard_call")]
    assert len(ids) == len(set(ids))
    assert {before["id"], during["id"]} <= set(ids)
    for tab in (tab_a, tab_b):
        await tab.close()
