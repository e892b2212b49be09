"""The status page: first paint over HTTP, then live counts over /ws/status/."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from dashboard.monitor import stop_monitor
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture
async def monitored_sim(sim, settings):
    settings.VOIPBIN_WS_URL = sim.ws_url
    yield sim
    await stop_monitor()


def test_status_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'ws-connect="/ws/status/"' in body
    assert 'id="status-panel"' in body


def test_healthz(client):
    assert client.get("/healthz").json() == {"ok": True}


async def _events_shown(communicator: WebsocketCommunicator, at_least: int) -> str:
    async with asyncio.timeout(10):
        while True:
            html = await communicator.receive_from(timeout=10)
            match = re.search(r'data-counter="events">(\d+)<', html)
            if 'data-state="live"' in html and match and int(match.group(1)) >= at_least:
                return html


async def test_status_socket_streams_state_and_event_counts(monitored_sim):
    communicator = WebsocketCommunicator(application, "/ws/status/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_from(timeout=5)
    assert 'id="status-panel"' in first
    assert 'hx-swap-oob="morph"' in first
    async with httpx.AsyncClient(base_url=monitored_sim.url) as http:
        await asyncio.sleep(0.3)  # let the monitor subscribe
        for _ in range(3):
            await http.post("/_sim/calls", json={"customer_id": DEMO_CUSTOMER_ID})
    html = await _events_shown(communicator, at_least=3)
    assert "call.status" in html
    assert "Live" in html
    await communicator.disconnect()


async def test_status_socket_rejects_a_foreign_origin(monitored_sim):
    communicator = WebsocketCommunicator(
        application, "/ws/status/", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


async def test_status_shows_stopped_with_reason_on_bad_credentials(monitored_sim, settings):
    settings.VOIPBIN_ACCOUNT_ACCESS_KEY = "revoked-key"
    communicator = WebsocketCommunicator(application, "/ws/status/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    async with asyncio.timeout(10):
        while 'data-state="stopped"' not in (html := await communicator.receive_from(timeout=10)):
            pass
    assert "access key" in html
    await communicator.disconnect()
