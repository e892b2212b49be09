"""Several real dashboard processes on PostgreSQL and Redis, fed by the simulator.

PostgreSQL comes from ``TEST_POSTGRES_URL`` (default: the local server's ``test``
database, trust auth); each test module gets a fresh database created there and
dropped after. Redis is a private ``redis-server`` on a free port, so a test may
restart it. A test that restarts PostgreSQL gets a private server of its own
(``postgres_server``), never the shared one. Without either, these tests skip,
except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet

from dashboard.webserver import web_command
from tests.processes import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
POSTGRES_BIN = next(
    (
        Path(found).parent
        for found in [shutil.which("pg_ctl"), *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))]
        if found
    ),
    None,
)


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: multi-process tests may not skip)")
    pytest.skip(reason)


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).is_file():
        unavailable(f"redis-server not found at {REDIS_SERVER}")
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated; its URL."""
    import psycopg

    try:
        admin = psycopg.connect(POSTGRES_URL.replace("postgres://", "postgresql://", 1), autocommit=True)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    name = f"dashboard_mp_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(POSTGRES_URL)._replace(path=f"/{name}"))
    try:
        env = {**os.environ, "DATABASE_URL": url}
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], env=env, check=True, cwd=ROOT
        )
        yield url
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class Deployment:
    """Shared configuration of the web processes: one database, one Redis, one VoIPBIN."""

    database_url: str
    redis: RedisServer
    voipbin_url: str
    var: Path
    secret_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    token_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    processes: list[subprocess.Popen] = field(default_factory=list)
    env_overrides: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "VOIPBIN_BASE_URL": self.voipbin_url,
            "DJANGO_SECRET_KEY": self.secret_key,
            "TOKEN_ENCRYPTION_KEYS": self.token_key,
            "DASHBOARD_VAR_DIR": str(self.var),
            "RELAY_LEASE_SECONDS": "2",
            "RELAY_GRACE_SECONDS": "1",
            "UPSTREAM_BACKOFF_CAP": "1",
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("VOIPBIN_WS_URL", None)
        return {**env, **self.env_overrides}

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def start_manage(self, *args: str) -> subprocess.Popen:
        """A long-running management command (e.g. runrelay), stopped with the deployment."""
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=self.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def start_web(self) -> tuple[int, subprocess.Popen]:
        port = free_port()
        process = subprocess.Popen(web_command("127.0.0.1", port), env=self.env, cwd=ROOT)
        self.processes.append(process)
        wait_for_port(port, process)
        return port, process

    def session_for(self, username: str, token: str) -> str:
        """A signed-in user as the sign-in view would leave them: the session key for the cookie."""
        code = textwrap.dedent(
            f"""
            from django.contrib import auth
            from django.contrib.sessions.backends.db import SessionStore
            from dashboard.simulator.accounts import AGENT_IDS, DEMO_CUSTOMER_ID
            user, _ = auth.get_user_model().objects.update_or_create(
                username={username!r},
                defaults=dict(customer_id=DEMO_CUSTOMER_ID, agent_id=AGENT_IDS[{username!r}],
                              permission=64, voipbin_token={token!r}),
            )
            store = SessionStore()
            store[auth.SESSION_KEY] = str(user.pk)
            store[auth.BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            store[auth.HASH_SESSION_KEY] = user.get_session_auth_hash()
            store.create()
            print(store.session_key)
            """
        )
        return self.manage("shell", "-c", code).strip().splitlines()[-1]

    def stop_all(self) -> None:
        for process in self.processes:
            stop(process)


@pytest.fixture
async def deployment(sim, redis_server, postgres_database, tmp_path) -> Iterator[Deployment]:
    result = Deployment(postgres_database, redis_server, sim.url, tmp_path)
    yield result
    await asyncio.to_thread(result.stop_all)


@dataclass
class PostgresServer:
    """A private PostgreSQL server (trust auth) that a test may stop and start again.

    PostgreSQL refuses to run as root, so under root it runs as ``run_as`` (the ``postgres``
    user) in a directory that user owns. ``stop()`` is a fast shutdown: every connection is cut,
    as in a real restart.
    """

    port: int
    directory: Path
    run_as: str | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _pg(self, program: str, *args: str) -> None:
        command = [str(POSTGRES_BIN / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=self.directory)

    def init(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.directory / "log")
        self._pg("pg_ctl", "start", "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "30")

    def stop(self) -> None:
        self._pg("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "30")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL on a free port, initialised and started; stopped and removed after."""
    if POSTGRES_BIN is None or not (POSTGRES_BIN / "initdb").is_file():
        unavailable("PostgreSQL's initdb and pg_ctl not found")
    run_as = None
    directory = Path(tempfile.mkdtemp(prefix="dashboard-pg-"))
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(directory)
            unavailable("running as root and there is no postgres user to run PostgreSQL as")
        run_as = owner.pw_name
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(free_port(), directory, run_as)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def restartable_deployment(sim, redis_server, postgres_server, tmp_path) -> Iterator[Deployment]:
    """``deployment`` on a fresh, migrated database of the private PostgreSQL, which the test may restart."""
    import psycopg

    with psycopg.connect(
        postgres_server.url.replace("postgres://", "postgresql://", 1), autocommit=True
    ) as admin:
        admin.execute('CREATE DATABASE "dashboard"')
    url = urlunsplit(urlsplit(postgres_server.url)._replace(path="/dashboard"))
    result = Deployment(url, redis_server, sim.url, tmp_path)
    await asyncio.to_thread(result.manage, "migrate", "-v", "0")
    yield result
    await asyncio.to_thread(result.stop_all)
