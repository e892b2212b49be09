"""`manage.py runrelay` beside a web process that does not run the relay itself (production layout)."""

from __future__ import annotations

import asyncio
import signal

import pytest
from websockets.asyncio.client import connect

from dashboard.simulator.accounts import DEMO_CUSTOMER_ID

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
