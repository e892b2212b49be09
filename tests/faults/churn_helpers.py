"""What the fault tests share: the simulator's view of upgrades, and raw clients that misbehave.

``SocketLog`` watches the in-process simulator from its own side: the moment each
event-socket upgrade request arrives, and how many sockets of one principal are
open whenever one more is attached. ``churn_once`` opens a browser socket on a
real web server the way a client may leave it: politely, or with a TCP reset at
any point of the handshake.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from websockets.asyncio.client import connect

from dashboard.simulator.connection import Connection
from dashboard.simulator.server import SimServer

# -- the simulator's side ----------------------------------------------------------------------


class SocketLog:
    """Upgrade requests (``time.monotonic()``) and the most sockets one principal held at once."""

    def __init__(self) -> None:
        self.upgrades: list[float] = []
        self.most_open: Counter[str] = Counter()  # agent id (or "key:<customer>") → peak open sockets

    @staticmethod
    def who(connection: Connection) -> str:
        principal = connection.principal
        return principal.agent_id or f"key:{principal.customer_id}"

    def attached(self, connection: Connection, connections: set[Connection]) -> None:
        who = self.who(connection)
        now_open = sum(1 for c in connections if self.who(c) == who)
        self.most_open[who] = max(self.most_open[who], now_open)


@contextlib.contextmanager
def socket_log(sim: SimServer) -> Iterator[SocketLog]:
    """Record the simulator hub's upgrades and attaches while the block runs.

    The hub only counts upgrades; a subclass swapped in for the block turns the
    counter into a property that also notes the time, without touching the
    simulator's code.
    """
    log = SocketLog()
    hub = sim.hub
    base = type(hub)

    class RecordingHub(base):  # type: ignore[misc, valid-type]
        @property
        def upgrade_attempts(self) -> int:
            return self._fault_upgrades

        @upgrade_attempts.setter
        def upgrade_attempts(self, value: int) -> None:
            if value > self._fault_upgrades:
                log.upgrades.append(time.monotonic())
            self._fault_upgrades = value

        def attach(self, connection: Connection) -> None:
            super().attach(connection)
            log.attached(connection, self.connections)

    hub._fault_upgrades = hub.__dict__.pop("upgrade_attempts")
    hub.__class__ = RecordingHub
    try:
        yield log
    finally:
        hub.__class__ = base
        hub.upgrade_attempts = hub.__dict__.pop("_fault_upgrades")


# -- a browser that leaves badly -----------------------------------------------------------------

CLEAN = "clean close"  # handshake, first frame, close frame both ways
RST_OPEN = "reset once open"  # handshake, first frame, then RST with no close frame
RST_PARTIAL = "reset mid-request"  # part of the HTTP upgrade request, then RST
RST_BEFORE_101 = "reset before 101"  # the whole request, then RST while the server runs connect
RST_AFTER_101 = "reset right after 101"  # RST as soon as the 101 arrives
KINDS = (CLEAN, RST_OPEN, RST_PARTIAL, RST_BEFORE_101, RST_AFTER_101)


def upgrade_request(host: str, port: int, path: str, *, cookie: str, origin: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin}",
        f"Cookie: {cookie}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the kernel sends RST, no FIN and no close frame."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):  # the server may have closed it already
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def churn_once(
    kind: str, *, port: int, path: str, cookie: str, origin: str, cut: float = 0.5, timeout: float = 10
) -> None:
    """One socket's life on the web server at 127.0.0.1:``port``, ended the ``kind`` way.

    Raises if the server does not behave as a server must for a client that
    plays by the rules that far (no 101, no first frame, no close frame back).
    ``cut`` is where RST_PARTIAL stops, as a fraction of the request.
    """
    async with asyncio.timeout(timeout):
        if kind == CLEAN:
            async with connect(
                f"ws://127.0.0.1:{port}{path}", additional_headers={"Cookie": cookie}, origin=origin
            ) as ws:
                await ws.recv()
            if ws.close_code != 1000:
                raise AssertionError(f"clean close ended with {ws.close_code}")
            return
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            request = upgrade_request("127.0.0.1", port, path, cookie=cookie, origin=origin)
            if kind == RST_PARTIAL:
                writer.write(request[: max(1, min(len(request) - 1, int(len(request) * cut)))])
                await writer.drain()
                return
            writer.write(request)
            await writer.drain()
            if kind == RST_BEFORE_101:
                return
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                raise AssertionError(f"upgrade refused: {head[:80]!r}")
            if kind == RST_OPEN:
                await reader.readexactly(2)  # the first frame's header: the page is being sent
        finally:
            reset(writer)


async def open_raw(
    port: int, path: str, *, cookie: str, origin: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A browser socket by hand, past the 101: for clients that break the protocol's manners."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(upgrade_request("127.0.0.1", port, path, cookie=cookie, origin=origin))
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        writer.transport.abort()
        raise AssertionError(f"upgrade refused: {head[:80]!r}")
    return reader, writer


def masked_text_frame(payload: bytes) -> bytes:
    """One client text frame (clients must mask; RFC 6455 §5.3), payload under 126 bytes."""
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def read_server_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The next unfragmented server frame: its opcode (8 is close) and payload."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await reader.readexactly(length)


# -- a process seen from outside -------------------------------------------------------------------


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")
