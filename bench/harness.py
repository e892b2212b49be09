"""What every benchmark shares: real processes, browser-like clients, and two baselines in the same run.

The system under test runs as in production: a web process of its own (uvicorn, started by
``dashboard.webserver.web_command``; ``--servers`` adds a daphne row for the same clients), on a
fresh database (SQLite in a temp dir, or a fresh PostgreSQL database when ``BENCH_POSTGRES_URL``
names a server), fed by the simulator. The simulator is a subprocess (``python -m
dashboard.simulator``) so that its work never shares an event loop or a GIL with the client driver;
a script that must time something inside the simulator (the auto-reply POST) passes an in-process
``SimServer`` instead, and says so.

One client driver (asyncio + ``websockets``, no compression, no client pings, as a browser tab that
only listens) measures three systems fed by the same injected events at the same rate:

* **direct**: every client subscribed straight to the simulator with its own credentials, the way
  the tutorial's clients talk to VoIPBIN;
* **plain**: a minimal ``websockets`` broadcast server (``plain-server`` below, its own process) with
  one upstream subscription, re-sending every frame to every client: the practical limit of Python
  relaying on this hardware;
* **ours**: the dashboard, once per web server named by ``--servers`` (``ours uvicorn``, ``ours daphne``).

Every injected event carries an id that embeds its sequence number (``Marker``); the injector stamps
``time.monotonic()`` (system-wide CLOCK_MONOTONIC, the same clock the readers stamp with) just before
sending it, and each reader stamps the frame that first carries it. Loops are bounded in count and
time and talk to 127.0.0.1 only. Everything started here is stopped, and the temp dir removed, on
exit, on Ctrl-C and on SIGTERM. A script exits non-zero only when the harness itself fails; a missed
target is a figure, not a failure.

Run as ``python bench/harness.py plain-server …`` / ``plain-replier …`` for the baselines' processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import enum
import http
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin

HARNESS = Path(__file__).resolve()
ROOT = HARNESS.parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/x.py`: import the project's packages as manage.py does
    sys.path.insert(0, str(ROOT))

from dashboard.simulator.accounts import (  # noqa: E402
    AGENT_IDS,
    DEMO_ACCESS_KEY,
    DEMO_CUSTOMER_ID,
    DEMO_PASSWORD,
)
from tests.processes import free_port, stop, wait_for_port  # noqa: E402

HOST = "127.0.0.1"
# static/js/socket-ack.js: every ACK_SECONDS a page that read frames since it last said so tells the
# server, once ACK_EVERY_SECONDS passed since then, or sooner after ACK_SOONER_AFTER frames.
ACK_SECONDS, ACK_EVERY_SECONDS, ACK_SOONER_AFTER = 0.25, 1.0, 100


def ack_due(unsaid: int, since_told: float) -> bool:
    """Whether a page that read ``unsaid`` frames since its last ack, ``since_told`` s ago, acks now."""
    return unsaid > 0 and (since_told >= ACK_EVERY_SECONDS or unsaid >= ACK_SOONER_AFTER)


CONNECT_CONCURRENCY = 50  # sockets opening at once: enough to be quick, few enough not to look like a flood
READY_TIMEOUT = 120.0
QUIET_SECONDS = 1.0  # no frame for this long: start-up resyncs and backfills are over
DRAIN_IDLE_SECONDS = 3.0  # after the last injection, give up once nothing new arrived for this long
DRAIN_CAP_SECONDS = 20.0
PHASE_GAP_SECONDS = 0.5


class HarnessError(RuntimeError):
    """The harness could not set up or measure: the only reason a benchmark exits non-zero."""


# -- what an event looks like on any wire ------------------------------------------------------------


class Mode(enum.Enum):
    """How a frame proves delivery.

    EXACT: every event must show up itself (a live list gets one row fragment per event).
    LATEST: a frame showing event n shows the state every earlier event led to (a wall display
    renders the newest state once per tick; an older event is on screen once a newer one is).
    """

    EXACT = "exact"
    LATEST = "latest"


class Marker:
    """Ids that carry their sequence number, so any frame, JSON or HTML, names the events it carries.

    Shaped like a UUID (VoIPBIN's ids are) with a fresh random prefix per measurement, so nothing
    from an earlier phase can be mistaken for an event of this one.
    """

    def __init__(self) -> None:
        self.prefix = f"{secrets.token_hex(4)}-0000-4000-8000-"
        self._pattern = re.compile(re.escape(self.prefix) + r"(\d{12})")

    def id(self, seq: int) -> str:
        return f"{self.prefix}{seq:012d}"

    def seqs(self, text: str) -> list[int]:
        return [int(found) for found in self._pattern.findall(text)]


# -- figures ---------------------------------------------------------------------------------------------


def nearest_rank(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile ``p`` of the values (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered) / 100) - 1))]


@dataclass
class Figures:
    """One measurement: what was sent, what arrived, and how late."""

    label: str
    clients: int
    events: int
    rate: float
    achieved_rate: float
    expected: int
    delivered: int
    frames: int
    seconds: float
    frame_bytes: int = 0  # characters received, all frames (ASCII HTML/JSON: about bytes)
    latencies: list[float] = field(repr=False, default_factory=list)
    closed_early: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core per process while measuring
    missing: str = ""  # which events did not arrive where, when some did not
    by_client: list[list[float]] = field(repr=False, default_factory=list)  # latencies per client, if asked
    client_frames: list[int] = field(repr=False, default_factory=list)
    client_bytes: list[int] = field(repr=False, default_factory=list)

    def subset(self, clients: Sequence[int], label: str) -> Figures:
        """The same measurement over some clients only (needs ``measure(per_client=True)``)."""
        if not self.by_client:
            raise HarnessError("subset() needs figures measured with per_client=True")
        return Figures(
            label=label,
            clients=len(clients),
            events=self.events,
            rate=self.rate,
            achieved_rate=self.achieved_rate,
            expected=self.events * len(clients),
            delivered=sum(len(self.by_client[i]) for i in clients),
            frames=sum(self.client_frames[i] for i in clients),
            frame_bytes=sum(self.client_bytes[i] for i in clients),
            seconds=self.seconds,
            latencies=[latency for i in clients for latency in self.by_client[i]],
        )

    def percentile(self, p: float) -> float | None:
        """Nearest-rank percentile in milliseconds (None when nothing arrived)."""
        seconds = nearest_rank(self.latencies, p)
        return None if seconds is None else seconds * 1000

    @property
    def p99(self) -> float | None:
        return self.percentile(99)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def complete(self) -> bool:
        return self.delivered >= self.expected and self.closed_early == 0


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def print_table(
    rows: Sequence[Figures], title: str = "", latency: str = "injection → frame at the client"
) -> None:
    """A compact table; latencies in ms (by default from injection to the frame carrying the event)."""
    head = ("system", "clients", "ev/s (got)", "delivered/expected", "frames/s", "p50", "p90", "p99", "max")
    head += ("KiB/frame", "cpu % of a core")
    body = [
        (
            row.label,
            str(row.clients),
            f"{row.rate:g} ({row.achieved_rate:.1f})",
            f"{row.delivered}/{row.expected}" + (f" {row.closed_early} closed" if row.closed_early else ""),
            f"{row.frames_per_second:.0f}",
            ms(row.percentile(50)),
            ms(row.percentile(90)),
            ms(row.percentile(99)),
            ms(row.percentile(100)),
            f"{row.frame_bytes / row.frames / 1024:.1f}" if row.frames else "—",
            " ".join(f"{name} {share:.0f}" for name, share in row.cpu.items() if share >= 0.5),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    if title:
        print(f"\n{title}  (latency ms, {latency})")
    for line in (head, *body):
        print(
            "  "
            + "  ".join(
                cell.rjust(width) if i else cell.ljust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
        )
    for row in rows:
        if row.missing:
            print(f"  {row.label}: {row.missing}")
    sys.stdout.flush()


def verdict(what: str, met: bool | None, detail: str) -> None:
    """One target line: figures only, a miss never changes the exit code."""
    word = "n/a" if met is None else ("met" if met else "MISSED")
    print(f"  target {what}: {word} — {detail}")
    sys.stdout.flush()


def ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base <= 0:
        return None
    return value / base


def header(title: str, options: argparse.Namespace) -> None:
    """Where and when, so a figure can be read against its conditions (load average included)."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"== {title} ==")
    print(
        f"   {dt.datetime.now().isoformat(timespec='seconds')}  {platform.node()}  {os.cpu_count()} cpu  "
        f"Python {platform.python_version()}  load avg {load}"
    )
    shown = {k: ",".join(v) if isinstance(v, list) else v for k, v in vars(options).items() if v is not None}
    print("   " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in shown.items()))
    sys.stdout.flush()


# -- the simulator ------------------------------------------------------------------------------------


class SimControl:
    """The simulator's REST and ``/_sim/`` controls over HTTP (the same whether it runs here or not)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws_url = url.replace("http://", "ws://", 1) + "/v1.0/ws"
        self.http = httpx.AsyncClient(base_url=url, timeout=30)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.http.post(path, json=body) if body is not None else await self.http.post(path)
        if response.status_code >= 400:
            raise HarnessError(f"simulator {path} answered {response.status_code}: {response.text[:200]}")
        return response.json() if response.content else None

    async def login(self, username: str = "manager") -> str:
        """A demo login's JWT, as the sign-in view gets it from VoIPBIN."""
        body = await self.post("/auth/login", {"username": username, "password": DEMO_PASSWORD})
        return str(body["token"])

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get("/_sim/stats")
        response.raise_for_status()
        return response.json()

    async def subscribed(self, topic: str) -> int:
        """Open event sockets holding ``topic``: a session is live only once it has subscribed."""
        connections = (await self.stats())["open_connections"]
        return sum(1 for connection in connections if topic in connection["topics"])

    async def wait_subscribed(self, topic: str, count: int, within: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + within
        seen = 0
        while time.monotonic() < deadline:
            seen = await self.subscribed(topic)
            if seen >= count:
                return
            await asyncio.sleep(0.2)
        raise HarnessError(
            f"only {seen} of {count} upstream sessions subscribed to {topic} after {within:.0f}s"
        )

    async def wait_no_connections(self, within: float = 30.0) -> None:
        """The previous phase's sessions are gone (the relay closes them a grace period after)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not (await self.stats())["open_connections"]:
                return
            await asyncio.sleep(0.2)
        raise HarnessError(f"the simulator still has open sockets {within:.0f}s after a phase ended")


SIM_DIALECT = "tutorial"
"""The benchmarks' simulator speaks the tutorial's dialect: the direct-subscription baseline is the
tutorial's client (one frame per event with ``*``), and the figures stay comparable with their
history. Under VoIPBIN's code dialect every event arrives twice (two topics) and is de-duplicated."""


def customer_topic(resource: str) -> str:
    """The tutorial's subscription for every ``resource`` event of the demo customer."""
    return f"customer_id:{DEMO_CUSTOMER_ID}:{resource}:*"


# -- processes ---------------------------------------------------------------------------------------


@dataclass
class Provisioned:
    """What one ``manage.py shell`` call created: session keys in user order, the wall link's token."""

    sessions: list[str]
    wall_token: str | None


_PROVISION = textwrap.dedent(
    """
    import json, os
    from django.contrib import auth
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import transaction
    from dashboard.models import Account, Rule
    from dashboard.simulator.accounts import AGENT_IDS, DEMO_ACCESS_KEY, DEMO_CUSTOMER, DEMO_NUMBERS
    from dashboard.walls import tokens

    spec = json.loads(os.environ["BENCH_SETUP"])
    out = {"sessions": [], "wall_token": None}
    User = auth.get_user_model()
    with transaction.atomic():
        for i in range(spec["users"]):
            user = User.objects.create(
                username=f"bench-{i:05d}", customer_id=DEMO_CUSTOMER.id, agent_id=AGENT_IDS[spec["login"]],
                permission=spec["permission"], voipbin_token=spec["token"],
            )
            store = SessionStore()
            store[auth.SESSION_KEY] = str(user.pk)
            store[auth.BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            out["sessions"].append(store.session_key)
        if spec["wall"] or spec["rules"]:
            account, _ = Account.objects.get_or_create(
                customer_id=DEMO_CUSTOMER.id,
                defaults=dict(
                    name=DEMO_CUSTOMER.name, access_key=DEMO_ACCESS_KEY, numbers=list(DEMO_NUMBERS)
                ),
            )
        if spec["wall"]:
            _, out["wall_token"] = tokens.issue(
                name="bench wall", account=account, panels=["queues", "inbox"], rotation_seconds=15,
                expires_at=None, created_by=None,
            )
        for fields in spec["rules"]:
            rule = Rule(account=account, **fields)
            rule.full_clean()
            rule.save()
    print(json.dumps(out))
    """
)


_FORGET_LIVE = textwrap.dedent(
    """
    from dashboard.models import Activeflow, ActiveflowStep, Call, Message, Queuecall

    for model in (ActiveflowStep, Activeflow, Queuecall, Call, Message):
        model.objects.all().delete()
    """
)


@dataclass(frozen=True)
class Restart:
    """When a restarted process got SIGTERM, exited, and listened again (``time.monotonic()``)."""

    term_at: float
    exited_at: float
    listening_at: float

    @property
    def down(self) -> float:
        """Seconds from SIGTERM until the new process accepted connections."""
        return self.listening_at - self.term_at


def reachable_postgres(url: str, timeout: float = 3) -> str | None:
    """``None`` if a PostgreSQL server answers at ``url``, else why not (for the report)."""
    import psycopg

    try:
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=timeout):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class Stack:
    """The deployment under test: temp dir, database, simulator, a web process; all gone on exit.

    ``sim`` may be an in-process ``SimServer`` (started here, on this loop) when a script must
    observe the simulator from inside; otherwise the simulator is a subprocess. ``postgres``: the
    admin URL of a PostgreSQL server to create the run's database on (default ``BENCH_POSTGRES_URL``;
    ``""`` for SQLite whatever the environment says). ``redis``: a private ``redis-server`` on a free
    port, named by ``REDIS_URL`` in the deployment's environment. No web process runs until a script
    asks: ``use_web(server)`` for the one its fleets talk to, ``start_web`` for more.
    """

    def __init__(
        self,
        *,
        sim: Any = None,
        env: dict[str, str] | None = None,
        postgres: str | None = None,
        redis: bool = False,
    ) -> None:
        self._sim_server = sim
        self._extra_env = env or {}
        self._postgres_admin = os.environ.get("BENCH_POSTGRES_URL", "") if postgres is None else postgres
        self._want_redis = redis
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-"))
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._commands: dict[str, tuple[list[str], dict[str, str] | None]] = {}  # for ``restart``
        self.web_port = 0
        self.web_server = ""  # the server of the web process ``use_web`` started, named after it
        self.redis_url = ""
        self.sim: SimControl
        self._postgres: tuple[str, str] | None = None  # (admin url, database name)
        self.env: dict[str, str] = {}

    async def __aenter__(self) -> Stack:
        try:
            sim_url = await self._start_sim()
            self.sim = SimControl(sim_url)
            if self._want_redis:
                self.redis_url = await self._start_redis()
                self._extra_env = {**self._extra_env, "REDIS_URL": self.redis_url}
            self.env = self._environment(sim_url, await asyncio.to_thread(self._database_url))
            await asyncio.to_thread(self.manage, "migrate", "--noinput", "-v", "0")
        except BaseException as exc:
            await self.aclose(failed=_failure(exc))
            raise
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        await self.aclose(failed=_failure(exc))

    def _environment(self, sim_url: str, database_url: str) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DASHBOARD_VAR_DIR": str(self.tmp),
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "VOIPBIN_BASE_URL": sim_url,
            "RELAY_GRACE_SECONDS": "1",  # phases end quickly; the grace period only delays the next one
            "PYTHONUNBUFFERED": "1",
            **self._extra_env,
        }
        for name in ("VOIPBIN_WS_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"):
            if name not in self._extra_env:
                env.pop(name, None)
        return env

    async def _start_sim(self) -> str:
        if self._sim_server is not None:
            await self._sim_server.start()
            return str(self._sim_server.url)
        port = free_port()
        command = [sys.executable, "-m", "dashboard.simulator", "--host", HOST, "--port", str(port)]
        command += ["--dialect", SIM_DIALECT]
        self.spawn("simulator", [*command, "--controls", "--no-scenario"], env={**os.environ})
        await self.wait_port(port, "simulator")
        return f"http://{HOST}:{port}"

    async def _start_redis(self) -> str:
        """A private Redis without persistence, as docker-compose.yml runs it."""
        server = shutil.which("redis-server")
        if server is None:
            raise HarnessError("redis-server not found on PATH (Debian: apt-get install redis-server)")
        port = free_port()
        command = [server, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        self.spawn("redis", command, env={**os.environ})
        await self.wait_port(port, "redis")
        return f"redis://{HOST}:{port}/0"

    @property
    def database(self) -> str:
        """What the run's database is, in words for a report."""
        if self._postgres is None:
            return "SQLite (one file in the run's temp dir)"
        admin_url, name = self._postgres
        return f"PostgreSQL (database {name} on {admin_url.partition('://')[2].rsplit('/', 1)[0]})"

    def _database_url(self) -> str:
        admin_url = self._postgres_admin
        if not admin_url:
            return f"sqlite:///{self.tmp / 'db.sqlite3'}"
        import psycopg

        name = f"bench_{secrets.token_hex(5)}"
        with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        self._postgres = (admin_url, name)
        scheme, _, rest = admin_url.partition("://")
        server = rest.split("/", 1)[0]
        return f"{scheme}://{server}/{name}"

    async def use_web(self, server: str) -> None:
        """The web process the stack's fleets talk to runs on ``server`` from now on (the process is
        named after it). One on another server is stopped first, so only one competes for the CPU,
        and what it stored of calls, flows and messages is deleted: every server starts from the
        same database. (Left there, the calls of the measurement before, which the reset simulator
        no longer lists, would all be settled while the next server is measured: a frame per call
        and tab that the first server never had to send.)"""
        if self.web_server:
            await self.stop(dict(self.processes)[self.web_server])
            await self.forget_live()
        self.web_port = await self.start_web(server, server=server)
        self.web_server = server

    async def forget_live(self) -> None:
        """Delete the calls, flows and messages the web processes stored, and empty the run's Redis
        (leases, and groups naming the stopped processes' channels, which daphne never leaves);
        no web process may be running."""
        await asyncio.to_thread(self.manage, "shell", "-c", _FORGET_LIVE)
        if self.redis_url:
            import redis.asyncio as redis

            client = redis.from_url(self.redis_url)
            try:
                await client.flushdb()
            finally:
                await client.aclose()

    async def start_web(self, name: str, *, server: str = "uvicorn") -> int:
        """One web process on a free port, started as production starts it; its port."""
        # The command is production's; importing it reads settings, so this process adopts the
        # deployment's environment first and generates nothing outside the temp dir.
        os.environ.update(self.env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        from dashboard.webserver import web_command

        port = free_port()
        self.spawn(name, web_command(HOST, port, server=server, access_log=False))
        await self.wait_port(port, name)
        return port

    async def restart(self, name: str, port: int) -> Restart:
        """SIGTERM a process, wait for it to exit, start the same command again; ready once ``port`` accepts.

        What an operator's restart (a deploy, ``systemctl restart``) does to a web process: the
        clients see their sockets close and must come back on their own.
        """
        process = dict(self.processes).get(name)
        if process is None:
            raise HarnessError(f"no running process named {name}")
        command, env = self._commands[name]
        term_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired as exc:
            raise HarnessError(f"{name} did not exit within 30 s of SIGTERM") from exc
        exited_at = time.monotonic()
        self.processes = [(n, p) for n, p in self.processes if p is not process]
        self.spawn(name, command, env)
        await self.wait_port(port, name)
        return Restart(term_at=term_at, exited_at=exited_at, listening_at=time.monotonic())

    @property
    def web_url(self) -> str:
        return f"http://{HOST}:{self.web_port}"

    @property
    def web_ws(self) -> str:
        return f"ws://{HOST}:{self.web_port}"

    def spawn(
        self, name: str, command: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A long-running process of the deployment; its output goes to a log shown if the run fails."""
        log = (self.tmp / f"{name}.log").open("ab")  # a restarted process appends to its log
        process = subprocess.Popen(
            command,
            env=env or self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.processes.append((name, process))
        self._commands[name] = (command, env)
        return process

    async def wait_port(self, port: int, name: str) -> None:
        process = dict(self.processes).get(name)
        try:
            await asyncio.to_thread(wait_for_port, port, process, 60)
        except RuntimeError as exc:
            raise HarnessError(f"{name} did not start: {exc}") from exc

    async def wait_file(self, path: Path, name: str, within: float = 60) -> None:
        """Until a worker wrote ``path`` (its heartbeat); fails early if it exits."""
        process = dict(self.processes)[name]
        deadline = time.monotonic() + within
        while not await asyncio.to_thread(path.exists):
            if process.poll() is not None:
                raise HarnessError(f"{name} exited with {process.returncode} during start-up")
            if time.monotonic() > deadline:
                raise HarnessError(f"{name} wrote no {path.name} after {within:.0f}s")
            await asyncio.sleep(0.1)

    def manage(self, *args: str, extra_env: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env={**self.env, **(extra_env or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise HarnessError(f"manage.py {args[0]} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    async def provision(
        self,
        *,
        users: int = 0,
        token: str = "",
        login: str = "manager",
        permission: int = 64,
        wall: bool = False,
        rules: Sequence[dict[str, Any]] = (),
    ) -> Provisioned:
        """Signed-in users (as the sign-in view leaves them), a wall link, rules: in one shell call."""
        if login not in AGENT_IDS:
            raise HarnessError(f"unknown demo login {login!r}")
        spec = {
            "users": users,
            "token": token,
            "login": login,
            "permission": permission,
            "wall": wall,
            "rules": list(rules),
        }
        out = await asyncio.to_thread(
            self.manage, "shell", "-c", _PROVISION, extra_env={"BENCH_SETUP": json.dumps(spec)}
        )
        created = json.loads(out.strip().splitlines()[-1])
        return Provisioned(sessions=created["sessions"], wall_token=created["wall_token"])

    async def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Stop one process of the deployment before the end (a phase's baseline server)."""
        await asyncio.to_thread(stop, process)
        self.processes = [(n, p) for n, p in self.processes if p is not process]

    def pid(self, name: str) -> int | None:
        process = dict(self.processes).get(name)
        return process.pid if process is not None else None

    def cpu_times(self) -> dict[str, float]:
        """CPU seconds used so far by each process of the deployment, and by this one (the driver)."""
        times = {
            name: _cpu_seconds(process.pid) for name, process in self.processes if process.poll() is None
        }
        return {**times, "driver": time.process_time()}

    def database_backends(self) -> list[int]:
        """PostgreSQL server processes serving the run's database now (their CPU is the database's)."""
        if self._postgres is None:
            return []
        import psycopg

        admin_url, name = self._postgres
        with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as admin:
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
        return [int(row[0]) for row in rows]

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                raise HarnessError(f"{name} exited with {process.returncode} during the run")

    async def aclose(self, *, failed: bool = False) -> None:
        """Stop every process (newest first), drop the database, remove the temp dir."""
        if failed:
            self._show_logs()
        for _, process in reversed(self.processes):
            await asyncio.to_thread(stop, process)
        self.processes.clear()
        if hasattr(self, "sim"):
            await self.sim.aclose()
        if self._sim_server is not None:
            with contextlib.suppress(Exception):
                await self._sim_server.stop()
        if self._postgres is not None:
            await asyncio.to_thread(_drop_database, *self._postgres)
            self._postgres = None
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_summary(self, names: Sequence[str], top: int = 6) -> list[str]:
        """The warnings and errors the named processes logged so far, counted by kind (numbers
        masked), busiest first: what a figure cannot show (a dropped message, a lost lease)."""
        counts: Counter[str] = Counter()
        for name in names:
            log = self.tmp / f"{name}.log"
            for line in log.read_text(errors="replace").splitlines() if log.exists() else ():
                _, _, rest = line.partition(",")  # "2026-12-05 07:23:25,681 INFO logger: message"
                level, _, message = rest.partition(" ")[2].partition(" ")
                over_capacity = "over capacity" in message  # channels_redis drops these, at INFO
                if level in ("WARNING", "ERROR", "CRITICAL") or over_capacity:
                    counts[f"{name}: {level} {re.sub(r'[0-9]+', 'N', message)[:140]}"] += 1
        return [f"{n} x {kind}" for kind, n in counts.most_common(top)]

    def _show_logs(self) -> None:
        for log in sorted(self.tmp.glob("*.log")):
            tail = log.read_text(errors="replace")[-2000:]
            if tail.strip():
                print(f"--- {log.name} (last lines) ---\n{tail}", file=sys.stderr)


def _failure(exc: BaseException | None) -> bool:
    """Whether the processes' logs are worth showing: not after a clean exit, Ctrl-C or SIGTERM."""
    return exc is not None and not isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)


def _cpu_seconds(pid: int) -> float:
    """User + system time of a process and all its threads (Linux ``/proc``); 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_shares(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Percent of one core each process used between two ``Stack.cpu_times`` readings."""
    return {name: 100 * (after[name] - before.get(name, 0.0)) / seconds for name in after if seconds > 0}


def _drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url.replace("postgres://", "postgresql://", 1), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- clients -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    """One socket: where, with which Origin and cookie, what it subscribes to first.

    ``ack``: acknowledge frames read as the dashboard's pages do (``static/js/socket-ack.js``);
    the server stops writing to a socket with too many unacknowledged frames.
    """

    url: str
    origin: str | None = None
    cookie: str | None = None
    subscribe: tuple[str, ...] = ()
    ack: bool = False


class Probe:
    """Counts frames and stamps, per client, the first frame that carries each injected event."""

    def __init__(self, marker: Marker, mode: Mode, clients: int, *, per_client: bool = False) -> None:
        self.marker = marker
        self.mode = mode
        # Only when asked: the driver's hot path stays as it was for the other scripts.
        self.per_client = per_client
        self.by_client: list[list[float]] = [[] for _ in range(clients)] if per_client else []
        self.client_frames = [0] * clients if per_client else []
        self.client_bytes = [0] * clients if per_client else []
        self.sent_at: list[float] = []
        self.latencies: list[float] = []
        self.frames = 0
        self.frame_bytes = 0
        self.started_at = time.monotonic()
        self.last_frame_at = self.started_at
        self._seen: list[set[int]] = [set() for _ in range(clients)]
        self._upto: list[int] = [-1] * clients

    def on_frame(self, client: int, text: str, now: float) -> None:
        self.frames += 1
        self.frame_bytes += len(text)
        self.last_frame_at = now
        if self.per_client:
            self.client_frames[client] += 1
            self.client_bytes[client] += len(text)
        found = self.marker.seqs(text)
        if not found:
            return
        sent_at = self.sent_at
        before = len(self.latencies)
        if self.mode is Mode.EXACT:
            seen = self._seen[client]
            for seq in found:
                if seq not in seen and seq < len(sent_at):
                    seen.add(seq)
                    self.latencies.append(now - sent_at[seq])
        else:
            top = min(max(found), len(sent_at) - 1)
            for seq in range(self._upto[client] + 1, top + 1):
                self.latencies.append(now - sent_at[seq])
            self._upto[client] = max(self._upto[client], top)
        if self.per_client:
            self.by_client[client].extend(self.latencies[before:])

    @property
    def delivered(self) -> int:
        return len(self.latencies)

    def missing(self) -> str:
        """Which events some client never saw (for a run that lost any), to tell a tail from holes."""
        count = len(self.sent_at)
        if self.mode is Mode.EXACT:
            holes = [set(range(count)) - seen for seen in self._seen]
        else:
            holes = [set(range(upto + 1, count)) for upto in self._upto]
        short = [h for h in holes if h]
        if not short:
            return ""
        events = sorted(set().union(*short))
        shown = ", ".join(map(str, events[:12])) + (" …" if len(events) > 12 else "")
        return f"{len(short)} clients missed {len(events)} distinct events (seq {shown} of 0..{count - 1})"


Inject = Callable[[int, str], Awaitable[None]]
"""Send event ``seq`` carrying the marker id; return once it is handed to the simulator."""


class Fleet:
    """N connected clients, each reading every frame as it arrives, measured by whichever probe is on."""

    def __init__(self, specs: Sequence[ClientSpec], label: str) -> None:
        self.specs = list(specs)
        self.label = label
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.probe: Probe | None = None
        self.first_frame = [False] * len(self.specs)
        self.read = [0] * len(self.specs)  # frames read per socket since it opened (what acks say)
        self._acker: asyncio.Task[None] | None = None
        self.last_frame_at = time.monotonic()
        self.closed_codes: list[int | None] = []
        self.cpu: Callable[[], dict[str, float]] = dict  # the stack's ``cpu_times``, set by the phase
        self.profile_pid: int | None = None  # sampled with py-spy while measuring, if BENCH_PY_SPY is set

    async def open(self) -> None:
        self.sockets = await self._connect(self.specs)
        loop = asyncio.get_running_loop()
        self.readers = [loop.create_task(self._read(i, ws)) for i, ws in enumerate(self.sockets)]
        if any(spec.ack for spec in self.specs):
            self._acker = loop.create_task(self._acknowledge())

    async def add(self, specs: Sequence[ClientSpec]) -> None:
        """More clients on an open fleet, measured with the others (a user's second tab, opened once
        the first one's process owns the user's upstream session)."""
        sockets = await self._connect(specs)
        loop = asyncio.get_running_loop()
        start = len(self.sockets)
        self.specs += specs
        self.first_frame += [False] * len(sockets)
        self.read += [0] * len(sockets)
        self.sockets += sockets
        self.readers += [loop.create_task(self._read(start + i, ws)) for i, ws in enumerate(sockets)]
        if self._acker is None and any(spec.ack for spec in self.specs):
            self._acker = loop.create_task(self._acknowledge())

    async def _connect(self, specs: Sequence[ClientSpec]) -> list[ClientConnection]:
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(spec: ClientSpec) -> ClientConnection:
            async with gate:
                return await _connect(spec)

        results = await asyncio.gather(*(one(spec) for spec in specs), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            opened = [r for r in results if not isinstance(r, BaseException)]
            await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
            await self.close()
            raise HarnessError(
                f"{len(failures)} of {len(specs)} {self.label} clients failed: {failures[0]!r}"
            )
        return [r for r in results if not isinstance(r, BaseException)]

    async def _acknowledge(self) -> None:
        """As the pages do (``ack_due``): each acknowledging socket says how many frames it read in all."""
        told = [0] * len(self.sockets)
        told_at = [0.0] * len(self.sockets)
        while True:
            await asyncio.sleep(ACK_SECONDS)
            told += [0] * (len(self.sockets) - len(told))  # clients added since
            told_at += [0.0] * (len(self.sockets) - len(told_at))
            now = time.monotonic()
            for i, ws in enumerate(self.sockets):
                if self.specs[i].ack and ack_due(self.read[i] - told[i], now - told_at[i]):
                    told[i], told_at[i] = self.read[i], now
                    with contextlib.suppress(ConnectionClosed):
                        await ws.send(json.dumps({"type": "ack", "frames": told[i]}))

    async def _read(self, index: int, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                now = time.monotonic()
                self.last_frame_at = now
                self.first_frame[index] = True
                self.read[index] += 1
                if self.probe is not None:
                    self.probe.on_frame(index, message if isinstance(message, str) else message.decode(), now)
        except ConnectionClosed:
            pass
        self.closed_codes.append(ws.close_code)

    async def settle(self, *, expect_first_frame: bool, within: float = READY_TIMEOUT) -> None:
        """Until start-up traffic is over: every client painted (if expected), then a quiet second."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.closed_codes:
                raise HarnessError(
                    f"{len(self.closed_codes)} {self.label} clients closed during start-up, "
                    f"codes {sorted(set(map(str, self.closed_codes)))}"
                )
            painted = all(self.first_frame) or not expect_first_frame
            if painted and time.monotonic() - self.last_frame_at >= QUIET_SECONDS:
                return
            await asyncio.sleep(0.1)
        raise HarnessError(
            f"{self.label}: {self.first_frame.count(False)} clients got no first frame, "
            f"or traffic never went quiet, in {within:.0f}s"
        )

    async def measure(
        self,
        inject: Inject,
        *,
        mode: Mode,
        rate: float,
        seconds: float,
        label: str = "",
        per_client: bool = False,
    ) -> Figures:
        """Inject ``rate`` events/s for ``seconds``, then drain; figures over every client
        (``per_client``: also kept per client, for ``Figures.subset``)."""
        marker = Marker()
        probe = self.probe = Probe(marker, mode, len(self.sockets), per_client=per_client)
        closed_before = len(self.closed_codes)
        count = max(1, round(rate * seconds))
        expected = count * len(self.sockets)
        cpu_before, cpu_from = self.cpu(), time.monotonic()
        async with profiled(self.profile_pid, label or self.label):
            await pace(count, rate, lambda seq: inject(seq, marker.id(seq)), probe.sent_at)
            await drain(lambda: probe.delivered, expected)
        cpu = cpu_shares(cpu_before, self.cpu(), time.monotonic() - cpu_from)
        self.probe = None
        sent = probe.sent_at
        achieved = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else rate
        return Figures(
            label=label or self.label,
            clients=len(self.sockets),
            events=count,
            rate=rate,
            achieved_rate=achieved,
            expected=expected,
            delivered=probe.delivered,
            frames=probe.frames,
            frame_bytes=probe.frame_bytes,
            seconds=max(probe.last_frame_at - probe.started_at, 1e-9),
            latencies=probe.latencies,
            closed_early=len(self.closed_codes) - closed_before,
            cpu=cpu,
            missing=probe.missing(),
            by_client=probe.by_client,
            client_frames=probe.client_frames,
            client_bytes=probe.client_bytes,
        )

    async def close(self) -> None:
        tasks = [*self.readers, *([self._acker] if self._acker else [])]
        if self._acker is not None:
            self._acker.cancel()
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.sockets, self.readers, self._acker = [], [], None


async def _connect(spec: ClientSpec) -> ClientConnection:
    headers = {"Cookie": spec.cookie} if spec.cookie else None
    ws = await connect(
        spec.url,
        origin=Origin(spec.origin) if spec.origin else None,
        additional_headers=headers,
        compression=None,  # the servers compared do not all offer it; the same wire for all three
        ping_interval=None,  # a tab that only listens
        max_size=None,
        open_timeout=60,
        close_timeout=2,
    )
    if spec.subscribe:
        await ws.send(json.dumps({"type": "subscribe", "topics": list(spec.subscribe)}))
    return ws


@contextlib.asynccontextmanager
async def profiled(pid: int | None, label: str) -> AsyncIterator[None]:
    """With ``BENCH_PY_SPY`` naming a py-spy binary, sample ``pid`` over the block and say where it went.

    ``BENCH_PY_SPY_ARGS`` adds py-spy options (``--threads --idle`` shows waiting threads too).
    py-spy is not a project dependency: install it anywhere (``pip install --target DIR py-spy``).
    The raw profile stays in ``BENCH_PROFILE_DIR`` (default: the system temp dir) for flame graphs.
    """
    binary = os.environ.get("BENCH_PY_SPY")
    if not binary or pid is None:
        yield
        return
    folder = Path(os.environ.get("BENCH_PROFILE_DIR", tempfile.gettempdir()))
    output = folder / f"bench-{label}-{time.strftime('%H%M%S')}.raw"
    command = [binary, "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--nonblocking"]
    command += os.environ.get("BENCH_PY_SPY_ARGS", "").split()  # e.g. "--threads --idle"
    sampler = await asyncio.create_subprocess_exec(
        *command, "--output", str(output), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield
    finally:
        sampler.send_signal(signal.SIGINT)
        await asyncio.wait_for(sampler.wait(), 30)
        await asyncio.to_thread(print_profile, output, label)


def print_profile(raw: Path, label: str, top: int = 25) -> None:
    """The frames where the sampled process spent most of its time (inclusive, then self)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines() if raw.exists() else ():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        total += samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
    if not total:
        print(f"  profile {label}: no samples")
        return
    print(f"\n  profile of {label} while measuring ({total} samples, raw: {raw})")
    for title, counts in (("inclusive", inclusive), ("self", own)):
        print(f"    -- {title}")
        for frame, samples in sorted(counts.items(), key=lambda item: -item[1])[:top]:
            print(f"    {100 * samples / total:5.1f}%  {frame[:120]}")


async def pace(
    count: int, rate: float, inject: Callable[[int], Awaitable[None]], sent_at: list[float]
) -> None:
    """``count`` injections on a fixed schedule; each stamped just before it leaves."""
    start = time.monotonic()
    for seq in range(count):
        delay = start + seq / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_at.append(time.monotonic())
        await inject(seq)


async def drain(delivered: Callable[[], int], expected: int) -> None:
    """Until everything arrived, or nothing new did for a while (bounded either way)."""
    start = last_progress = time.monotonic()
    seen = delivered()
    while seen < expected:
        await asyncio.sleep(0.05)
        now = time.monotonic()
        if delivered() > seen:
            seen, last_progress = delivered(), now
        elif now - last_progress > DRAIN_IDLE_SECONDS or now - start > DRAIN_CAP_SECONDS:
            return


# -- the three systems -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """What is injected, how a frame proves delivery, and which simulator topic carries it."""

    inject: Callable[[SimControl, int, str], Awaitable[None]]
    mode: Mode
    topic: str

    def bound(self, sim: SimControl) -> Inject:
        return lambda seq, marker_id: self.inject(sim, seq, marker_id)


async def fresh_simulator(stack: Stack) -> None:
    """Each phase starts from the seeded state with no socket left over from the one before."""
    await stack.sim.wait_no_connections()
    await stack.sim.post("/_sim/reset")
    await asyncio.sleep(PHASE_GAP_SECONDS)


@contextlib.asynccontextmanager
async def direct_fleet(
    stack: Stack, workload: Workload, *, clients: int, credential: str
) -> AsyncIterator[Fleet]:
    """Clients subscribed straight to the simulator (``credential``: ``token=…`` or ``accesskey=…``)."""
    await fresh_simulator(stack)
    spec = ClientSpec(url=f"{stack.sim.ws_url}?{credential}", subscribe=(workload.topic,))
    fleet = Fleet([spec] * clients, "direct")
    fleet.cpu = stack.cpu_times
    await fleet.open()
    try:
        await stack.sim.wait_subscribed(workload.topic, clients)
        await fleet.settle(expect_first_frame=False)
        yield fleet
    finally:
        await fleet.close()


@contextlib.asynccontextmanager
async def plain_fleet(
    stack: Stack, workload: Workload, *, clients: int, credential: str
) -> AsyncIterator[Fleet]:
    """Clients of a minimal ``websockets`` broadcast server that holds one upstream subscription."""
    await fresh_simulator(stack)
    port = free_port()
    upstream = f"{stack.sim.ws_url}?{credential}"
    command = [sys.executable, str(HARNESS), "plain-server", "--port", str(port)]
    process = stack.spawn(
        "plain-server", [*command, "--upstream", upstream, "--topic", workload.topic], env={**os.environ}
    )
    fleet = Fleet([ClientSpec(url=f"ws://{HOST}:{port}/")] * clients, "plain")
    fleet.cpu = stack.cpu_times
    try:
        await stack.wait_port(port, "plain-server")
        await stack.sim.wait_subscribed(workload.topic, 1)
        await fleet.open()
        await fleet.settle(expect_first_frame=False)
        yield fleet
    finally:
        await fleet.close()
        await stack.stop(process)


@contextlib.asynccontextmanager
async def our_fleet(
    stack: Stack, workload: Workload, specs: Sequence[ClientSpec], *, upstreams: int
) -> AsyncIterator[Fleet]:
    """Browser-like sockets on the stack's web process (``use_web``), labelled with its server; ready
    once ``upstreams`` sessions subscribed and every tab painted."""
    await fresh_simulator(stack)
    fleet = Fleet(specs, f"ours {stack.web_server}")
    fleet.cpu = stack.cpu_times
    fleet.profile_pid = stack.pid(stack.web_server)
    await fleet.open()
    try:
        await stack.sim.wait_subscribed(workload.topic, upstreams)
        await fleet.settle(expect_first_frame=True)
        stack.check_alive()
        yield fleet
    finally:
        await fleet.close()


def browser_spec(
    stack: Stack, path: str, session_key: str | None = None, *, port: int | None = None
) -> ClientSpec:
    """A tab of the dashboard: same-origin, the session cookie the sign-in would have set, acks.

    ``port``: a tab of that web process (several run side by side); default the stack's one.
    """
    origin = stack.web_url if port is None else f"http://{HOST}:{port}"
    return ClientSpec(
        url=f"{origin.replace('http://', 'ws://', 1)}{path}",
        origin=origin,
        cookie=f"sessionid={session_key}" if session_key else None,
        ack=True,
    )


# -- running a script --------------------------------------------------------------------------------


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a benchmark; exit 0 unless the harness failed (130 on Ctrl-C, 143 on SIGTERM)."""

    async def guarded() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await main()

    try:
        asyncio.run(guarded())
    except KeyboardInterrupt:
        print("\ninterrupted: every process stopped, temp files removed", file=sys.stderr)
        sys.exit(130)
    except asyncio.CancelledError:
        print("\nterminated: every process stopped, temp files removed", file=sys.stderr)
        sys.exit(143)
    except HarnessError as exc:
        print(f"\nharness failure: {exc}", file=sys.stderr)
        sys.exit(1)


SERVERS = ("uvicorn", "daphne")  # production's web server first; daphne's row keeps the choice measured


def servers(value: str) -> list[str]:
    """``--servers uvicorn,daphne``: the web servers "ours" is measured on, in that order."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SERVERS))
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SERVERS)} (got {value!r})")
    return list(dict.fromkeys(names))


def base_parser(description: str, *, web: bool = True) -> argparse.ArgumentParser:
    """``--quick``, and ``--servers`` for a script that measures web processes (``web``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="the short run `make bench` does")
    if web:
        parser.add_argument(
            "--servers",
            type=servers,
            default=list(SERVERS),
            help="web servers to measure ours on, comma-separated (default: uvicorn,daphne)",
        )
    return parser


# -- the baselines' processes -------------------------------------------------------------------------


PLAIN_PAGE = '<!doctype html><title>plain</title><div hx-ext="ws" ws-connect="/"></div>\n'
PLAIN_LISTS = "plain.lists"  # the type of the plain server's resync frame (``--resync``)


async def plain_server(port: int, upstream: str, topic: str, *, page: bool = False, resync: str = "") -> None:
    """Every frame from one upstream subscription re-sent to every connected client, nothing else.

    Two options, off unless a script asks (the reconnect storm): ``page`` answers a plain HTTP GET
    with a tiny page naming the socket (what a browser reloads); ``resync`` (a REST list URL with
    its credential, e.g. ``http://sim/v1.0/calls?token=…``) keeps every resource the upstream
    sends, by id, fetches that list after subscribing (what the upstream holds from before), and
    sends each new client one frame with all of it before streaming: the least a relay can do so
    that a reconnecting page misses nothing.
    """
    clients: set[ServerConnection] = set()
    state: dict[str, Any] = {}
    ready = asyncio.Event()
    if not resync:
        ready.set()

    async def handler(ws: ServerConnection) -> None:
        if resync:
            await ready.wait()
        clients.add(ws)
        try:
            if resync:
                await ws.send(json.dumps({"type": PLAIN_LISTS, "items": list(state.values())}))
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    def http_page(connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        response = connection.respond(http.HTTPStatus.OK, PLAIN_PAGE)
        response.headers["Content-Type"] = "text/html; charset=utf-8"
        return response

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    options: dict[str, Any] = {"process_request": http_page} if page else {}
    async with (
        serve(handler, HOST, port, compression=None, ping_interval=None, max_size=2**20, **options),
        connect(upstream, compression=None, max_size=None) as source,
    ):
        await source.send(json.dumps({"type": "subscribe", "topics": [topic]}))
        relay = loop.create_task(_relay(source, clients, state if resync else None))
        if resync:
            await _backfill_state(resync, state)
            ready.set()
        await asyncio.wait([relay, loop.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
        relay.cancel()


async def _relay(
    source: ClientConnection, clients: set[ServerConnection], state: dict[str, Any] | None = None
) -> None:
    async for frame in source:
        broadcast(clients, frame)
        if state is not None:
            data = json.loads(frame).get("data") or {}
            if "id" in data:
                state[data["id"]] = data


async def _backfill_state(url: str, state: dict[str, Any]) -> None:
    """Every item the REST list holds (VoIPBIN's paging: newest first, ``page_token``), unless an
    event for it arrived meanwhile (newer)."""
    token = ""
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(1000):  # bounded: 100 000 items
            params = {"page_size": 100, **({"page_token": token} if token else {})}
            response = await client.get(httpx.URL(url).copy_merge_params(params))
            response.raise_for_status()
            body = response.json()
            for item in body.get("result") or []:
                state.setdefault(item["id"], item)
            token = body.get("next_page_token") or ""
            if not token or not body.get("result"):
                return


async def plain_replier(sim_url: str, access_key: str, topic: str) -> None:
    """The least a Python client can do to auto-reply: each inbound SMS event → one ``POST /messages``."""
    ws_url = sim_url.replace("http://", "ws://", 1) + f"/v1.0/ws?accesskey={access_key}"
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with (
        httpx.AsyncClient(base_url=sim_url, params={"accesskey": access_key}, timeout=10) as http,
        connect(ws_url, compression=None, max_size=None) as source,
    ):
        await source.send(json.dumps({"type": "subscribe", "topics": [topic]}))
        replies = loop.create_task(_reply_each(source, http))
        await asyncio.wait([replies, loop.create_task(stopping.wait())], return_when=asyncio.FIRST_COMPLETED)
        replies.cancel()


async def _reply_each(source: ClientConnection, http: httpx.AsyncClient) -> None:
    tasks: set[asyncio.Task[Any]] = set()
    async for frame in source:
        data = json.loads(frame).get("data", {})
        if data.get("direction") != "inbound":
            continue
        body = {
            "source": data["targets"][0]["destination"],
            "destinations": [data["source"]],
            "text": "Thanks, we got it (auto-reply)",
        }
        task = asyncio.create_task(http.post("/v1.0/messages", json=body))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


def _main() -> None:
    parser = argparse.ArgumentParser(description="The benchmarks' baseline processes.")
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("plain-server")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--upstream", required=True)
    server.add_argument("--topic", required=True)
    server.add_argument("--page", action="store_true", help="answer a plain GET with a tiny page")
    server.add_argument("--resync", default="", help="REST list URL: keep state, send it to each new client")
    replier = commands.add_parser("plain-replier")
    replier.add_argument("--sim-url", required=True)
    replier.add_argument("--access-key", default=DEMO_ACCESS_KEY)
    replier.add_argument("--topic", default=customer_topic("message"))
    options = parser.parse_args()
    if options.command == "plain-server":
        serving = plain_server(
            options.port, options.upstream, options.topic, page=options.page, resync=options.resync
        )
        asyncio.run(serving)
    else:
        asyncio.run(plain_replier(options.sim_url, options.access_key, options.topic))


if __name__ == "__main__":
    _main()
