"""Handshakes refused before anything is accepted: no Origin, and wall links that no longer open.

A browser always sends Origin with a WebSocket handshake, so a handshake without one is not a
page of ours (a script, a proxy probe, a cross-protocol attempt); every socket route sits behind
the origin validator (config/asgi.py), which refuses it even with a valid session cookie or link.
A foreign Origin and an unknown link are covered in tests/test_live_consumer.py and
tests/walls/test_wall_socket.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone

from config.asgi import application
from dashboard.walls import tokens
from dashboard.walls.consumer import CLOSE_INVALID_LINK
from tests.faults.test_session_expiry import signed_in
from tests.walls.helpers import issue_link

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


def communicator(path: str, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=list(headers))


async def test_live_socket_without_origin_is_refused_even_with_a_valid_session(sim, relay_hub, make_persona):
    manager = await make_persona("manager")
    cookie = (b"cookie", f"sessionid={(await signed_in(manager, expires_in=60)).session_key}".encode())
    connected, _ = await communicator("/ws/live/calls/", cookie).connect()
    assert not connected
    assert relay_hub.sessions == {}
    # The same handshake with the page's Origin opens: it was the missing header that was refused.
    with_origin = communicator("/ws/live/calls/", cookie, ORIGIN)
    assert (await with_origin.connect())[0]
    await with_origin.disconnect()


async def test_wall_socket_without_origin_is_refused_even_with_a_valid_link(feed, account):
    _, token = await database_sync_to_async(issue_link)(account)
    connected, _ = await communicator(f"/ws/wall/{token}/").connect()
    assert not connected
    assert feed.sockets == {}
    with_origin = communicator(f"/ws/wall/{token}/", ORIGIN)
    assert (await with_origin.connect())[0]
    await with_origin.disconnect()


@pytest.mark.parametrize("state", ["revoked", "expired"])
async def test_a_wall_link_that_no_longer_opens_is_refused_at_the_handshake(feed, account, state):
    if state == "revoked":
        wall, token = await database_sync_to_async(issue_link)(account)
        await database_sync_to_async(tokens.revoke)(wall)
    else:
        _, token = await database_sync_to_async(issue_link)(
            account, expires_at=timezone.now() - timedelta(seconds=1)
        )
    connected, code = await communicator(f"/ws/wall/{token}/", ORIGIN).connect()
    assert (connected, code) == (False, CLOSE_INVALID_LINK)
    assert feed.sockets == {}
    assert feed.followed == {}  # no account feed was held for it either
