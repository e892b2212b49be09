"""Fifty upstream faults in a row: the backoff holds, one socket at a time, healing is prompt, 401 ends it.

tests/voipbin/test_upstream.py shows each fault once; here one session lives
through 503 refusals, accept-then-close, stalls and drops, cycled fifty times,
and every connection attempt is checked against the backoff schedule. The
attempts are seen from the simulator's side (when each upgrade request
arrived, how many sockets were open), the schedule from the session's own
status reports. The product does the same for a signed-in user with two tabs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from dashboard.clients import session_options
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_MANAGER_ID
from dashboard.voipbin.upstream import Backoff, SessionStatus, State, UpstreamSession
from tests.faults.churn_helpers import socket_log
from tests.test_live_consumer import receive_until, socket
from tests.voipbin.test_upstream import CALL_TOPICS, Recorder, is_call
from tests.waiting import until

pytestmark = pytest.mark.slow

CYCLES = 50
FAILURES_PER_FAULT = 2  # failed attempts while the fault lasts, so retries under a fault are seen too
BASE, CAP, STABLE_AFTER = 0.02, 0.15, 0.4
PING_INTERVAL, SILENCE = 0.1, 0.25  # a stall is noticed within about a quarter second
SEED = 11
MARGIN = 0.5  # connect, subscribe, one event through: far less, but the machine is shared
EPSILON = 0.05  # the session measures "up" from a few ms before it reports live


def _drop(sim) -> None:
    sim.drop_connections()


def _refuse(status: int) -> Callable:
    def apply(sim) -> None:
        sim.set_refusal(status)
        sim.drop_connections()  # a refusal only answers upgrades: end the socket that is open

    return apply


def _accept_then_close(sim) -> None:
    sim.set_accept_then_close(True)
    sim.drop_connections()


FAULTS: dict[str, tuple[Callable, Callable]] = {
    # name: (apply, heal); "drop" is applied again on every reconnect while it lasts (below)
    "503": (_refuse(503), lambda sim: sim.set_refusal(None)),
    "accept-then-close": (_accept_then_close, lambda sim: sim.set_accept_then_close(False)),
    "stall": (lambda sim: sim.set_stalled(True), lambda sim: sim.set_stalled(False)),
    "drop": (_drop, lambda sim: None),
}


@dataclass(frozen=True)
class Report:
    state: State
    at: float  # time.monotonic(), the clock SocketLog uses
    attempt: int
    retry_in: float | None
    reason: str
    http_status: int | None


class StatusLog:
    """Every status the session reported, stamped; calls ``on_retrying`` synchronously when set."""

    def __init__(self) -> None:
        self.reports: list[Report] = []
        self.on_retrying: Callable[[Report], None] | None = None

    def __call__(self, status: SessionStatus) -> None:
        report = Report(
            status.state, time.monotonic(), status.attempt, status.retry_in, status.reason, status.http_status
        )
        self.reports.append(report)
        if report.state is State.RETRYING and self.on_retrying is not None:
            self.on_retrying(report)

    def count(self, state: State) -> int:
        return sum(1 for r in self.reports if r.state is state)

    def of(self, state: State) -> list[Report]:
        return [r for r in self.reports if r.state is state]


async def _fault_cycle(name: str, sim, session: UpstreamSession, log: StatusLog) -> float:
    """Apply a fault until the session has failed ``FAILURES_PER_FAULT`` times, heal it; the heal time.

    The heal happens inside the status callback of the last failure, so the
    session is then sleeping its backoff delay and the next attempt meets a
    healthy upstream: recovery must take no longer than that delay.
    """
    apply, heal = FAULTS[name]
    failed_before = log.count(State.RETRYING)
    healed: asyncio.Future[Report] = asyncio.get_running_loop().create_future()

    def heal_after_enough(report: Report) -> None:
        if not healed.done() and log.count(State.RETRYING) - failed_before >= FAILURES_PER_FAULT:
            heal(sim)
            healed.set_result(report)

    log.on_retrying = heal_after_enough
    try:
        apply(sim)
        if name == "drop":
            while not healed.done():
                lives = log.count(State.LIVE)
                await until(
                    lambda n=lives: (
                        healed.done()
                        or (log.count(State.LIVE) > n and any(not c.aborted for c in sim.hub.connections))
                    )
                )
                if not healed.done():
                    sim.drop_connections()
        async with asyncio.timeout(10):
            report = await healed
    finally:
        log.on_retrying = None
    return report.at


def _check_backoff(log: StatusLog, upgrades: list[float], attempts: int) -> dict[str, int]:
    """Every reconnect waited at least the delay the seeded schedule drew for it; the exponent grew
    after every failure and went back to 0 only after a connection that stayed up ``STABLE_AFTER``."""
    retries = log.of(State.RETRYING)
    assert len(upgrades) == attempts == len(retries) + 1  # the last attempt met the 401: no retry
    replay = Backoff(BASE, CAP, random.Random(SEED))
    live_since: float | None = None
    previous: int | None = None
    seen = {"resets": 0, "increments": 0}
    for report in log.reports:
        if report.state is State.LIVE:
            live_since = report.at
        if report.state is not State.RETRYING:
            continue
        up = report.at - live_since if live_since is not None else None
        live_since = None
        if previous is None or (up is not None and up >= STABLE_AFTER + EPSILON):
            allowed = {0}
        elif up is None or up < STABLE_AFTER - EPSILON:
            allowed = {previous + 1}
        else:
            allowed = {0, previous + 1}
        assert report.attempt in allowed, (report, up)
        seen["resets" if report.attempt == 0 and previous is not None else "increments"] += 1
        previous = report.attempt
        assert report.retry_in is not None
        assert 0 <= report.retry_in <= min(CAP, BASE * 2**report.attempt)
        assert report.retry_in == pytest.approx(replay.delay(report.attempt), abs=1e-9)
    for i, retry in enumerate(retries):
        assert upgrades[i] <= retry.at, f"retry {i} reported before its attempt reached the simulator"
        waited = upgrades[i + 1] - retry.at
        assert waited >= retry.retry_in - 1e-3, f"reconnect {i + 1} after {waited:.4f}s < {retry.retry_in}"
    return seen


async def test_fifty_fault_cycles_keep_the_backoff_and_one_socket_and_401_stops(sim, settings):
    settings.UPSTREAM_BACKOFF_BASE, settings.UPSTREAM_BACKOFF_CAP = BASE, CAP
    settings.UPSTREAM_STABLE_AFTER = STABLE_AFTER
    settings.UPSTREAM_PING_INTERVAL, settings.UPSTREAM_SILENCE_SECONDS = PING_INTERVAL, SILENCE
    options = session_options()
    options["backoff"] = Backoff(options["backoff"].base, options["backoff"].cap, random.Random(SEED))
    log, events = StatusLog(), Recorder()
    session = UpstreamSession(
        sim.ws_url,
        token=sim.issue_token("manager"),
        topics=CALL_TOPICS,
        on_event=events,
        on_status=log,
        name="faults",
        **options,
    )
    recoveries: list[float] = []
    names = list(FAULTS)
    with socket_log(sim) as sockets:
        session.start()
        try:
            await _subscribed_and_receiving(sim, session, events)
            for cycle in range(CYCLES):
                healed_at = await _fault_cycle(names[cycle % len(names)], sim, session, log)
                await _subscribed_and_receiving(sim, session, events, timeout=CAP + MARGIN + 5)
                recoveries.append(time.monotonic() - healed_at)
                if cycle % 5 == 4:
                    await asyncio.sleep(STABLE_AFTER + 0.15)  # long enough up: the backoff starts over
            # VoIPBIN no longer accepts the token: the session stops and says what to do.
            sim.set_refusal(401)
            sim.drop_connections()
            async with asyncio.timeout(CAP + MARGIN + 5):
                stopped = await session.wait_for(State.STOPPED)
            await asyncio.sleep(3 * CAP)
            upgrades = list(sockets.upgrades)
        finally:
            await session.close()

    assert stopped.http_status == 401
    assert "401" in stopped.reason
    assert "sign in again" in stopped.reason
    assert sockets.most_open == {DEMO_MANAGER_ID: 1}
    seen = _check_backoff(log, upgrades, session.counters.attempts)
    assert seen["resets"] >= CYCLES // 5 - 1  # both rules of the exponent were exercised
    assert seen["increments"] >= CYCLES
    assert len(recoveries) == CYCLES
    assert max(recoveries) <= CAP + MARGIN, sorted(recoveries)[-5:]


async def _subscribed_and_receiving(sim, session: UpstreamSession, events: Recorder, timeout: float = 5):
    """Live, every topic held by the simulator's socket, and a call created now arrives."""
    async with asyncio.timeout(timeout):
        await session.wait_for(State.LIVE)
        wanted = set(session.topics)
        await until(
            lambda: any(wanted <= c.subscriptions and not c.aborted for c in sim.hub.connections),
            timeout=timeout,
        )
        call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
        await events.wait_for(is_call(call["id"]), timeout=timeout)


# -- the same, as the product does it: a signed-in user with two tabs --------------------------------

PRODUCT_CYCLES = 8


@pytest.mark.django_db(transaction=True)
async def test_two_tabs_through_fault_cycles_keep_one_session_and_see_sign_in_again(
    sim, relay_hub, make_persona, live_settings
):
    live_settings.UPSTREAM_PING_INTERVAL, live_settings.UPSTREAM_SILENCE_SECONDS = PING_INTERVAL, SILENCE
    from dashboard.models import User

    manager = await make_persona("manager")
    names = list(FAULTS)
    with socket_log(sim) as sockets:
        tabs = [socket(manager), socket(manager)]
        for tab in tabs:
            assert (await tab.connect())[0]
        for tab in tabs:
            await receive_until(tab, 'data-state="live"')
        entry = relay_hub.sessions[manager.pk]
        upstream = entry.upstream
        assert upstream is not None
        for cycle in range(PRODUCT_CYCLES):
            name = names[cycle % len(names)]
            apply, heal = FAULTS[name]
            apply(sim)
            down = 'data-state="silent"' if name == "stall" else 'data-state="retrying"'  # says which
            for tab in tabs:
                await receive_until(tab, down)
            heal(sim)
            for tab in tabs:
                await receive_until(tab, 'data-state="live"')
            await until(lambda: any(c.subscriptions for c in sim.hub.connections if not c.aborted))
            call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
            for tab in tabs:
                await receive_until(tab, f'id="call-{call["id"]}"')
            assert list(relay_hub.sessions) == [manager.pk], name
            assert relay_hub.sessions[manager.pk].upstream is upstream, name  # never replaced
            assert sockets.most_open == {DEMO_MANAGER_ID: 1}, name  # never doubled
        sim.set_refusal(401)
        sim.drop_connections()
        for tab in tabs:
            html = await receive_until(tab, "sign in again")
            assert 'data-state="stopped"' in html
        attempts = len(sockets.upgrades)
        await asyncio.sleep(3 * live_settings.UPSTREAM_BACKOFF_CAP)
        assert len(sockets.upgrades) == attempts  # stopped for good: no retry on a refused token
    assert upstream.state is State.STOPPED
    assert sockets.most_open == {DEMO_MANAGER_ID: 1}
    await until(lambda: User.objects.filter(pk=manager.pk, token_rejected_at__isnull=False).aexists())
    for tab in tabs:
        await tab.disconnect()
