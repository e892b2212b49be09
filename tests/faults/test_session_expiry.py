"""A live page's socket lives as long as the Django session behind it, not a moment longer.

Signing out closes every socket at once (tests/test_live_consumer.py). A session that simply runs
out is noticed by a timer set to the session's stored expiry: at that moment the socket re-reads
the session and closes with 4001 (the page reloads, to sign-in) unless it was extended meanwhile.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

from config.asgi import application
from dashboard import socketauth
from dashboard.relay import CLOSE_SIGNED_OUT
from dashboard.simulator.accounts import DEMO_CUSTOMER_ID
from tests.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def signed_in(user, *, expires_in: int) -> SessionStore:
    """A session as the sign-in view leaves it, due to expire ``expires_in`` seconds from now."""
    store = SessionStore()
    await store.aset(SESSION_KEY, str(user.pk))
    await store.aset(BACKEND_SESSION_KEY, "django.contrib.auth.backends.ModelBackend")
    await store.aset(HASH_SESSION_KEY, user.get_session_auth_hash())
    await store.aset_expiry(expires_in)
    await store.acreate()
    return store


def browser_socket(session_key: str) -> WebsocketCommunicator:
    """The calls page's socket as a browser opens it: Origin and session cookie, through the ASGI stack."""
    cookie = (b"cookie", f"sessionid={session_key}".encode())
    return WebsocketCommunicator(application, "/ws/live/calls/", headers=[ORIGIN, cookie])


async def close_within(communicator: WebsocketCommunicator, seconds: float, seen: list[str] | None = None):
    """The close the server sends within ``seconds`` (None if it stays open); frames go to ``seen``.

    Polls with ``receive_nothing`` so that waiting never cancels the application.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await communicator.receive_nothing(timeout=0.05):
            continue
        output = await communicator.receive_output()
        if output["type"] == "websocket.close":
            return output
        if seen is not None:
            seen.append(output.get("text", ""))
    return None


@pytest.mark.parametrize("change", ["none", "now another user's"])
async def test_socket_closes_4001_when_its_session_expires(sim, relay_hub, make_persona, change):
    manager, admin = await make_persona("manager"), await make_persona("admin")
    store = await signed_in(manager, expires_in=1)
    communicator = browser_socket(store.session_key)
    opened = time.monotonic()
    assert (await communicator.connect())[0]
    if change != "none":  # the stored session is extended but no longer names this user
        await store.aset(SESSION_KEY, str(admin.pk))
        await store.aset_expiry(60)
        await store.asave()
    closed = await close_within(communicator, 5)
    assert closed is not None, "the socket outlived its session"
    assert closed["code"] == CLOSE_SIGNED_OUT
    assert time.monotonic() - opened >= 0.9  # at the expiry, not at once
    await communicator.disconnect()
    await until(lambda: relay_hub.sessions == {})


async def test_session_extended_before_expiry_keeps_the_socket_open_until_the_new_expiry(
    sim, relay_hub, make_persona
):
    manager = await make_persona("manager")
    store = await signed_in(manager, expires_in=1)
    communicator = browser_socket(store.session_key)
    opened = time.monotonic()
    assert (await communicator.connect())[0]
    await store.aset_expiry(3)  # a request that touched the session: it now ends 3 s from here
    await store.asave()
    seen: list[str] = []
    assert await close_within(communicator, 1.6, seen) is None  # past the first expiry, still open
    await until(lambda: any(c["topics"] for c in sim.stats()["open_connections"]))
    call = sim.create_call(customer_id=DEMO_CUSTOMER_ID, direction="incoming", status="ringing")
    closed = await close_within(communicator, 4, seen)
    assert any(call["id"] in frame for frame in seen), "the page stopped receiving while signed in"
    assert closed is not None
    assert closed["code"] == CLOSE_SIGNED_OUT
    assert time.monotonic() - opened >= 2.9  # the new expiry, not the first one
    await communicator.disconnect()
    await until(lambda: relay_hub.sessions == {})


async def test_a_closed_socket_leaves_no_session_timer_behind(sim, relay_hub, make_persona, monkeypatch):
    reads = []
    real_read = socketauth.session_state

    def counting_read(session_key: str):
        reads.append(session_key)
        return real_read(session_key)

    monkeypatch.setattr(socketauth, "session_state", counting_read)  # the handshake's and the timer's
    manager = await make_persona("manager")
    warm_up = browser_socket((await signed_in(manager, expires_in=60)).session_key)
    assert (await warm_up.connect())[0]  # the hub's own maintenance task starts with the first socket
    await warm_up.disconnect()
    await until(lambda: relay_hub.sessions == {})
    baseline = asyncio.all_tasks()
    reads.clear()
    store = await signed_in(manager, expires_in=1)
    communicator = browser_socket(store.session_key)
    assert (await communicator.connect())[0]
    await communicator.disconnect()
    assert reads == [store.session_key]  # read once, in the handshake
    await asyncio.sleep(1.3)  # past the expiry: a timer left behind would read it again
    assert reads == [store.session_key]
    await until(lambda: relay_hub.sessions == {})
    await until(lambda: not (asyncio.all_tasks() - baseline))
