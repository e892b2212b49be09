"""The wall's socket: opened by a valid link only, fed by the account, closed when the link is revoked."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from dashboard.models import Queue
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID, DEMO_SMS_NUMBER
from dashboard.walls import feed as wall_feed
from dashboard.walls import tokens
from tests.waiting import until
from tests.walls.helpers import issue_link

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture
def link(account):
    _, token = issue_link(account)
    return token


def wall_socket(token: str, origin=ORIGIN) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/wall/{token}/", headers=[origin] if origin else [])


async def receive_until(communicator: WebsocketCommunicator, needle: str, timeout: float = 5.0) -> str:
    async with asyncio.timeout(timeout):
        while True:
            html = await communicator.receive_from(timeout=timeout)
            if needle in html:
                return html


async def test_unknown_token_is_rejected_before_accept(feed, account):
    connected, code = await wall_socket("forged-token").connect()
    assert not connected
    assert code == 4404
    assert feed.sockets == {}


async def test_foreign_origin_is_rejected_even_with_a_valid_link(feed, link):
    connected, _ = await wall_socket(link, origin=(b"origin", b"https://evil.example")).connect()
    assert not connected


async def test_wall_gets_its_panels_then_updates_once_per_change(feed, account, link):
    communicator = wall_socket(link)
    connected, _ = await communicator.connect()
    assert connected
    await receive_until(communicator, 'id="wall-queues"')
    await database_sync_to_async(Queue.objects.create)(
        id="q-new", customer_id=DEMO_CUSTOMER_ID, name="Night shift", wait_queuecall_ids=["a", "b"]
    )
    feed.notify(account.pk)
    html = await receive_until(communicator, "Night shift")
    assert 'hx-swap-oob="morph"' in html
    await communicator.disconnect()
    await until(lambda: feed.sockets == {})
    assert feed.followed == {}  # the account feed is let go with the last wall


async def test_revoking_a_link_closes_its_open_sockets_within_seconds(feed, account, link):
    communicator = wall_socket(link)
    assert (await communicator.connect())[0]
    await receive_until(communicator, 'id="wall-queues"')
    wall = await database_sync_to_async(tokens.find_active)(link)
    await database_sync_to_async(tokens.revoke)(wall)
    async with asyncio.timeout(wall_feed.RECHECK_SECONDS + 3):
        while (output := await communicator.receive_output(timeout=5))["type"] != "websocket.close":
            pass  # panels rendered meanwhile
    assert output["code"] == wall_feed.CLOSE_REVOKED
    await until(lambda: feed.sockets == {})


async def test_wall_follows_the_account_with_nobody_signed_in(feed, account, link, sim):
    """In the embedded default the web process keeps the account's session for its walls."""
    communicator = wall_socket(link)
    assert (await communicator.connect())[0]
    await receive_until(communicator, "Every message has an answer")
    await until(lambda: any(c["topics"] for c in sim.stats()["open_connections"]))
    sim.receive_sms(
        customer_id=DEMO_CUSTOMER_ID, source="+15551230000", destination=DEMO_SMS_NUMBER, text="Hello?"
    )
    html = await receive_until(communicator, "+15551230000")
    assert "Hello?" in html
    await communicator.disconnect()


async def test_wall_queue_panel_counts_a_caller_waiting_with_nobody_signed_in(feed, account, link, sim):
    """Queues come from the account's own session: backfilled on connect, then followed live."""
    from dashboard.simulator.accounts import SALES_QUEUE_ID

    communicator = wall_socket(link)
    assert (await communicator.connect())[0]
    await receive_until(communicator, "Sales")  # the queue lists, fetched once the session is up
    await until(lambda: any(c["topics"] for c in sim.stats()["open_connections"]))
    sim.create_call(customer_id=DEMO_CUSTOMER_ID, status="progressing", queue_id=SALES_QUEUE_ID)
    html = await receive_until(communicator, '<span class="value">1</span> <span class="unit">waiting</span>')
    assert "data-wait-since=" in html  # the longest wait ticks on the TV
    await communicator.disconnect()


async def test_a_wall_says_when_voipbin_falls_silent_and_when_it_is_back(feed, account, link, sim, settings):
    """Nobody signed in: the account's own session is the wall's only news of VoIPBIN."""
    settings.UPSTREAM_SILENCE_SECONDS, settings.UPSTREAM_PING_INTERVAL = 0.5, 0.1
    communicator = wall_socket(link)
    assert (await communicator.connect())[0]
    await until(lambda: any(c["topics"] for c in sim.stats()["open_connections"]))
    sim.set_stalled(True)
    html = await receive_until(communicator, "VoIPBIN silent since")
    assert "data-as-of=" in html  # wall.js stops the waits and ages with the figures
    assert "figures as of" in html
    sim.set_stalled(False)
    html = await receive_until(communicator, 'id="wall-updated"', timeout=5)
    while "silent" in html:
        html = await receive_until(communicator, 'id="wall-updated"', timeout=5)
    assert "data-as-of=" not in html
    await communicator.disconnect()


async def test_a_queues_only_wall_never_receives_the_inbox(feed, account, sim):
    """What a link does not show is not sent either: a lobby screen's socket carries no SMS texts."""
    from dashboard.models import Message

    _, lobby = await database_sync_to_async(tokens.issue)(
        name="Lobby",
        account=account,
        panels=["queues"],
        rotation_seconds=10,
        expires_at=None,
        created_by=None,
    )
    both = wall_socket(
        await database_sync_to_async(
            lambda: tokens.issue(
                name="Floor",
                account=account,
                panels=["queues", "inbox"],
                rotation_seconds=10,
                expires_at=None,
                created_by=None,
            )[1]
        )()
    )
    queues_only = wall_socket(lobby)
    frames = []
    for communicator in (queues_only, both):
        assert (await communicator.connect())[0]
    await database_sync_to_async(Message.objects.create)(
        id="m-secret",
        customer_id=DEMO_CUSTOMER_ID,
        direction="inbound",
        remote="+15550000001",
        our_number=DEMO_SMS_NUMBER,
        text="my card number is 4111",
        source="+15550000001",
        destination=DEMO_SMS_NUMBER,
    )
    feed.notify(account.pk)
    await receive_until(both, "my card number")
    try:
        async with asyncio.timeout(1.5):
            while True:
                frames.append(await queues_only.receive_from(timeout=1.5))
    except TimeoutError:
        pass
    assert frames  # it was sent its own panels
    assert all("wall-inbox" not in frame and "card number" not in frame for frame in frames)
    assert any('id="wall-queues"' in frame for frame in frames)
    for communicator in (queues_only, both):
        await communicator.disconnect()
