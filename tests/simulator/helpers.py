"""Small clients for talking to the simulator over real sockets in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dashboard.simulator.accounts import DEMO_ACCESS_KEY, DEMO_PASSWORD
from dashboard.simulator.server import SimServer

TIMEOUT = 2.0
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{0,5}[1-9])?Z")
"""A resource's time as Go's ``RFC3339Nano`` writes it (microseconds here): trailing zeros trimmed."""
FIXED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
"""VoIPBIN's own layout (``2006-01-02T15:04:05.000000Z``): page tokens and the JWT's ``expire``."""
ZERO_ID = "00000000-0000-0000-0000-000000000000"
START_ACTION_ID = "00000000-0000-0000-0000-000000000001"
UNOWNED_CALL_ZEROS = {
    "owner_type": "",
    "owner_id": ZERO_ID,
    "activeflow_id": ZERO_ID,
    "master_call_id": ZERO_ID,
    "groupcall_id": ZERO_ID,
}
"""What a call the tests create (a flow, no owner, no activeflow) sends for the fields it lacks."""


def customer_topic(customer_id: str, resource: str, resource_id: str | None = "*") -> str:
    return ":".join(
        ["customer_id", customer_id, resource] + ([resource_id] if resource_id is not None else [])
    )


def agent_topic(agent_id: str, resource: str, resource_id: str | None = "*") -> str:
    """``agent_id:<aid>:<resource>:<resource_id>``; ``None`` gives the three-part prefix."""
    return ":".join(["agent_id", agent_id, resource] + ([resource_id] if resource_id is not None else []))


async def login(sim: SimServer, username: str, password: str = DEMO_PASSWORD) -> str:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post("/auth/login", json={"username": username, "password": password})
    response.raise_for_status()
    return response.json()["token"]


async def control(sim: SimServer, path: str, body: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(base_url=sim.url) as http:
        response = await http.post(f"/_sim/{path}", json=body or {})
    response.raise_for_status()
    return response.json()


def open_socket(sim: SimServer, *, token: str | None = None, accesskey: str | None = None, **options: Any):
    """``async with open_socket(sim, token=…) as ws`` — a websockets client on the event socket."""
    query = f"?token={token}" if token else f"?accesskey={accesskey}"
    return connect(sim.ws_url + query, open_timeout=TIMEOUT, **options)


@contextlib.asynccontextmanager
async def subscribed(
    sim: SimServer, *topics: str, token: str | None = None, accesskey: str = DEMO_ACCESS_KEY
) -> AsyncIterator[ClientConnection]:
    """An open socket (Acme's access key unless a token is given) holding ``topics``."""
    async with open_socket(sim, token=token, accesskey=accesskey) as ws:
        await subscribe(ws, *topics)
        await held(sim, *topics)
        yield ws


async def subscribe(ws: ClientConnection, *topics: str, kind: str = "subscribe") -> None:
    await ws.send(json.dumps({"type": kind, "topics": list(topics)}))


async def next_frame(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def frames_until(ws: ClientConnection, last: Callable[[Any], bool]) -> list[Any]:
    """Every frame up to and including the first one ``last`` accepts.

    With a marker event sent after the events under test, this proves what
    did *not* arrive without sleeping: one socket's frames keep their order.
    """
    frames = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            frames.append(json.loads(await ws.recv()))
            if last(frames[-1]):
                return frames


async def expect_dropped(ws: ClientConnection) -> ConnectionClosed:
    """Wait for the server to end the connection; return how it ended."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed
    raise AssertionError("unreachable")


async def until(condition: Callable[[], bool]) -> None:
    """Poll server-side state, which offers nothing to wait on."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def held(sim: SimServer, *topics: str, held: bool = True) -> None:
    """Wait until the server has applied (un)subscriptions: the protocol never acknowledges them."""

    def applied() -> bool:
        holding = {topic for c in sim.stats()["open_connections"] for topic in c["topics"]}
        return all((topic in holding) is held for topic in topics)

    await until(applied)
