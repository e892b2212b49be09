"""`manage.py runrelay` beside a web process that does not run the relay itself (production layout)."""

from __future__ import annotations

import asyncio
import signal

import pytest
from websockets.asyncio.client import connect

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID
from tests.waiting import until

pytestmark = pytest.mark.slow


async def test_status_page_is_fed_by_the_relay_worker_and_it_stops_cleanly(sim, deployment, tmp_path):
    deployment.env_overrides = {"RELAY_IN_WEB": "false"}
    port, _ = await asyncio.to_thread(deployment.start_web)
    heartbeat = tmp_path / "relay.heartbeat"
    relay = await asyncio.to_thread(deployment.start_manage, "runrelay", "--heartbeat-file", str(heartbeat))
    try:
        async with connect(f"ws://127.0.0.1:{port}/ws/status/", origin=f"http://127.0.0.1:{port}") as ws:
            async with asyncio.timeout(20):
                while 'data-state="live"' not in await ws.recv():
                    pass
            for _ in range(3):
                sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="ringing")
            async with asyncio.timeout(20):
                while 'data-counter="events">3<' not in await ws.recv():
                    pass
        assert heartbeat.exists()
        # Only the relay worker holds the account's session; the web process relays what it publishes.
        assert sum(1 for c in sim.stats()["open_connections"] if c["access_key"]) == 1
    finally:
        relay.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(relay.communicate, timeout=15)
    assert relay.returncode == 0
    assert "relay stopped" in out


async def test_wall_is_fed_by_the_relay_worker_through_redis_with_nobody_signed_in(sim, deployment):
    """Production layout: only the worker holds the account's session; two web processes' walls follow it."""
    deployment.env_overrides = {"RELAY_IN_WEB": "false"}
    code = (
        "from dashboard.models import Account\n"
        "from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER\n"
        "from dashboard.walls import tokens\n"
        "account = Account.objects.create(name='Acme', customer_id=DEMO_CUSTOMER_ID,"
        " access_key=DEMO_ACCESS_KEY, numbers=[DEMO_SMS_NUMBER])\n"
        "print(tokens.issue(name='Floor', account=account, panels=['queues', 'inbox'], rotation_seconds=10,"
        " expires_at=None, created_by=None)[1])\n"
    )
    token = (await asyncio.to_thread(deployment.manage, "shell", "-c", code)).strip().splitlines()[-1]
    ports = [(await asyncio.to_thread(deployment.start_web))[0] for _ in range(2)]
    await asyncio.to_thread(deployment.start_manage, "runrelay", "--heartbeat-file", "/dev/null")
    walls = [
        await connect(f"ws://127.0.0.1:{port}/ws/wall/{token}/", origin=f"http://127.0.0.1:{port}")
        for port in ports
    ]
    try:
        for wall in walls:
            async with asyncio.timeout(20):
                while "Every message has an answer" not in await wall.recv():
                    pass
        # The worker's session is subscribed (VoIPBIN never acknowledges a subscription).
        await until(
            lambda: any(c["access_key"] and c["topics"] for c in sim.stats()["open_connections"]), timeout=20
        )
        sim.receive_sms(customer_id=DEMO_CUSTOMER_ID, source="+15559990000", text="Anyone there?")
        for wall in walls:
            async with asyncio.timeout(20):
                while "+15559990000" not in await wall.recv():
                    pass
        # The worker's two (the status page's and the account's); the web processes opened none.
        assert sum(1 for c in sim.stats()["open_connections"] if c["access_key"]) == 2
    finally:
        for wall in walls:
            await wall.close()
