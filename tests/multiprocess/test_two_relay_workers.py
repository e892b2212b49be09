"""Two `manage.py runrelay` workers on one PostgreSQL database: every inbound SMS answered once.

Both workers hold a session for the same account and receive every event; some events arrive twice
more (the identical frame again, and the message republished with a newer ``tm_update``). The
account row lock and the unique (message, rule) row must leave exactly one reply per message, as
the simulator's record of accepted sends shows. A worker killed mid-send leaves its reply pending;
the workers after it never send that message again.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
import pytest

from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_NUMBERS
from dashboard.simulator.events import Change
from dashboard.simulator.frames import Dialect, render
from dashboard.voipbin.topics import format_topic
from tests.waiting import until

pytestmark = pytest.mark.slow

MESSAGES = 20
REPLY = "Thanks, we will get back to you."
SEED = f"""
from dashboard.models import Account, AutoReply, Message, Rule, RuleDecisionLog
for model in (RuleDecisionLog, AutoReply, Message, Rule, Account):
    model.objects.all().delete()
account = Account.objects.create(
    name="Acme", customer_id={DEMO_CUSTOMER_ID!r}, access_key={DEMO_ACCESS_KEY!r},
    numbers={list(DEMO_NUMBERS)!r},
)
Rule.objects.create(account=account, name="Thanks", order=1, reply={REPLY!r})
"""


def sender(n: int) -> str:
    """One sender per message, so the per-sender cooldown never hides a second reply."""
    return f"+1555010{n:04d}"


def deliver_again_identically(sim: Any, message: dict[str, Any]) -> None:
    """The very frame the relays already got, once more (a publisher's retry)."""
    change = Change("message", "message_created", message, created=True)
    topic = format_topic("customer_id", DEMO_CUSTOMER_ID, "message", message["id"])
    sim.broadcast_raw(render(change, Dialect.TUTORIAL, topic))


def account_sessions(sim: Any) -> int:
    return sum(1 for c in sim.stats()["open_connections"] if c["access_key"] and c["topics"])


def auto_replies(database_url: str) -> list[tuple[str, str, int]]:
    """(inbound message id, status, attempts) of every auto-reply row."""
    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as connection:
        return connection.execute(
            "SELECT inbound_message_id, status, attempts FROM dashboard_autoreply ORDER BY id"
        ).fetchall()


async def replies_are(database_url: str, expected: dict[str, int]) -> bool:
    """Whether the auto-reply rows, counted by status, are ``expected`` (polled by ``until``)."""
    rows = await asyncio.to_thread(auto_replies, database_url)
    return Counter(status for _, status, _ in rows) == expected


def start_worker(deployment: Any, heartbeat: Path) -> subprocess.Popen:
    return deployment.start_manage("runrelay", "--heartbeat-file", str(heartbeat))


async def stop_cleanly(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        out, _ = await asyncio.to_thread(worker.communicate, timeout=15)
        assert worker.returncode == 0
        assert "relay stopped" in out


def replies_by_destination(sim: Any) -> Counter[str]:
    return Counter(entry["body"]["destinations"][0]["target"] for entry in sim.sent)


async def test_two_workers_send_exactly_one_reply_per_inbound_sms(sim, deployment, tmp_path):
    await asyncio.to_thread(deployment.manage, "shell", "-c", SEED)
    workers = [await asyncio.to_thread(start_worker, deployment, tmp_path / f"relay-{n}") for n in range(2)]
    try:
        await until(lambda: account_sessions(sim) == 2, timeout=30)

        messages = []
        for n in range(MESSAGES):
            message = sim.receive_sms(source=sender(n), text=f"Hello, message {n}")
            messages.append(message)
            if n % 3 == 0:
                deliver_again_identically(sim, message)
            if n % 4 == 0:
                sim.inject("message", {"id": message["id"]})  # republished, newer tm_update

        await until(lambda: len(sim.sent) >= MESSAGES, timeout=60)
        await until(lambda: replies_are(deployment.database_url, {"sent": MESSAGES}), timeout=30)
        await asyncio.sleep(1)  # time for any second reply to go out: there must be none
    finally:
        await stop_cleanly(workers)

    rows = await asyncio.to_thread(auto_replies, deployment.database_url)
    assert sorted(row[0] for row in rows) == sorted(m["id"] for m in messages)
    assert {(status, attempts) for _, status, attempts in rows} == {("sent", 1)}
    assert replies_by_destination(sim) == Counter(sender(n) for n in range(MESSAGES))
    assert {entry["body"]["text"] for entry in sim.sent} == {REPLY}


async def test_a_worker_killed_mid_send_leaves_one_pending_reply_that_nobody_sends_again(
    sim, deployment, tmp_path
):
    await asyncio.to_thread(deployment.manage, "shell", "-c", SEED)
    doomed = await asyncio.to_thread(start_worker, deployment, tmp_path / "doomed")
    await until(lambda: account_sessions(sim) == 1, timeout=30)
    sim.delay_sends(60)  # VoIPBIN takes the SMS, but its answer never reaches the worker
    first = sim.receive_sms(source=sender(0), text="Hello?")
    await until(lambda: len(sim.sent) == 1, timeout=30)
    doomed.kill()
    await asyncio.to_thread(doomed.wait)
    await until(lambda: account_sessions(sim) == 0, timeout=10)
    assert await asyncio.to_thread(auto_replies, deployment.database_url) == [(first["id"], "pending", 0)]

    workers = [await asyncio.to_thread(start_worker, deployment, tmp_path / f"relay-{n}") for n in range(2)]
    try:
        await until(lambda: account_sessions(sim) == 2, timeout=30)
        sim.inject("message", {"id": first["id"]})  # the dead worker's message, delivered again
        deliver_again_identically(sim, first)
        later = [sim.receive_sms(source=sender(n), text=f"Hello, message {n}") for n in range(1, MESSAGES)]

        await until(lambda: len(sim.sent) >= MESSAGES, timeout=60)
        await until(
            lambda: replies_are(deployment.database_url, {"sent": MESSAGES - 1, "pending": 1}), timeout=30
        )
        await asyncio.sleep(1)  # time for any second reply to go out: there must be none
    finally:
        await stop_cleanly(workers)

    rows = await asyncio.to_thread(auto_replies, deployment.database_url)
    assert {row[0]: row[1] for row in rows} == {first["id"]: "pending", **{m["id"]: "sent" for m in later}}
    assert replies_by_destination(sim) == Counter(sender(n) for n in range(MESSAGES))
