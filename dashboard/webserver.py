"""How a web process starts: one command for production, ``make demo``, the tests and the benchmarks.

Web processes run on uvicorn with uvloop, httptools and websockets' sans-I/O protocol: writing a
frame costs a fraction of daphne's CPU (docs/BENCHMARKS.md). The limits match what daphne gave us:

* frames up to 1 MiB reach the application, which closes anything over its own 64 KiB with its own
  close code (``dashboard.sockets``); a larger frame is refused by the server (1009);
* a ping every 20 s, and a socket whose peer does not answer within 20 s is dropped (1006 for the
  browser, which reconnects);
* sockets never expire; idle keep-alive HTTP connections close after 5 s;
* on SIGTERM every socket gets a close frame (1012, "service restart": pages reconnect at once),
  requests in flight get up to 10 s to finish, and then the relay ends its upstream sessions and
  releases their leases, so another web process takes those users over at once
  (``dashboard.lifespan``).

daphne stays installed: ``manage.py runserver`` is Channels' development server, and the
benchmarks keep a daphne row (``server="daphne"``) so the choice stays measured.

``python -m dashboard.webserver --host 0.0.0.0 --port 8000`` runs the production command (the
Dockerfile's); no access log there, nginx in front keeps one with wall tokens redacted.
"""

from __future__ import annotations

import argparse
import os
import sys

APP = "config.asgi:application"
MAX_FRAME_BYTES = 1024 * 1024
PING_INTERVAL_SECONDS = 20
PING_TIMEOUT_SECONDS = 20
KEEP_ALIVE_SECONDS = 5
GRACEFUL_SHUTDOWN_SECONDS = 10


def web_command(host: str, port: int, *, server: str = "uvicorn", access_log: bool = True) -> list[str]:
    """The command line of one web process listening on ``host:port``."""
    if server == "daphne":  # as it ran before uvicorn: sockets never expire (its default: 24 h)
        command = [sys.executable, "-m", "daphne", "--websocket_timeout", "-1"]
        if not access_log:
            command += ["--access-log", os.devnull]
        return [*command, "-b", host, "-p", str(port), APP]
    if server != "uvicorn":
        raise ValueError(f"unknown web server {server!r}")
    return [
        sys.executable,
        "-m",
        "uvicorn",
        APP,
        "--host",
        host,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--ws",
        "websockets-sansio",
        "--ws-max-size",
        str(MAX_FRAME_BYTES),
        "--ws-ping-interval",
        str(PING_INTERVAL_SECONDS),
        "--ws-ping-timeout",
        str(PING_TIMEOUT_SECONDS),
        "--ws-per-message-deflate",
        "false",
        "--timeout-keep-alive",
        str(KEEP_ALIVE_SECONDS),
        "--timeout-graceful-shutdown",
        str(GRACEFUL_SHUTDOWN_SECONDS),
        "--lifespan",
        "on",  # the relay lets go of sessions, leases and groups at shutdown (dashboard.lifespan)
        "--access-log" if access_log else "--no-access-log",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run one web process as production does.")
    parser.add_argument("--host", default="0.0.0.0")  # a container: every interface
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--server", choices=("uvicorn", "daphne"), default="uvicorn")
    parser.add_argument("--access-log", action="store_true", help="log every request (nginx keeps one)")
    options = parser.parse_args(argv)
    command = web_command(options.host, options.port, server=options.server, access_log=options.access_log)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
