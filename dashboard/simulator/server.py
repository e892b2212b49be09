"""The simulator on a socket: one aiohttp app serving REST, the event WebSocket and the controls."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from types import TracebackType
from typing import Any

from aiohttp import web

from dashboard.simulator import controls, rest, websocket
from dashboard.simulator.config import SimConfig
from dashboard.simulator.core import SIMULATOR, Simulator
from dashboard.simulator.errors import envelope_middleware

_SHUTDOWN_TIMEOUT = 2.0


def build_app(simulator: Simulator) -> web.Application:
    app = web.Application(middlewares=[envelope_middleware])
    app[SIMULATOR] = simulator
    app.add_routes(rest.routes)
    app.add_routes(websocket.routes)
    if simulator.config.controls:
        app.add_routes(controls.routes)
    return app


class SimServer(Simulator):
    """A :class:`Simulator` listening on ``host:port`` (port 0 picks a free one).

    Keyword options override fields of ``config``:
    ``SimServer(dialect="legacy", controls=True, scenario=False)``.
    """

    def __init__(
        self, config: SimConfig | None = None, *, host: str = "127.0.0.1", port: int = 0, **options: Any
    ):
        super().__init__(dataclasses.replace(config or SimConfig(), **options))
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1.0/ws"

    async def start(self) -> SimServer:
        app = build_app(self)
        app.on_shutdown.append(self._on_shutdown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        if self.config.scenario:
            self.set_scenario_running(True)
        return self

    async def stop(self) -> None:
        """Stop listening, then close every socket with 1001 (on shutdown) and stop the timers."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def _on_shutdown(self, app: web.Application) -> None:
        await self.close()

    async def __aenter__(self) -> SimServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


async def serve(host: str, port: int, config: SimConfig) -> None:
    """Run until SIGINT or SIGTERM, announcing the bound address on one line."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with SimServer(config, host=host, port=port) as server:
        print(f"VoIPBIN simulator listening on {server.url}", flush=True)
        await stop.wait()


def run(host: str, port: int, config: SimConfig) -> None:
    asyncio.run(serve(host, port, config))
