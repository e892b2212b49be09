"""``GET /v1.0/ws``: VoIPBIN's event socket (VOIPBIN.md §1 and §2).

Credentials are judged before the upgrade (401 with the envelope, never a
close code). Afterwards the server only listens for subscribe/unsubscribe and
never answers: bad JSON and unknown types are ignored, while a binary frame
or a topic the caller may not hold drops the connection without a close
frame, as VoIPBIN's handler does when it returns and closes the TCP socket.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web

from dashboard.simulator import auth
from dashboard.simulator.connection import Connection
from dashboard.simulator.core import simulator_of
from dashboard.simulator.errors import ApiError, error_response
from dashboard.voipbin.topics import InvalidTopic, TopicDenied, check_subscription

routes = web.RouteTableDef()

_REFUSAL_MESSAGES = {
    401: "the credentials are not valid",
    403: "the account is frozen",
    429: "too many connections, slow down",
    503: "the event service is unavailable",
}
_CLOSE_HANDSHAKE_TIMEOUT = 2.0


def apply_client_frame(connection: Connection, text: str) -> None:
    """Subscribe or unsubscribe; drops the connection on a topic it may not hold."""
    try:
        frame: Any = json.loads(text)
    except ValueError:
        return
    if not isinstance(frame, dict) or not isinstance(frame.get("type", ""), str):
        return
    topics = frame.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(topic, str) for topic in topics):
        return
    try:
        for topic in topics:
            check_subscription(connection.principal, topic)
    except (InvalidTopic, TopicDenied):
        connection.abort()
        return
    if frame.get("type") == "subscribe":
        connection.subscriptions.update(topics)
    elif frame.get("type") == "unsubscribe":
        connection.subscriptions.difference_update(topics)


@routes.get("/v1.0/ws")
async def event_socket(request: web.Request) -> web.StreamResponse:
    simulator = simulator_of(request)
    hub = simulator.hub
    hub.upgrade_attempts += 1
    if hub.refusal is not None:
        return error_response(hub.refusal, _REFUSAL_MESSAGES[hub.refusal])
    principal = auth.authenticate(request, simulator.state, secret=simulator.config.jwt_secret)

    ws = web.WebSocketResponse(autoping=False, timeout=_CLOSE_HANDSHAKE_TIMEOUT)
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "this endpoint only speaks WebSocket")
    await ws.prepare(request)
    hub.connections_accepted += 1
    if hub.accept_then_close:
        await ws.close(code=1001, message=b"going away")
        return ws

    config = simulator.config
    connection = Connection(
        ws,
        request,
        principal,
        flow=hub.flow,
        buffer_limit=config.buffer_limit,
        ping_interval=config.ping_interval,
        pong_timeout=config.pong_timeout,
    )
    hub.attach(connection)
    try:
        async with connection:
            while not connection.aborted and (message := await connection.receive()) is not None:
                if message.type is WSMsgType.BINARY:
                    connection.abort()
                else:
                    apply_client_frame(connection, message.data)
    finally:
        hub.detach(connection)
    return ws
