"""PostgreSQL restarts under a running relay worker and web process: nothing lost, nothing twice.

A private PostgreSQL server (never the shared one) is stopped with a fast shutdown, which cuts every
connection as a real restart does, and started again a few seconds later. VoIPBIN keeps delivering
meanwhile: the sockets to it stay up, so the events that arrive during the outage reach processes
that cannot store them. The relay worker must store and answer each SMS of the gap once after the
restart; the web process must serve its pages, and a signed-in supervisor's open page must go on
streaming. A call that rang during the outage still never reaches that page (the web process's hub
does not backfill after the database returns): that test is marked as an expected failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest

from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_NUMBERS
from tests.multiprocess.test_scale_out import Tab, manager_sessions, subscribed
from tests.waiting import until

pytestmark = pytest.mark.slow

REPLY = "Thanks, we will get back to you."
SEED = f"""
from dashboard.models import Account, Rule
account = Account.objects.create(
    name="Acme", customer_id={DEMO_CUSTOMER_ID!r}, access_key={DEMO_ACCESS_KEY!r},
    numbers={list(DEMO_NUMBERS)!r},
)
Rule.objects.create(account=account, name="Thanks", order=1, reply={REPLY!r})
"""
OUTAGE_SECONDS = 3


def sender(n: int) -> str:
    """One sender per message, so the per-sender cooldown never hides a second reply."""
    return f"+1555020{n:04d}"


def message_subscribed(sim: Any) -> bool:
    """The worker's account session is subscribed to the account's messages."""
    return any(
        c["access_key"] and any(":message" in topic for topic in c["topics"])
        for c in sim.stats()["open_connections"]
    )


def replies_by_destination(sim: Any) -> Counter[str]:
    return Counter(entry["body"]["destinations"][0]["target"] for entry in sim.sent)


async def replies_are(database_url: str, expected: dict[str, int]) -> bool:
    """Whether the auto-reply rows, counted by status, are ``expected`` (polled by ``until``)."""
    _, replies = await asyncio.to_thread(stored, database_url)
    return Counter(status for _, status in replies) == expected


def stored(database_url: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Ids of the stored inbound messages, and (inbound message id, status) of every auto-reply."""
    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as db:
        inbound = [
            row[0] for row in db.execute("SELECT id FROM dashboard_message WHERE direction = 'inbound'")
        ]
        replies = db.execute("SELECT inbound_message_id, status FROM dashboard_autoreply").fetchall()
    return inbound, replies


async def test_sms_arriving_while_postgres_restarts_are_answered_once_after_it(
    sim, postgres_server, restartable_deployment, tmp_path
):
    deployment = restartable_deployment
    deployment.env_overrides = {"RELAY_IN_WEB": "false"}  # production layout: the worker answers
    await asyncio.to_thread(deployment.manage, "shell", "-c", SEED)
    session_key = await asyncio.to_thread(deployment.session_for, "manager", sim.issue_token("manager"))
    port, web = await asyncio.to_thread(deployment.start_web)
    worker = await asyncio.to_thread(
        deployment.start_manage, "runrelay", "--heartbeat-file", str(tmp_path / "relay.heartbeat")
    )
    await until(lambda: message_subscribed(sim), timeout=30)

    before = [sim.receive_sms(source=sender(n), text=f"Before, {n}") for n in range(3)]
    await until(lambda: replies_are(deployment.database_url, {"sent": 3}), timeout=20)
    # One reply is in flight when the database goes: VoIPBIN takes it, but answers only later.
    sim.delay_sends(2)
    in_flight = sim.receive_sms(source=sender(3), text="Just before")
    await until(lambda: len(sim.sent) == 4, timeout=20)

    await asyncio.to_thread(postgres_server.stop)
    during = [sim.receive_sms(source=sender(n), text=f"During, {n}") for n in range(4, 9)]
    await asyncio.sleep(OUTAGE_SECONDS)
    assert len(sim.sent) == 4  # nothing can be decided without the database
    await asyncio.to_thread(postgres_server.start)
    after = [sim.receive_sms(source=sender(n), text=f"After, {n}") for n in range(9, 11)]

    everyone = Counter(sender(n) for n in range(11))
    with contextlib.suppress(TimeoutError):
        await until(lambda: replies_by_destination(sim) == everyone, timeout=30, interval=0.2)
    await asyncio.sleep(1)  # time for any second reply to go out: there must be none
    assert worker.poll() is None, "the relay worker died with the database"
    assert replies_by_destination(sim) == everyone
    assert {entry["body"]["text"] for entry in sim.sent} == {REPLY}

    messages = [*before, in_flight, *during, *after]
    inbound, replies = await asyncio.to_thread(stored, deployment.database_url)
    assert sorted(inbound) == sorted(m["id"] for m in messages)
    assert sorted(message_id for message_id, _ in replies) == sorted(m["id"] for m in messages)
    # The in-flight reply's outcome could not be recorded: it stays pending (the sweep fails it
    # later as "outcome unknown"), and is never sent again.
    assert {message_id: status for message_id, status in replies if status != "sent"} == {
        in_flight["id"]: "pending"
    }

    # The web process serves from the restarted database (its kept connections were cut).
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", cookies={"sessionid": session_key}, timeout=10
    ) as http:
        for path in ("/healthz", "/", "/calls/"):
            assert (await http.get(path)).status_code == 200, path
        inbox = await http.get("/messages/")
    assert inbox.status_code == 200
    assert all(sender(n) in inbox.text for n in range(4, 9))
    assert web.poll() is None

    worker.send_signal(signal.SIGTERM)
    out, _ = await asyncio.to_thread(worker.communicate, timeout=15)
    assert worker.returncode == 0
    assert "relay stopped" in out


async def signed_in_tab(sim: Any, deployment: Any) -> tuple[Tab, subprocess.Popen]:
    """The manager's calls page on a web process, live, with their upstream session subscribed."""
    port, web = await asyncio.to_thread(deployment.start_web)
    session_key = await asyncio.to_thread(deployment.session_for, "manager", sim.issue_token("manager"))
    tab = Tab(port, session_key)
    await tab.open()
    await until(
        lambda: tab.saw('data-state="live"') and manager_sessions(sim) == 1 and subscribed(sim), timeout=15
    )
    await until(lambda: tab.saw("<tbody"), timeout=15)  # resynced after the session's first backfill
    return tab, web


def shows(tab: Tab, call: dict[str, Any]) -> bool:
    """The call's row reached the page (alone, or in a resync of the whole list)."""
    return tab.saw(f'id="call-{call["id"]}"')


async def restart_during_a_call(sim: Any, postgres_server: Any, tab: Tab) -> dict[str, Any]:
    """A call before (shown), one while PostgreSQL is down (returned), then until a new call shows."""
    before = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    await until(lambda: shows(tab, before), timeout=10)
    await asyncio.to_thread(postgres_server.stop)
    during = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(postgres_server.start)

    async def receives() -> bool:
        probe = sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
        await asyncio.sleep(1)
        return shows(tab, probe)

    await until(receives, timeout=30, interval=0.5)
    return during


async def test_a_supervisors_calls_page_keeps_streaming_across_a_postgres_restart(
    sim, postgres_server, restartable_deployment
):
    tab, web = await signed_in_tab(sim, restartable_deployment)
    await restart_during_a_call(sim, postgres_server, tab)

    later = [sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing") for _ in range(3)]
    await until(lambda: all(shows(tab, call) for call in later), timeout=10)
    await asyncio.sleep(0.5)  # duplicates would have arrived by now
    assert all(tab.rows(call["id"]) <= 1 for call in later)
    assert not tab.task.done(), "the page's socket closed"
    assert web.poll() is None
    assert manager_sessions(sim) == 1
    await tab.close()


async def test_a_call_that_rang_while_postgres_was_down_reaches_the_page_after_it(
    sim, postgres_server, restartable_deployment
):
    tab, _ = await signed_in_tab(sim, restartable_deployment)
    during = await restart_during_a_call(sim, postgres_server, tab)
    with contextlib.suppress(TimeoutError):
        await until(lambda: shows(tab, during), timeout=10)
    await tab.close()
    assert shows(tab, during)
