"""The upstream session against the running simulator, over real sockets."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_PASSWORD
from dashboard.voipbin.events import Event
from dashboard.voipbin.rest import VoipbinClient
from dashboard.voipbin.topics import Principal, principal_topics
from dashboard.voipbin.upstream import Backoff, State, UpstreamSession
from tests.waiting import until

ACCOUNT = Principal(customer_id=DEMO_CUSTOMER_ID, access_key=True)
CALL_TOPICS = principal_topics(ACCOUNT, ["call"])


class Recorder:
    """Collects events and lets a test wait for one that matches."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._arrived = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(self, predicate, timeout: float = 5.0) -> Event:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._arrived.clear()
                await self._arrived.wait()


def make_session(sim, recorder=None, **options) -> UpstreamSession:
    options.setdefault("backoff", Backoff(base=0.05, cap=0.2, rng=random.Random(1)))
    options.setdefault("topics", CALL_TOPICS)
    return UpstreamSession(
        sim.ws_url, accesskey=options.pop("accesskey", DEMO_ACCESS_KEY), on_event=recorder, **options
    )


async def control(sim, path: str, body: dict | None = None) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post(f"/_sim/{path}", json=body or {})
        response.raise_for_status()
        return response.json()


async def stats(sim) -> dict:
    import httpx

    async with httpx.AsyncClient(base_url=sim.url) as http:
        return (await http.get("/_sim/stats")).json()


async def new_call(sim) -> dict:
    return await control(sim, "calls", {"customer_id": DEMO_CUSTOMER_ID, "direction": "incoming"})


async def live(session: UpstreamSession, sim, timeout: float = 5.0) -> None:
    """Connected, and the simulator holds every topic asked for (VoIPBIN never acknowledges)."""
    async with asyncio.timeout(timeout):
        await session.wait_for(State.LIVE)
    wanted = set(session.topics)
    await until(lambda: all(wanted <= set(c["topics"]) for c in sim.stats()["open_connections"]))


def is_call(call_id: str, status: str | None = None):
    return lambda e: (
        e.resource == "call" and e.resource_id == call_id and (status is None or e.status == status)
    )


async def test_subscribes_and_receives_call_events(sim):
    recorder = Recorder()
    session = make_session(sim, recorder)
    session.start()
    try:
        await live(session, sim)
        call = await new_call(sim)
        event = await recorder.wait_for(is_call(call["id"]))
        assert event.type == "call.status"
        assert event.customer_id == DEMO_CUSTOMER_ID
        assert session.counters.events >= 1
        assert session.status.last_event_at is not None
    finally:
        await session.close()


async def test_frames_stay_compressed_and_the_session_keeps_no_compressor(sim):
    """permessage-deflate both ways, VoIPBIN's side with its context (better compression), ours
    without: a session compresses a subscribe now and then, and holds no zlib compressor for it."""
    recorder = Recorder()
    session = make_session(sim, recorder)
    session.start()
    try:
        await live(session, sim)
        (deflate,) = session._ws.protocol.extensions
        assert deflate.name == "permessage-deflate"
        assert deflate.local_no_context_takeover
        assert not hasattr(deflate, "encoder")
        assert not deflate.remote_no_context_takeover
        await session.subscribe([f"customer_id:{DEMO_CUSTOMER_ID}:message"])  # compressed afresh
        await live(session, sim)
        call = await new_call(sim)
        await recorder.wait_for(is_call(call["id"]))
    finally:
        await session.close()


async def test_agent_token_session_receives_only_its_calls(sim):
    async with VoipbinClient(sim.url) as rest:
        login = await rest.login("agent1", DEMO_PASSWORD)
    async with VoipbinClient(sim.url, token=login.token) as rest:
        me = await rest.me()
    agent = Principal(customer_id=me["customer_id"], agent_id=me["id"], permission=me["permission"])
    recorder = Recorder()
    session = UpstreamSession(
        sim.ws_url, token=login.token, topics=principal_topics(agent, ["call"]), on_event=recorder
    )
    session.start()
    try:
        await live(session, sim)
        others = await new_call(sim)
        mine = await control(
            sim, "calls", {"customer_id": DEMO_CUSTOMER_ID, "direction": "incoming", "owner_id": me["id"]}
        )
        await recorder.wait_for(is_call(mine["id"]))
        await asyncio.sleep(0.2)
        assert not [e for e in recorder.events if e.resource_id == others["id"]]
        assert session.state is State.LIVE  # the agent topics were allowed
    finally:
        await session.close()


async def test_forced_drop_reconnects_resubscribes_and_calls_the_hook(sim):
    recorder = Recorder()
    hooks: list[bool] = []
    session = make_session(sim, recorder, on_connected=lambda s, reconnected: hooks.append(reconnected))
    session.start()
    try:
        await live(session, sim)
        await control(sim, "drop")
        await until(lambda: session.counters.reconnects >= 1 and session.state is State.LIVE)
        call = await new_call(sim)
        await recorder.wait_for(is_call(call["id"]))  # the topics were subscribed again
        assert hooks == [False, True]
        open_connections = (await stats(sim))["open_connections"]
        assert len(open_connections) == 1
        assert set(CALL_TOPICS) <= set(open_connections[0]["topics"])
    finally:
        await session.close()


@pytest.mark.slow
async def test_accept_then_close_for_20s_stays_within_the_backoff_schedule(sim):
    """An upstream that accepts then closes must not reset the backoff (no reconnect storm)."""
    seed, base, cap, window = 3, 0.25, 4.0, 20.0
    await control(sim, "accept_then_close", {"enabled": True})
    session = make_session(sim, backoff=Backoff(base, cap, random.Random(seed)), stable_after=5.0)
    before = (await stats(sim))["upgrade_attempts"]
    session.start()
    try:
        await asyncio.sleep(window)
        attempts = (await stats(sim))["upgrade_attempts"] - before
    finally:
        await session.close()

    # The same seeded schedule, replayed: attempt n+1 cannot come before the sum of the first n delays.
    replay = Backoff(base, cap, random.Random(seed))
    elapsed, allowed = 0.0, 1
    while True:
        elapsed += replay.delay(allowed - 1)
        if elapsed > window:
            break
        allowed += 1
    assert session.counters.connections >= 2  # the upgrade did succeed each time
    assert 3 <= attempts <= allowed
    # Never reset: the backoff exponent counts every attempt since the start.
    assert session.status.attempt >= attempts - 2


async def test_backoff_resets_after_a_stable_connection(sim):
    session = make_session(sim, backoff=Backoff(0.05, 0.1, random.Random(2)), stable_after=0.3)
    session.start()
    try:
        await live(session, sim)
        await control(sim, "accept_then_close", {"enabled": True})
        await control(sim, "drop")
        await until(lambda: session.status.attempt >= 3)
        await control(sim, "accept_then_close", {"enabled": False})
        await live(session, sim)
        await asyncio.sleep(0.4)  # stays up past stable_after
        await control(sim, "drop")
        async with asyncio.timeout(5):
            await session.wait_for(State.RETRYING)
        assert session.status.attempt == 0
    finally:
        await session.close()


async def test_401_on_upgrade_stops_with_a_reason(sim):
    session = make_session(sim, accesskey="not-a-valid-key")
    session.start()
    async with asyncio.timeout(5):
        status = await session.wait_for(State.STOPPED)
    assert "401" in status.reason
    assert "access key" in status.reason
    assert session.counters.attempts == 1  # no retry on bad credentials
    await session.close()


async def test_expired_token_stops_and_asks_to_sign_in_again(sim):
    session = UpstreamSession(sim.ws_url, token=sim.issue_token("manager", lifetime=-1), topics=CALL_TOPICS)
    session.start()
    async with asyncio.timeout(5):
        status = await session.wait_for(State.STOPPED)
    assert "401" in status.reason
    assert "sign in again" in status.reason
    await session.close()


async def test_403_and_401_after_a_drop_stop_but_503_and_429_retry(sim):
    session = make_session(sim)
    session.start()
    try:
        await live(session, sim)
        for code in (503, 429):
            await control(sim, "refuse", {"status": code})
            await control(sim, "drop")
            await until(lambda c=code: session.state is State.RETRYING and str(c) in session.status.reason)
            await control(sim, "refuse", {"status": None})
            await live(session, sim)
        await control(sim, "refuse", {"status": 403})
        await control(sim, "drop")
        async with asyncio.timeout(5):
            status = await session.wait_for(State.STOPPED)
        assert "403" in status.reason
    finally:
        await session.close()


async def test_stalled_upstream_is_detected_by_keepalive_and_recovers(sim):
    recorder = Recorder()
    session = make_session(sim, recorder, ping_interval=0.2, ping_timeout=0.3)
    session.start()
    try:
        await live(session, sim)
        await control(sim, "stall", {"enabled": True})
        async with asyncio.timeout(5):
            await session.wait_for(State.RETRYING)
        await control(sim, "stall", {"enabled": False})
        await live(session, sim)
        call = await new_call(sim)
        await recorder.wait_for(is_call(call["id"]))
    finally:
        await session.close()


async def test_a_silent_upstream_counts_as_silent_reconnects_and_is_live_once_heard_again(sim):
    """Nothing heard (the stalled simulator neither sends nor pings nor pongs) for the silence
    timeout: silent since the last thing heard, reconnecting; not live again on a new connection
    that is just as quiet, but as soon as VoIPBIN is heard from."""
    statuses = []
    session = make_session(
        sim, Recorder(), ping_interval=0.1, ping_timeout=30, silence_timeout=0.5, on_status=statuses.append
    )
    session.start()
    try:
        await live(session, sim)
        assert session.status.silent_since is None
        await control(sim, "stall", {"enabled": True})
        stalled_at = time.time()
        # Noticed, then the connection dropped: not live any more (one step of the loop apart).
        await until(lambda: session.status.silent_since and session.state is not State.LIVE, timeout=3)
        status = session.status
        assert status.silent_since <= stalled_at + 0.2  # the last thing heard, not the detection
        assert status.heard_at is not None
        assert session.counters.silences >= 1
        assert any(s.silent_since and s.state is State.RETRYING for s in statuses)
        assert "silent" in next(s.reason for s in statuses if s.state is State.RETRYING)
        await until(lambda: session.counters.silences >= 2, timeout=5)  # the next connection is quiet too
        assert session.state is not State.LIVE
        await control(sim, "stall", {"enabled": False})
        await live(session, sim)
        assert session.status.silent_since is None
        call = await new_call(sim)
        await until(lambda: session.counters.events >= 1)
        assert session.status.last_event_at >= stalled_at
        assert call["id"]
    finally:
        await session.close()


async def test_the_newest_data_age_starts_afresh_after_each_reconnect(sim):
    """The backfill after a reconnect brings VoIPBIN's state as of then: the owner is told."""
    statuses = []
    connected = asyncio.Event()

    async def backfill(session, reconnected):
        connected.set()

    session = make_session(sim, Recorder(), on_connected=backfill, on_status=statuses.append)
    session.start()
    try:
        await live(session, sim)
        await until(lambda: statuses[-1].last_event_at is not None)
        first = statuses[-1].last_event_at
        connected.clear()
        await asyncio.sleep(0.05)
        await control(sim, "drop")
        await asyncio.wait_for(connected.wait(), 5)
        await until(lambda: statuses[-1].last_event_at is not None and statuses[-1].last_event_at > first)
        assert statuses[-1].state is State.LIVE
    finally:
        await session.close()


async def test_bad_frames_are_counted_and_the_session_survives(sim):
    recorder = Recorder()
    session = make_session(sim, recorder, max_size=4096)
    session.start()
    try:
        await live(session, sim)
        await control(sim, "inject", {"raw": "{not json"})
        await control(sim, "inject", {"raw": '{"event_type": "weather.changed", "data": {}}'})
        await control(sim, "inject", {"binary_base64": "AAEC"})
        await until(lambda: session.counters.malformed >= 2 and session.counters.unknown >= 1)
        assert session.state is State.LIVE
        await control(sim, "inject", {"raw": '{"pad": "' + "x" * 10_000 + '"}'})
        await until(lambda: session.counters.oversize >= 1 and session.state is State.LIVE)
        call = await new_call(sim)
        await recorder.wait_for(is_call(call["id"]))
        assert session.counters.handler_errors == 0
    finally:
        await session.close()


async def test_failing_event_handler_is_counted_not_fatal(sim):
    def explode(event: Event) -> None:
        raise RuntimeError("boom")

    session = make_session(sim, explode)
    session.start()
    try:
        await live(session, sim)
        await new_call(sim)
        await until(lambda: session.counters.handler_errors >= 1)
        assert session.state is State.LIVE
    finally:
        await session.close()


async def test_subscribe_and_unsubscribe_while_running(sim):
    recorder = Recorder()
    session = make_session(sim, recorder, topics=())
    session.start()
    try:
        await live(session, sim)
        await session.subscribe(CALL_TOPICS)
        await asyncio.sleep(0.1)
        call = await new_call(sim)
        await recorder.wait_for(is_call(call["id"]))
        await session.unsubscribe(CALL_TOPICS)
        assert session.topics == frozenset()
        await asyncio.sleep(0.1)
        seen = len(recorder.events)
        await new_call(sim)
        await asyncio.sleep(0.3)
        assert len(recorder.events) == seen
    finally:
        await session.close()


@pytest.mark.parametrize("dialect", ["legacy", "bare"])
async def test_code_dialects_deliver_twice_and_the_session_deduplicates(sim, dialect):
    await control(sim, "dialect", {"dialect": dialect})
    recorder = Recorder()
    session = make_session(sim, recorder, topics=[f"customer_id:{DEMO_CUSTOMER_ID}:call"])
    session.start()
    try:
        await live(session, sim)
        call = await new_call(sim)
        event = await recorder.wait_for(is_call(call["id"]))
        assert event.dialect == dialect
        await until(lambda: session.counters.duplicates >= 1)
        assert len([e for e in recorder.events if e.key == event.key]) == 1
    finally:
        await session.close()


async def test_close_leaves_no_task_behind(sim):
    baseline = asyncio.all_tasks()
    session = make_session(sim, on_connected=lambda s, r: asyncio.sleep(60))
    session.start()
    await live(session, sim)
    await session.close()
    await asyncio.sleep(0)  # let the library's own callbacks finish
    assert asyncio.all_tasks() - baseline == set()
    assert session.state is State.STOPPED
    await until(lambda: _no_connections(sim))


async def _no_connections(sim) -> bool:
    return (await stats(sim))["open_connections"] == []


async def test_close_while_retrying_leaves_no_task_behind(sim):
    await control(sim, "refuse", {"status": 503})
    baseline = asyncio.all_tasks()
    session = make_session(sim, backoff=Backoff(5, 5, random.Random(1)))
    session.start()
    async with asyncio.timeout(5):
        await session.wait_for(State.RETRYING)
    await session.close()
    assert asyncio.all_tasks() - baseline == set()
